"""The integration API (/api/v1/), its OpenAPI document (/api/schema) and docs (/api/docs).

Bodies are read raw: the signature covers the exact bytes, so it is checked before anything
is parsed, and events are validated one by one so a batch answers per event. Every error is
`{"error": {"code", "message", "field"}}` with a 4xx status.
"""

import json
import re

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404, HttpRequest, JsonResponse
from ninja import NinjaAPI, Status
from ninja.errors import HttpError

from bankcrm.cache import TTLCache
from customers.ingest import schemas, services, signing
from customers.models.integration import IntegrationSource

MAX_SINGLE_BYTES = 64 * 1024
MAX_BATCH_BYTES = 2 * 1024 * 1024

DESCRIPTION = f"""
Source systems (core banking, cards, payments, the app) push events here. Each source is
configured in the admin with a signing secret. Every request carries three headers:

* `{signing.SOURCE_HEADER}`: the source's code;
* `{signing.TIMESTAMP_HEADER}`: Unix seconds, within {signing.TOLERANCE} s of the server;
* `{signing.SIGNATURE_HEADER}`: `v1=` + hex HMAC-SHA256 with the secret over
  `<source>.<timestamp>.<raw body>` (for GET: the query string as the body).

An event is stored durably before the 2xx answer. Sending it again with the same body answers
the same; the same `event_id` with another body is 409. Times without an offset are read in
the source's configured time zone.

What is accepted can be applied: lengths and amounts are those of the columns the values are
stored in, text cannot contain NUL (U+0000), times lie in the years
{schemas.EARLIEST_YEAR} to {schemas.LATEST_YEAR}. Every error is a 4xx with
`{{"error": {{"code", "message", "field"}}}}`.
"""


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_response(status: int, details: list[dict]) -> JsonResponse:
    return JsonResponse({"error": details[0], "errors": details}, status=status)


class IngestAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        # Request bodies are documented from the pydantic models (they are read raw).
        components = schema["components"]["schemas"]
        for model in (schemas.EventIn, schemas.BatchIn):
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body.pop("$defs", {}))
            components[model.__name__] = body
        # An event is one of the types, each with its own data: say so, so that clients (and
        # generated tests) see which data goes with which type.
        envelope = components.pop("EventIn")
        variants = {}
        for event_type, data in schemas.EVENT_TYPES.items():
            name = f"{data.__name__}Event"
            components[name] = {
                **envelope,
                "title": name,
                "properties": {
                    **envelope["properties"],
                    "type": {"const": event_type, "title": "Type", "type": "string"},
                    "data": {"$ref": f"#/components/schemas/{data.__name__}"},
                },
            }
            variants[event_type] = f"#/components/schemas/{name}"
        components["EventIn"] = {
            "title": "EventIn",
            "description": envelope["description"],
            "oneOf": [{"$ref": ref} for ref in variants.values()],
            "discriminator": {"propertyName": "type", "mapping": variants},
            "example": envelope.get("example"),
        }
        return schema


api = IngestAPI(
    title="bankcrm integration API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    openapi_url="/schema",
    docs_url="/docs",
)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return error_response(
        exc.status, [{"code": exc.code, "message": exc.message, "field": exc.field}]
    )


@api.exception_handler(signing.SignatureError)
def _signature_error(request, exc: signing.SignatureError):
    return error_response(exc.status, [{"code": exc.code, "message": exc.message, "field": None}])


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    code = {405: "method_not_allowed", 404: "not_found"}.get(exc.status_code, "bad_request")
    return error_response(exc.status_code, [{"code": code, "message": str(exc), "field": None}])


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(404, [{"code": "not_found", "message": "Not found.", "field": None}])


# Sources by code, for a few seconds: every request needs one, and reading it (and decrypting
# its secrets) cost more than the rest of storing a single event. A change made in this
# process (admin, rotation) clears it at once; other processes see it within the TTL.
SOURCE_CACHE_SECONDS = 5
_sources = TTLCache[IntegrationSource](SOURCE_CACHE_SECONDS)


def _enabled_source(code: str) -> IntegrationSource | None:
    # Unknown codes are not kept (a miss is not cached): anyone can send those.
    return _sources.get(code, IntegrationSource.objects.filter(code=code, enabled=True).first)


@receiver([post_save, post_delete], sender=IntegrationSource)
def _forget_sources(**kwargs) -> None:
    _sources.forget()


