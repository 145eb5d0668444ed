"""Property tests of the integration API from its own OpenAPI document: whatever a source
sends, schema-valid or not, with hostile headers, NUL characters, deep nesting or times at
the ends of the calendar, the answer is never a server error, always JSON, and every 4xx
names a machine-readable code; what is accepted is stored exactly once, and the worker then
applies or parks it without raising."""

import json
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from customers.ingest import signing
from customers.ingest.schemas import EVENT_TYPES, NO_NUL
from customers.ingest.services import inbox_process
from customers.models.integration import InboxEvent, IntegrationSource

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: CI is repeatable
)
# For inputs refused before anything is parsed or stored: quick to decide, few shapes.
FEWER = settings(PROPERTY, max_examples=30)


def _document() -> dict:
    from customers.ingest.api import api

    return api.get_openapi_schema()


COMPONENTS = _document()["components"]["schemas"]


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = COMPONENTS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


# Times as a source may send them: in the years the API takes, naive or with an offset, and
# one in four outside (the years 1 to 1899 and 2200 to 9999, the ends included).
OFFSETS = (
    st.none()
    | st.just(UTC)
    | st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
)
IN_RANGE = st.datetimes(datetime(1900, 1, 1), datetime(2199, 12, 31, 23, 59, 59), timezones=OFFSETS)
OUT_OF_RANGE = st.datetimes(
    max_value=datetime(1899, 12, 31, 23, 59, 59), timezones=OFFSETS
) | st.datetimes(min_value=datetime(2200, 1, 1), timezones=OFFSETS)
TIMES = st.integers(0, 3).flatmap(lambda n: IN_RANGE if n else OUT_OF_RANGE).map(datetime.isoformat)


# Text as the document allows it: any character but NUL.
TEXT = st.characters(codec="utf-8", exclude_characters="\x00")


def values(schema: dict) -> st.SearchStrategy:
    """Values of a schema of the document, drawn as hypothesis-jsonschema would, faster:
    objects are put together from their properties' strategies, built once (it canonicalises
    an object's properties again at every draw: a batch of ten events took a second), and
    text that only refuses NUL is drawn as such (it draws from the pattern, then filters)."""
    schema = _resolve(schema)
    if schema.get("type") == "object" and "properties" not in schema:  # free JSON (evidence)
        leaves = (
            st.none() | st.booleans() | st.integers(-(10**9), 10**9) | st.text(TEXT, max_size=40)
        )
        return st.dictionaries(st.text(TEXT, max_size=20), leaves, max_size=4)
    if schema.get("type") == "object":
        properties = {name: values(prop) for name, prop in schema["properties"].items()}
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {name: s for name, s in properties.items() if name in required},
            optional={name: s for name, s in properties.items() if name not in required},
        )
    if set(schema) <= {"anyOf", "default", "title", "description"}:  # a choice, no more
        return st.one_of([values(branch) for branch in schema["anyOf"]])
    if schema.get("format") == "date-time":
        return TIMES
    if schema.get("pattern") == NO_NUL and set(schema) <= {
        "type", "pattern", "minLength", "maxLength", "title", "description",
    }:  # fmt: skip
        return st.text(TEXT, min_size=schema.get("minLength", 0), max_size=schema["maxLength"])
    return from_schema(schema)


EVENT_VARIANTS = COMPONENTS["EventIn"]["oneOf"]
EVENTS = st.one_of([values(variant) for variant in EVENT_VARIANTS])
BATCHES = st.lists(EVENTS, min_size=1, max_size=10)  # generating 1,000 is slow, not wiser


def test_the_strategies_follow_the_document():
    """EVENTS is the document's EventIn (one of a variant per type) and BATCHES its BatchIn."""
    assert [_resolve(v)["properties"]["type"]["const"] for v in EVENT_VARIANTS] == list(EVENT_TYPES)
    events = COMPONENTS["BatchIn"]["properties"]["events"]
    assert events["items"] == {"$ref": "#/components/schemas/EventIn"}
    assert events["minItems"] == 1


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


def send(source, path: str, body: bytes, **headers):
    signed = signing.headers(source.secret, source.code, body)
    signed.update(headers)
    return Client().post(path, body, content_type="application/json", headers=signed)


def check(response, allowed):
    assert response.status_code < 500, response.content[:500]
    assert response.status_code in allowed, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    answer = response.json()
    if response.status_code >= 400:
        assert answer["error"]["code"] and answer["error"]["message"]
    return answer


