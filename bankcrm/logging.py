"""Structured logs: one JSON object per line, carrying the request id and user id.

Messages must never contain PII; identifiers are masked before they reach a logger. As a
last line of defence, PiiMaskingFilter masks whatever still looks like an identifier in a
record's message and exception text: an exception's message can carry what a user typed
(a search for a full ID number once reached the server log in four tracebacks).
"""

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
user_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("user_id", default="-")


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.user_id = user_id_var.get()
        return True


# Longest first: a national ID would otherwise be taken for an account number. None starts
# inside a decimal fraction ((?<!\d\.)): a task's runtime, 0.011073721234561147 s, is no
# credit code (seen masked in `make run`'s worker log).
_IDENTIFIERS = [
    # Resident ID numbers (17 digits and a check digit) and unified social credit codes.
    (
        re.compile(r"(?<!\d\.)(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])"),
        r"\1********\2",
    ),
    (
        re.compile(
            r"(?<!\d\.)(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2}\d{6})[0-9A-HJ-NPQRTUWXY]{6}([0-9A-HJ-NPQRTUWXY]{4})(?![0-9A-Z])"
        ),
        r"\1******\2",
    ),
    # Mainland mobiles, with or without +86, written together or in groups.
    (
        re.compile(r"(?<!\d\.)(?<!\d)((?:\+?86[ -]?)?1[3-9]\d)[ -]?\d{4}[ -]?(\d{4})(?!\d)"),
        r"\1****\2",
    ),
    # Card and account numbers: 12 to 30 digits, or groups of four; the last four stay.
    (re.compile(r"(?<!\d\.)(?<!\d)\d{8,26}(\d{4})(?!\d)"), r"****\1"),
    (re.compile(r"(?<!\d)\d{4}(?:[ -]\d{4}){1,5}[ -](\d{1,4})(?!\d)"), r"****\1"),
    (
        re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})"),
        r"\1***@\2",
    ),
]


def mask_identifiers(text: str) -> str:
    for pattern, replacement in _IDENTIFIERS:
        text = pattern.sub(replacement, text)
    return text


class PiiMaskingFilter(logging.Filter):
    """Masks identifiers in the rendered message and the exception text of every record
    (installed on the handlers, so third-party loggers are covered too)."""

    _traceback = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_identifiers(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._traceback.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_identifiers(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "user_id": getattr(record, "user_id", "-"),
        }
        if record.exc_text or record.exc_info:
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
