"""Masking for display, export and logs. Each returns a string safe to show anyone in scope.

Rules (ARCHITECTURE.md): national ID first 3 + last 4; mobile first 3 + last 4; card at
most first 6 + last 4; account last 4. Short or odd input is masked entirely rather than
leaking more than the rule allows.
"""

MASK = "*"


def _keep(value: str, head: int, tail: int) -> str:
    value = "".join(str(value).split())
    if len(value) <= head + tail:
        return MASK * len(value) if value else ""
    return value[:head] + MASK * (len(value) - head - tail) + value[len(value) - tail :]


def mask_national_id(value: str | None) -> str:
    return _keep(value or "", 3, 4)


def mask_mobile(value: str | None) -> str:
    digits = "".join(ch for ch in (value or "") if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return _keep(digits, 3, 4)


def mask_card(value: str | None) -> str:
    digits = "".join(ch for ch in (value or "") if ch.isdigit())
    # Short PANs keep less: never reveal more than half the digits.
    if len(digits) < 14:
        return _keep(digits, 0, 4)
    return _keep(digits, 6, 4)


def mask_account(value: str | None) -> str:
    return _keep(value or "", 0, 4)


def mask_email(value: str | None) -> str:
    local, sep, domain = (value or "").partition("@")
    if not sep:
        return _keep(local, 0, 0)
    return (local[:1] + MASK * max(len(local) - 1, 1)) + "@" + domain


def mask_name(value: str | None) -> str:
    """张三丰 → 张**; John Smith → J*** S****."""
    value = (value or "").strip()
    if not value:
        return ""
    if value.isascii():
        return " ".join(part[:1] + MASK * (len(part) - 1) for part in value.split())
    return value[:1] + MASK * (len(value) - 1)


def mask_address(value: str | None) -> str:
    """The start of an address, which names the province, city and district, then a fixed
    mask that does not tell how long the rest is: 上海市浦东新区世纪大道100号 → 上海市浦东新****."""
    value = " ".join((value or "").split())
    if not value:
        return ""
    keep = min(6, len(value) // 3)
    return value[:keep] + MASK * 4
