"""TOTP enrolment and verification on django-otp."""

import base64

import segno
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from bankcrm.audit import AuditContext, record_security_event
from bankcrm.models import SecurityEvent


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def pending_device(user) -> TOTPDevice:
    """The user's unconfirmed device, created on first visit so reloads keep one QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


def qr_svg(device: TOTPDevice) -> str:
    # Inline SVG (not a script, not an external image) keeps the CSP strict.
    return segno.make(device.config_url, error="m").svg_inline(scale=5, title="TOTP")


def secret_for_display(device: TOTPDevice) -> str:
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _checked(request, device: TOTPDevice, token: str, *, enrolling: bool) -> bool:
    """The code's check, recorded in the audit trail either way (never the code)."""
    ok = device.verify_token(token)
    if ok and enrolling:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    if ok:
        otp_login(request, device)
    kind = SecurityEvent.Kind
    record_security_event(
        (kind.MFA_ENROLLED if enrolling else kind.MFA_VERIFIED) if ok else kind.MFA_FAILED,
        context=AuditContext.of(request),
        user=request.user,
        actor=request.user,
        detail={"device": device.pk},
    )
    return ok


def confirm_device(request, device: TOTPDevice, token: str) -> bool:
    return _checked(request, device, token, enrolling=True)


def verify(request, device: TOTPDevice, token: str) -> bool:
    return _checked(request, device, token, enrolling=False)
