from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponseRedirect, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bankcrm import home as home_pages
from bankcrm import mfa
from bankcrm.forms import LoginForm, TokenForm
from bankcrm.models import Heartbeat


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
    role = request.user.primary_role
    builder = home_pages.BUILDERS.get(role)
    if builder is None:
        return render(request, "bankcrm/home_no_role.html")
    template, context = builder(request)
    return render(request, template, context)


@require_GET
def health(request):
    """Readiness: database and Redis must answer; worker and beat are reported."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "down"
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
        checks["redis"] = "ok"
    except Exception:
        checks["redis"] = "down"
    checks["worker"] = _worker_status() if checks["redis"] == "ok" else "unknown"
    checks["beat"] = _heartbeat_status("beat") if checks["database"] == "ok" else "unknown"
    checks["scheduled_tasks"] = (
        _heartbeat_status("worker") if checks["database"] == "ok" else "unknown"
    )
    healthy = checks["database"] == "ok" and checks["redis"] == "ok"
    status = "ok" if all(value == "ok" for value in checks.values()) else "degraded"
    return JsonResponse(
        {"status": status if healthy else "down", "checks": checks},
        status=200 if healthy else 503,
    )


def _worker_status() -> str:
    from bankcrm.celery import app

    try:
        replies = app.control.ping(timeout=1.0)
    except Exception:
        return "down"
    return "ok" if replies else "down"


def _heartbeat_status(name: str) -> str:
    age = Heartbeat.age_seconds(name)
    if age is None:
        return "down"
    # Beat stamps every 15 s and schedules the worker's stamp every 30 s: 90 s is late.
    return "ok" if age < 90 else "stale"


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
    return HttpResponseServerError(loader.get_template("500.html").render())
