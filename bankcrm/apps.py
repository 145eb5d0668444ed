from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class BankcrmConfig(AppConfig):
    default = True
    name = "bankcrm"
    verbose_name = _("Organisation and users")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from bankcrm import signals  # noqa: F401 - registers receivers
        from bankcrm.audit import reapply_audit_context

        connection_created.connect(reapply_audit_context, dispatch_uid="bankcrm.audit.context")

        from bankcrm import home, registry
        from bankcrm.roles import Role

        registry.HOME_PAGES.register(home.admin, key=Role.ADMIN)


class BankAdminConfig(admin_apps.AdminConfig):
    # Django admin only for verified (TOTP) staff.
    default = False
    default_site = "bankcrm.admin_site.BankAdminSite"


# Third-party apps under names a bank's administrator reads in their language: the packages
# ship no Chinese catalogue, so the names (and their models' names) are given here.
from auditlog.apps import AuditlogConfig as _AuditlogConfig  # noqa: E402
from axes.apps import AppConfig as _AxesConfig  # noqa: E402
from django_otp.plugins.otp_totp.apps import DefaultConfig as _TotpConfig  # noqa: E402


def _name_models(app_config, names: dict) -> None:
    for model_name, (singular, plural) in names.items():
        meta = app_config.get_model(model_name)._meta
        meta.verbose_name, meta.verbose_name_plural = singular, plural


class AxesConfig(_AxesConfig):
    verbose_name = _("Sign-in lockouts")

    def ready(self) -> None:
        super().ready()
        _name_models(self, {
            "AccessAttempt": (_("failed sign-in attempt"), _("failed sign-in attempts")),
            "AccessFailureLog": (_("failed sign-in"), _("failed sign-ins")),
            "AccessLog": (_("sign-in record"), _("sign-in records")),
            "AccessAttemptExpiration": (_("lockout expiry"), _("lockout expiries")),
        })  # fmt: skip


class AuditlogConfig(_AuditlogConfig):
    """django-auditlog's LogEntry rows from before the data-change trail covered every
    table (issue 17): kept, append-only and chained, readable in admin; nothing writes them
    now (docs/compliance.md, "Data-change trail")."""

    verbose_name = _("Configuration change log")

    def ready(self) -> None:
        super().ready()
        _name_models(self, {"LogEntry": (_("configuration change"), _("configuration changes"))})


class TotpConfig(_TotpConfig):
    verbose_name = _("Two-factor authentication")

    def ready(self) -> None:
        super().ready()
        _name_models(self, {"TOTPDevice": (_("authenticator app"), _("authenticator apps"))})
