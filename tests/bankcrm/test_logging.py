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
