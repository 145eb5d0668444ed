"""Authentication backends."""

from django.contrib.auth import backends, get_user_model


class ModelBackend(backends.ModelBackend):
    """Django's backend, loading the signed-in user together with their branch (every page's
    header shows it, which would otherwise cost a query per request), and refusing frozen
    accounts: at sign-in, and on every request of a session that outlived the freeze."""

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and getattr(user, "frozen_at", None) is None

    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = model._default_manager.select_related("branch").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
