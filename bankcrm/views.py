import sys

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseRedirect, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from bankcrm import access, mfa, registry, services
from bankcrm import health as health_checks
from bankcrm.forms import LoginForm, NotificationReadForm, TokenForm
from bankcrm.models import StaffNotification


class LoginView(auth_views.LoginView):
    """Django's login (new session key on success) with our form; axes counts failures."""

    form_class = LoginForm
    template_name = "registration/login.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["expired"] = "expired" in self.request.GET
        return context


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@never_cache
@login_required
def mfa_setup(request):
    """Enrol a TOTP device: show the QR code of an unconfirmed device until a code matches."""
    if mfa.confirmed_device(request.user) is not None:
        return redirect("mfa-verify")
    device = mfa.pending_device(request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if mfa.confirm_device(request, device, form.cleaned_data["token"]):
            messages.success(request, _("Two-factor authentication is set up."))
            return HttpResponseRedirect(_safe_next(request, "/"))
        form.add_error("token", _("That code is not valid. Check the time on your phone."))
    context = {
        "form": form,
        "qr_svg": mfa.qr_svg(device),
        "secret": mfa.secret_for_display(device),
        "next": _safe_next(request, ""),
    }
    return render(request, "registration/mfa_setup.html", context)


@never_cache
@login_required
def mfa_verify(request):
    device = mfa.confirmed_device(request.user)
    if device is None:
        return redirect("mfa-setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if mfa.verify(request, device, form.cleaned_data["token"]):
            return HttpResponseRedirect(_safe_next(request, "/"))
        form.add_error("token", _("That code is not valid. Check the time on your phone."))
    return render(
        request, "registration/mfa_verify.html", {"form": form, "next": _safe_next(request, "")}
    )


@login_required
def home(request):
    builder = registry.HOME_PAGES.get(request.user.primary_role)
    if builder is None:
        return render(request, "bankcrm/home_no_role.html")
    template, context = builder(request)
    return render(request, template, context)


NOTIFICATIONS_PAGE = 25


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request):
    """The user's inbox, newest first. A POST marks one message read and follows its link,
    or, without an id, marks them all read; only the user's own messages are touched (an id
    of someone else's is a 404, recorded as a refusal)."""
    if request.method == "POST":
        form = NotificationReadForm(request.POST)
        if not form.is_valid():
            return HttpResponseRedirect(request.path)
        message_id = form.cleaned_data["id"]
        if message_id is None:
            services.notifications_mark_read(user=request.user)
            return HttpResponseRedirect(request.path)
        message = access.notification_for_user(request.user, message_id)
        services.notifications_mark_read(user=request.user, ids=[message.pk])
        link = message.link
        if link and url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()}):
            return HttpResponseRedirect(link)
        return HttpResponseRedirect(request.path)
    messages_ = StaffNotification.objects.filter(recipient=request.user).order_by(
        "-created_at", "-id"
    )
    page = Paginator(messages_, NOTIFICATIONS_PAGE).get_page(request.GET.get("page"))
    return render(request, "bankcrm/notifications.html", {"page": page})


@require_GET
def health(request):
    """Readiness: 200 when the database and Redis answer; worker and beat are reported."""
    checks = health_checks.run_checks()
    status = health_checks.overall(checks)
    return JsonResponse(
        {"status": status, "checks": checks}, status=503 if status == "down" else 200
    )


def csrf_failure(request, reason=""):
    return render(request, "403_csrf.html", status=403)


def bad_request(request, exception=None):
    return render(request, "400.html", status=400)


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # No context processors: the failure may be in one of them.
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        # The database is down or restarting (settings bound the wait to seconds): a page
        # that says so and when to try again, rather than "something went wrong".
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = "10"
        return response
    return HttpResponseServerError(loader.get_template("500.html").render())
