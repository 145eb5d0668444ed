"""Validators for Chinese identifiers; each returns the canonical form or raises."""

import zoneinfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric, uscc


def normalise_national_id(value: str) -> str:
    """Resident identity card number (18 characters, checksum verified)."""
    try:
        return ric.validate(value)
    except stdnum_exceptions.ValidationError:
        raise ValidationError(
            _("Enter a valid resident ID number (18 characters with a correct check digit)."),
            code="invalid_national_id",
        ) from None


def normalise_uscc(value: str) -> str:
    """Unified social credit code of a company (18 characters, checksum verified)."""
    try:
        return uscc.validate(value)
    except stdnum_exceptions.ValidationError:
        raise ValidationError(
            _("Enter a valid unified social credit code."), code="invalid_uscc"
        ) from None


def normalise_mobile(value: str) -> str:
    """Mainland mobile number in E.164 (+8613912345678); other regions need a + prefix."""
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        number = None
    mobile_types = (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    if (
        number is None
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in mobile_types
    ):
        raise ValidationError(_("Enter a valid mobile number."), code="invalid_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(zone)s"), params={"zone": value})
