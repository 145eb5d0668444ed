"""Property tests of the integration API from its own OpenAPI document: whatever a source
sends, schema-valid or not, the answer is never a server error, always JSON, and every 4xx
names a machine-readable code; what is accepted is stored exactly once."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from customers.ingest import signing
from customers.ingest.models import InboxEvent, IntegrationSource

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: CI is repeatable
)


def _document() -> dict:
    from customers.ingest.api import api

    return api.get_openapi_schema()


def body_schema(path: str) -> dict:
    """The request body schema of POST `path`, with the components its $refs point to."""
    document = _document()
    operation = document["paths"][path]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]
    return {**ref, "components": document["components"]}


# Any JSON at all: what a broken or hostile sender might put in a body.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


STATUSES = {"accepted": 0}


@pytest.fixture
def source(db):
    return IntegrationSource.objects.create(code="core", name="Core", kind="core_banking")


def send(source, path: str, body: bytes):
    headers = signing.headers(source.secret, source.code, body)
    return Client().post(path, body, content_type="application/json", headers=headers)


def check(response, allowed):
    assert response.status_code < 500, response.content[:500]
    assert response.status_code in allowed, (response.status_code, response.content[:500])
    answer = response.json()
    if response.status_code >= 400:
        assert answer["error"]["code"] and answer["error"]["message"]
    return answer


@PROPERTY
@given(event=from_schema(body_schema("/api/v1/events")))
def test_any_schema_valid_event_is_stored_or_refused_by_rule(source, event):
    response = send(source, "/api/v1/events", json.dumps(event).encode())
    # 409: a sequence or id generated twice; 422: a rule the schema cannot say (a currency
    # code outside ISO 4217, data of another type than `type` names).
    check(response, {202, 409, 422})
    if response.status_code == 202:
        assert InboxEvent.objects.filter(source=source, event_id=event["event_id"]).count() == 1
        STATUSES["accepted"] += 1


def small_batches() -> dict:
    schema = body_schema("/api/v1/events/batch")
    batch = json.loads(json.dumps(schema["components"]["schemas"]["BatchIn"]))
    batch["properties"]["events"]["maxItems"] = 10  # generating 1,000 is slow, not wiser
    schema["components"]["schemas"] = {**schema["components"]["schemas"], "BatchIn": batch}
    return schema


@PROPERTY
@given(batch=from_schema(small_batches()))
def test_any_schema_valid_batch_answers_per_event(source, batch):
    events = batch["events"]
    response = send(source, "/api/v1/events/batch", json.dumps({"events": events}).encode())
    answer = check(response, {200, 422})
    if response.status_code == 200:
        assert [r["index"] for r in answer["results"]] == list(range(len(events)))
        assert answer["accepted"] + answer["rejected"] == len(events)
        for result in answer["results"]:
            assert result["status"] in (202, 409, 422)
            assert (result["error"] is None) == (result["status"] == 202)


@PROPERTY
@given(body=JSON, path=st.sampled_from(["/api/v1/events", "/api/v1/events/batch"]))
def test_any_json_gets_a_clear_client_error(source, body, path):
    response = send(source, path, json.dumps(body).encode())
    check(response, {200, 202, 400, 409, 422})
    if response.status_code == 200:  # a batch: each event refused with its reason
        assert response.json()["accepted"] == 0


@PROPERTY
@given(
    body=st.binary(max_size=200), path=st.sampled_from(["/api/v1/events", "/api/v1/events/batch"])
)
def test_any_bytes_get_a_clear_client_error(source, body, path):
    # (415 for an empty body: the test client then sends no Content-Type.)
    check(send(source, path, body), {400, 415, 422})


def test_the_generated_events_were_not_all_refused():
    """Runs after the property above (file order): schema-valid events do get stored."""
    assert STATUSES["accepted"] >= 5, STATUSES
