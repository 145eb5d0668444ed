"""Admin building blocks every app's admin uses."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Histories that are only ever appended to by the application (consents, risk
    assessments, transactions): admins may look, not edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RequeueMixin:
    """Putting rows back in a queue (replay, send again: bankcrm.outbox.requeue) is a
    change: it needs the model's change permission, even where the admin shows rows
    read-only; viewing is not enough."""

    def has_requeue_permission(self, request) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
