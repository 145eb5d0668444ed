from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class BankcrmConfig(AppConfig):
    default = True
    name = "bankcrm"
    verbose_name = _("Organisation and users")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from bankcrm import signals  # noqa: F401 - registers receivers
        from bankcrm.models import Branch, User

        # Role changes are group-membership changes: record them as m2m changes.
        auditlog.register(User, m2m_fields={"groups"}, exclude_fields=["password", "last_login"])
        auditlog.register(Branch)


class BankAdminConfig(admin_apps.AdminConfig):
    # Django admin only for verified (TOTP) staff.
    default = False
    default_site = "bankcrm.admin_site.BankAdminSite"
