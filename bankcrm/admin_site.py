from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite


class BankAdminSite(OTPAdminSite):
    site_header = _("bankcrm administration")
    site_title = _("bankcrm admin")
    index_title = _("Administration")
    # Django's own admin login would bypass lockout UX and MFA enrolment: use ours.
    login_template = None

    def login(self, request, extra_context=None):
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
