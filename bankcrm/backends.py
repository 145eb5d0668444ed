"""Authentication backends."""

from django.contrib.auth import backends, get_user_model


class ModelBackend(backends.ModelBackend):
    """Django's backend, loading the signed-in user together with their branch: every page's
    header shows the branch, which would otherwise cost a query per request."""

    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = model._default_manager.select_related("branch").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