# What a source's code can be (IntegrationSource.code, a slug): anything else is unknown
# without a query, whatever bytes it holds.
_SOURCE_CODE = re.compile(
    rf"[-a-zA-Z0-9_]{{1,{IntegrationSource._meta.get_field('code').max_length}}}"
)


def authenticate(request: HttpRequest, *, max_bytes: int, signed: bytes | None = None):
    """The signing source, after the size, timestamp and signature checks (in that order,
    cheapest first; nothing is parsed before the signature matches). The signature covers
    the body, or `signed` if given (a GET's query string); `max_bytes` bounds the body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes:
        raise ApiError(413, "body_too_large", f"The body is over {max_bytes} bytes.")
    code = request.headers.get(signing.SOURCE_HEADER)
    if not code:
        raise ApiError(401, "missing_source", f"{signing.SOURCE_HEADER} is required.")
    stamp = request.headers.get(signing.TIMESTAMP_HEADER)
    signing.check_timestamp(stamp)
    source = _enabled_source(code) if _SOURCE_CODE.fullmatch(code) else None
    if source is None:
        raise ApiError(401, "unknown_source", f"No enabled source {code!r}.")
    body = request.body
    if len(body) > max_bytes:
        raise ApiError(413, "body_too_large", f"The body is over {max_bytes} bytes.")
    signing.verify(
        source.signing_secrets(),
        code,
        stamp,
        body if signed is None else signed,
        request.headers.get(signing.SIGNATURE_HEADER),
    )
    return source


def _json(request):
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send Content-Type: application/json.")
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"The body is not valid JSON: {exc}") from None
    except RecursionError:  # arrays or objects nested about a thousand deep
        raise ApiError(400, "too_deeply_nested", "The JSON is nested too deeply.") from None


_ERRORS = {
    400: schemas.ErrorOut,
    401: schemas.ErrorOut,
    409: schemas.ErrorOut,
    413: schemas.ErrorOut,
    415: schemas.ErrorOut,
    422: schemas.ErrorOut,
}


def _body(model) -> dict:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


@api.post(
    "/v1/events",
    response={202: schemas.EventAccepted, **_ERRORS},
    openapi_extra=_body(schemas.EventIn),
    summary="Push one event",
)
def post_event(request):
    source = authenticate(request, max_bytes=MAX_SINGLE_BYTES)
    raw = _json(request)
    (outcome,) = services.inbox_store(source=source, events=[raw])
    if not outcome.accepted:
        return error_response(outcome.status, outcome.errors)
    return Status(
        202, {"event_id": outcome.event_id, "sequence": raw["sequence"], "result": "accepted"}
    )


@api.post(
    "/v1/events/batch",
    response={200: schemas.BatchOut, **_ERRORS},
    openapi_extra=_body(schemas.BatchIn),
    summary="Push up to 1,000 events",
)
def post_batch(request):
    source = authenticate(request, max_bytes=MAX_BATCH_BYTES)
    raw = _json(request)
    events = raw.get("events") if isinstance(raw, dict) else None
    if not isinstance(events, list) or not events:
        raise ApiError(422, "missing_field", 'A batch is {"events": [...]}.', "events")
    if len(events) > schemas.MAX_BATCH:
        raise ApiError(
            422, "batch_too_large", f"At most {schemas.MAX_BATCH} events per batch.", "events"
        )
    outcomes = services.inbox_store(source=source, events=events)
    results = [
        {
            "index": o.index,
            "event_id": o.event_id if isinstance(o.event_id, str) else None,
            "status": o.status,
            "result": "accepted" if o.accepted else "rejected",
            "error": o.error,
        }
        for o in outcomes
    ]
    accepted = sum(o.accepted for o in outcomes)
    return Status(
        200, {"accepted": accepted, "rejected": len(outcomes) - accepted, "results": results}
    )


@api.get(
    "/v1/sources/{code}/state",
    response={200: schemas.SourceState, **_ERRORS},
    summary="A source's sequence, lag and backlog",
)
def source_state(request, code: str):
    # WSGI hands the query string over as bytes decoded as Latin-1: these are the bytes sent.
    query = request.META.get("QUERY_STRING", "").encode("iso-8859-1")
    source = authenticate(request, max_bytes=0, signed=query)
    if source.code != code:
        raise Http404  # a source reads only its own state
    return Status(200, services.source_state(source))
