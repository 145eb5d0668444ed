import re
import time
import uuid

from django.conf import settings
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_cache_control, patch_vary_headers
from django.utils.http import urlencode

from bankcrm.logging import request_id_var, user_id_var

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class LivenessMiddleware:
    """Answers /health/live/ before host validation, redirects or sessions: a container
    health check probes 127.0.0.1, which production ALLOWED_HOSTS rightly does not list."""

    PATH = "/health/live/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == self.PATH and request.method in ("GET", "HEAD"):
            return JsonResponse({"status": "ok"})
        return self.get_response(request)


class UnstorableInputMiddleware:
    """A NUL character in any query or form parameter is a 400 before any view runs: no
    text column can store it (PostgreSQL refuses it with an error), no person types it, and
    a view that passes it to a query would answer 500 (issue 16). Views then need not think
    of it. The signed API checks its own JSON bodies."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Form posts only: reading a multipart body here would parse an upload before its
        # view can bound it (customers.imports.UploadLimitHandler); its fields go through
        # forms, whose text fields refuse NUL too.
        posted = request.method == "POST" and request.content_type == (
            "application/x-www-form-urlencoded"
        )
        if not request.path.startswith("/api/") and (
            _holds_nul(request.GET) or (posted and _holds_nul(request.POST))
        ):
            from django.shortcuts import render
            from django.utils.translation import gettext as _

            reason = _(
                "What was sent holds a character no field can store (a NUL byte, usually "
                "from a paste). Nothing was saved: go back, type the value again and retry."
            )
            return render(request, "400.html", {"reason": reason}, status=400)
        return self.get_response(request)


def _holds_nul(params) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in params.lists())


class RequestIdMiddleware:
    """Give every request an id (or accept a sane one from the proxy) for logs and audit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        # Set, not reset afterwards: Django logs 4xx/5xx after the middleware returns, and
        # the next request in this thread overwrites both values first thing.
        request_id_var.set(request.id)
        user_id_var.set("-")
        response = self.get_response(request)
        response["X-Request-ID"] = request.id
        return response


SESSION_STARTED = "_bankcrm_started"
SESSION_SEEN = "_bankcrm_seen"


class SessionTimeoutMiddleware:
    """Ends a session after SESSION_IDLE_SECONDS without a request or SESSION_ABSOLUTE_SECONDS
    after login, whichever comes first. The idle clock restarts with every request.

    The last-seen stamp is rewritten (a session save) at most every `touch_every` seconds,
    a tenth of the idle time and never more than a minute: the idle limit then holds to
    within that, instead of a request just under the interval going uncounted (with a
    60-second limit and a 60-second interval, a page every 45 s signed the user out)."""

    # Rewrite the session row at most this often (a tenth of the idle time if shorter).
    TOUCH_EVERY = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            user_id_var.set(str(user.pk))
            now = int(time.time())
            session = request.session
            started = session.get(SESSION_STARTED, now)
            seen = session.get(SESSION_SEEN, now)
            if (
                now - seen > settings.SESSION_IDLE_SECONDS
                or now - started > settings.SESSION_ABSOLUTE_SECONDS
            ):
                request.logout_reason = "timeout"
                logout(request)
                if request.headers.get("HX-Request"):
                    response = self.get_response(request)
                    response["HX-Redirect"] = reverse("login") + "?expired=1"
                    return response
                return redirect(reverse("login") + "?expired=1")
            if SESSION_STARTED not in session:
                session[SESSION_STARTED] = now
            touch_every = min(self.TOUCH_EVERY, settings.SESSION_IDLE_SECONDS // 10)
            if now - seen >= touch_every or SESSION_SEEN not in session:
                session[SESSION_SEEN] = now
        return self.get_response(request)


# Paths a user who still owes an MFA check may reach.
_MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/health/", "/i18n/")


class MfaRequiredMiddleware:
    """Compliance officers, marketing managers, admins and staff (bankcrm.roles.
    MFA_REQUIRED_ROLES) must pass TOTP before anything else, Django admin included; without
    a device they are sent to enrol."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.mfa_required
            and not user.is_verified()
            and not request.path.startswith(_MFA_EXEMPT_PREFIXES)
        ):
            from django_otp import devices_for_user

            has_device = any(True for _ in devices_for_user(user, confirmed=True))
            target = reverse("mfa-verify" if has_device else "mfa-setup")
            return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


class LocaleMiddleware:
    """zh-Hans unless the user chose otherwise with the language switcher (cookie).

    Django's own LocaleMiddleware would follow the browser's Accept-Language; bank staff
    machines are often set up in English, and the bank's working language is Chinese.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        try:
            language = translation.get_supported_language_variant(chosen) if chosen else None
        except LookupError:
            language = None
        language = language or settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ["Cookie"])
        response.headers.setdefault("Content-Language", language)
        return response


class NoStoreMiddleware:
    """Pages for a signed-in user may show customer data: no browser or proxy may keep them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
            patch_cache_control(response, no_store=True, private=True)
        return response


class AuditContextMiddleware:
    """For requests that may write (not GET/HEAD/OPTIONS, not the signed API whose workers
    write later): tell the database's audit triggers the user, IP and request id, and clear
    it afterwards, since the connection goes back to the pool."""

    SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in self.SAFE or request.path.startswith("/api/"):
            return self.get_response(request)
        from bankcrm.audit import clear_audit_context, client_ip, set_audit_context

        user = getattr(request, "user", None)
        set_audit_context(
            actor_id=user.pk if user is not None and user.is_authenticated else None,
            label="web",
            ip=client_ip(request),
            request_id=getattr(request, "id", ""),
        )
        try:
            return self.get_response(request)
        finally:
            clear_audit_context()


class RefusedAccessMiddleware:
    """Records every refused access of a signed-in user (a 404 raised by an app's access
    function, any 403) as a security event (bankcrm.access). Other 404s (a mistyped URL)
    are not about anyone's data."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.core.exceptions import PermissionDenied

        from bankcrm.access import NotFoundForUser
        from bankcrm.audit import AuditContext, record_refusal

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        seen = {"user": user, "context": AuditContext.of(request), "path": request.path,
                "method": request.method}  # fmt: skip
        if isinstance(exception, NotFoundForUser):
            record_refusal(
                status=404, object_type=exception.object_type, object_id=exception.object_id,
                **seen,
            )  # fmt: skip
        elif isinstance(exception, PermissionDenied):
            match = getattr(request, "resolver_match", None)
            kwargs = match.kwargs if match else {}
            record_refusal(status=403, object_id=str(kwargs.get("pk", ""))[:50], **seen)
        return None  # Django answers the 404 or 403 as usual
