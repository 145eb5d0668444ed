from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("Compliance")

    def ready(self) -> None:
        from bankcrm import home
        from bankcrm.audit import access_recorded, access_refused
        from bankcrm.roles import Role
        from compliance import home as compliance_home
        from compliance.anomalies import on_access_recorded, on_access_refused

        access_recorded.connect(on_access_recorded, dispatch_uid="compliance.anomalies")
        access_refused.connect(on_access_refused, dispatch_uid="compliance.anomalies.refused")
        home.BUILDERS[Role.COMPLIANCE_OFFICER] = compliance_home.compliance
