import json
import logging

import pytest

from bankcrm.logging import JsonFormatter, RequestContextFilter


@pytest.mark.django_db
def test_log_lines_are_json_with_the_request_id(client, rm, login, caplog):
    login(rm)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/missing-page/", HTTP_X_REQUEST_ID="req-12345678")
    assert response["X-Request-ID"] == "req-12345678"
    record = next(r for r in caplog.records if r.name == "django.request")
    RequestContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-12345678"
    assert line["user_id"] == str(rm.pk)
    assert line["level"] == "WARNING"


def test_a_forged_request_id_is_replaced(client, db):
    response = client.get("/health/", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


def _line(record: logging.LogRecord) -> str:
    from bankcrm.logging import PiiMaskingFilter

    RequestContextFilter().filter(record)
    PiiMaskingFilter().filter(record)
    return JsonFormatter().format(record)


def test_identifiers_in_messages_and_tracebacks_are_masked():
    """Issue 16, item 18: a 500's traceback carried the search text, so a full ID number
    reached the server log. Whatever still looks like an identifier is masked."""
    typed = "110105194912310021 13812345678 wang.xm@example.cn 6222021234567890123"
    try:
        int(typed)
    except ValueError:
        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "search for %s failed", (typed,),
            exc_info=__import__("sys").exc_info(),
        )  # fmt: skip
    line = _line(record)
    for secret in ("110105194912310021", "13812345678", "wang.xm@", "6222021234567890123"):
        assert secret not in line, secret
    entry = json.loads(line)
    assert "110105********0021" in entry["msg"] and "138****5678" in entry["msg"]
    assert "w***@example.cn" in entry["msg"] and "****0123" in entry["msg"]
    assert "110105********0021" in entry["exc"] and "ValueError" in entry["exc"]


def test_the_mask_leaves_ordinary_log_text_alone():
    record = logging.LogRecord(
        "bankcrm", logging.INFO, __file__, 1, "swept %s tickets in %s ms at 2026-12-02", (1234, 56),
        None,
    )  # fmt: skip
    assert json.loads(_line(record))["msg"] == "swept 1234 tickets in 56 ms at 2026-12-02"


def test_a_decimal_fraction_is_not_taken_for_an_identifier():
    """Celery logs a task's runtime with 18 decimals: no credit code, card or mobile."""
    from bankcrm.logging import mask_identifiers

    line = "Task x succeeded in 0.011073721234561147s; 0.13912345678 ms; id 11010519491231002X"
    assert mask_identifiers(line) == (
        "Task x succeeded in 0.011073721234561147s; 0.13912345678 ms; id 110105********002X"
    )


@pytest.mark.django_db
def test_the_console_handler_masks(caplog):
    from django.conf import settings

    assert "mask_pii" in settings.LOGGING["handlers"]["console"]["filters"]