@PROPERTY
@given(event=EVENTS)
def test_any_schema_valid_event_is_stored_or_refused_by_rule(source, event):
    response = send(source, "/api/v1/events", json.dumps(event).encode())
    # 409: a sequence or id generated twice; 422: a rule the schema cannot say (a currency
    # code outside ISO 4217, a time outside the years 1900 to 2199).
    check(response, {202, 409, 422})
    if response.status_code == 202:
        stored = InboxEvent.objects.filter(source=source, event_id=event["event_id"])
        assert stored.count() == 1
        STATUSES["accepted"] += 1
        inbox_process()  # never raises: the event is applied or parked (unknown account...)
        assert stored.get().status in ("applied", "parked"), stored.get().error


@PROPERTY
@given(events=BATCHES)
def test_any_schema_valid_batch_answers_per_event(source, events):
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


@FEWER
@given(
    body=st.binary(max_size=200), path=st.sampled_from(["/api/v1/events", "/api/v1/events/batch"])
)
def test_any_bytes_get_a_clear_client_error(source, body, path):
    # (415 for an empty body: the test client then sends no Content-Type.)
    check(send(source, path, body), {400, 415, 422})


# ---- hostile senders ----------------------------------------------------------------------

HEADER_TEXT = st.text(max_size=80) | st.text(st.characters(min_codepoint=128), min_size=1)
TIMESTAMPS = (
    HEADER_TEXT
    | st.integers(10**12, 10**500).map(str)  # 13 to 500 digits
    | st.integers(-(10**12), 10**12).map(lambda n: f"{n:+d}")
    | st.builds(lambda: str(int(time.time())))  # a good one: the signature is checked
)
SIGNATURES = HEADER_TEXT | HEADER_TEXT.map("v1=".__add__)
HOSTILE_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        signing.SOURCE_HEADER: HEADER_TEXT | st.just("core") | st.just("core\x00"),
        signing.TIMESTAMP_HEADER: TIMESTAMPS,
        signing.SIGNATURE_HEADER: SIGNATURES,
    },
)


@FEWER
@given(headers=HOSTILE_HEADERS, path=st.sampled_from(["/api/v1/events", "/api/v1/events/batch"]))
def test_hostile_headers_get_a_clear_401(source, headers, path):
    body = json.dumps({"events": []}).encode()
    response = Client().post(path, body, content_type="application/json", headers=headers)
    answer = check(response, {401})
    assert answer["error"]["code"] in {
        "missing_source", "unknown_source", "missing_timestamp", "bad_timestamp",
        "stale_timestamp", "missing_signature", "bad_signature",
    }  # fmt: skip
    assert not InboxEvent.objects.exists()


def _strings(value, path=()):
    """The paths of the strings in a JSON value."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))


def _replace(value, path, new):
    if not path:
        return new
    return {**value, path[0]: _replace(value[path[0]], path[1:], new)}


def _get(value, path):
    for key in path:
        value = value[key]
    return value


@PROPERTY
@given(event=EVENTS, when=IN_RANGE.map(datetime.isoformat), data=st.data())
def test_nul_anywhere_in_an_event_is_refused(source, event, when, data):
    """PostgreSQL's text cannot hold NUL: an event carrying one is refused at the door (it
    used to be stored, then stopped the worker for every source)."""
    event = {**event, "occurred_at": when}  # so the envelope's errors are the NUL's alone
    path = data.draw(st.sampled_from(list(_strings(event))))
    text = _get(event, path)
    at = data.draw(st.integers(0, len(text)))
    poisoned = _replace(event, path, text[:at] + "\x00" + text[at:])
    answer = check(send(source, "/api/v1/events", json.dumps(poisoned).encode()), {422})
    assert ".".join(path) in {e["field"] for e in answer["errors"]}, answer
    assert not InboxEvent.objects.exists()


@PROPERTY
@given(event=EVENTS, when=OUT_OF_RANGE.map(datetime.isoformat))
def test_times_out_of_range_are_refused(source, event, when):
    event = {**event, "occurred_at": when}
    answer = check(send(source, "/api/v1/events", json.dumps(event).encode()), {422})
    assert any(e["field"] == "occurred_at" for e in answer["errors"]), answer
    assert not InboxEvent.objects.exists()


@FEWER
@given(
    event=EVENTS,
    depth=st.integers(1, 20_000),
    wrap=st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"events":[', b"]}")]),
    path=st.sampled_from(["/api/v1/events", "/api/v1/events/batch"]),
)
def test_deep_nesting_gets_a_clear_client_error(source, event, depth, wrap, path):
    opening, closing = wrap
    depth = min(depth, 12_000 // len(opening))  # under the 64 KiB of a single event
    body = opening * depth + json.dumps(event).encode() + closing * depth
    check(send(source, path, body), {200, 400, 422})
    assert not InboxEvent.objects.exists() or path.endswith("batch")


def test_the_generated_events_were_not_all_refused():
    """Runs after the property above (file order): schema-valid events do get stored."""
    assert STATUSES["accepted"] >= 5, STATUSES
