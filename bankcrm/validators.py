"""Validators for Chinese identifiers; each returns the canonical form or raises."""

import functools
import zoneinfo
from datetime import date

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum import exceptions as stdnum_exceptions
from stdnum import numdb
from stdnum.cn import ric, uscc


def normalise_national_id(value: str, *, today: date | None = None) -> str:
    """Resident identity card number: 18 characters, canonical (upper-case X).

    Each rule refuses with its own message, so whoever typed the number knows what to look
    at. The region code (digits 1–6) is the office that issued the number, which may be newer
    than the holder: people born in Pudong before 1992 carry 310115, the code Pudong New Area
    got in 1992. python-stdnum refuses such numbers (it wants the code in use in the birth
    year) and raises KeyError for a known province with an unknown county; here a region code
    is refused only if it is unknown, or was retired before the holder was born.
    """
    number = ric.compact(value)
    if len(number) != 18:
        raise ValidationError(
            _("A resident ID number has 18 characters; this one has %(count)d."),
            code="national_id_length",
            params={"count": len(number)},
        )
    if not (number[:17].isdecimal() and number[:17].isascii()) or number[17] not in _CHECK_CHARS:
        raise ValidationError(
            _("A resident ID number is 17 digits followed by a digit or X."),
            code="national_id_format",
        )
    if number[17] != ric.calc_check_digit(number):
        raise ValidationError(
            _("The check digit (the last character) does not match the first 17 digits."),
            code="national_id_check_digit",
        )
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("Digits 7–14 of the ID number are not a date (YYYYMMDD)."),
            code="national_id_birth_date",
        ) from None
    if born > (today or timezone.localdate()):
        raise ValidationError(
            _("The birth date in the ID number (digits 7–14) is in the future."),
            code="national_id_birth_date",
        )
    periods = _region_periods(number[:6])
    if periods is None:
        raise ValidationError(
            _("The region code of the ID number (its first six digits) is not a known region."),
            code="national_id_region",
        )
    if not any(end is None or end >= born.year for _start, end in periods):
        raise ValidationError(
            _(
                "The region code of the ID number (its first six digits) was retired before "
                "the birth year the number gives."
            ),
            code="national_id_region_retired",
        )
    return number


_CHECK_CHARS = frozenset("0123456789X")


@functools.lru_cache(maxsize=8192)
def _region_periods(code: str) -> tuple[tuple[int | None, int | None], ...] | None:
    """The years a six-digit region code was in use, from python-stdnum's table of Chinese
    administrative divisions (an open end is None); None for a code it does not know."""
    info: dict[str, str] = {}
    for _part, props in numdb.get("cn/loc").info(code):
        info.update(props)
    county = info.get("county")
    if not county:
        return None
    periods = []
    for entry in county.split(","):
        start = end = None
        if entry.startswith("[") and "]" in entry:
            first, _sep, last = entry[1 : entry.index("]")].partition("-")
            start, end = (int(first) if first else None), (int(last) if last else None)
        periods.append((start, end))
    return tuple(periods)


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
