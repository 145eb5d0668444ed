from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite


class BankAdminSite(OTPAdminSite):
    site_header = _("bankcrm administration")
    site_title = _("bankcrm admin")
    index_title = _("Administration")

    def login(self, request, extra_context=None):
        # One login page for the whole site (lockout, MFA enrolment); signed-in users
        # without admin rights get a plain "access denied".
        if request.user.is_authenticated:
            raise PermissionDenied
        return redirect_to_login(request.GET.get("next", request.get_full_path()))
