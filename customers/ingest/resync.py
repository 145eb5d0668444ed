"""Pulling missed events from a source's feed.

The feed is the source's own record of what it sent: `GET <feed_url>?after=N&limit=M`
answers `{"events": [...]}` with events of sequence > N in order. Requests are signed like
the source's pushes (over `<source>.<timestamp>.<query string>`), and so are the answers
(over the body), so a spoofed feed cannot inject events. Pulled events go through the same
inbox_store as pushed ones, and the cursor moves in the same transaction as each page.
"""

import json
import urllib.error
import urllib.request
from urllib.parse import urlencode

from django.db import transaction

from customers.ingest import signing
from customers.ingest.services import inbox_store, source_advance_cursor
from customers.models.integration import IntegrationSource

PAGE = 1000


class ResyncError(Exception):
    pass


def fetch_page(source: IntegrationSource, after: int, limit: int = PAGE) -> list:
    query = urlencode({"after": after, "limit": limit})
    headers = signing.headers(source.secret, source.code, query.encode())
    if not source.feed_url.startswith(("https://", "http://")):
        raise ResyncError(f"feed URL of {source.code} is not http(s)")
    request = urllib.request.Request(f"{source.feed_url}?{query}", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            body = response.read()
            given = response.headers.get(signing.SIGNATURE_HEADER)
            stamp = response.headers.get(signing.TIMESTAMP_HEADER)
    except (urllib.error.URLError, OSError) as exc:
        raise ResyncError(f"feed of {source.code} unreachable: {exc}") from exc
    try:
        signing.check_timestamp(stamp)
        signing.verify(source.signing_secrets(), source.code, stamp, body, given)
    except signing.SignatureError as exc:
        raise ResyncError(f"feed of {source.code}: {exc.message}") from exc
    try:
        events = json.loads(body)["events"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ResyncError(f"feed of {source.code} answered malformed JSON") from exc
    if not isinstance(events, list):
        raise ResyncError(f"feed of {source.code} answered malformed JSON")
    return events


def resync_source(*, source: IntegrationSource, max_pages: int = 1000) -> dict:
    """Pull everything after the contiguous cursor; returns counts and the new cursor."""
    if not source.feed_url:
        raise ResyncError(f"{source.code} has no feed URL")
    after = source_advance_cursor(source=source)
    pulled = stored = rejected = 0
    for _ in range(max_pages):
        events = fetch_page(source, after)
        if not events:
            break
        with transaction.atomic():
            outcomes = inbox_store(source=source, events=events)
            source_advance_cursor(source=source)
        pulled += len(events)
        stored += sum(o.accepted for o in outcomes)
        rejected += sum(not o.accepted for o in outcomes)
        sequences = [e.get("sequence") for e in events if isinstance(e, dict)]
        highest = max((s for s in sequences if isinstance(s, int)), default=after)
        if highest <= after:
            break  # the feed did not move forward: stop rather than loop
        after = highest
    source.refresh_from_db(fields=["contiguous_sequence"])
    return {
        "pulled": pulled,
        "accepted": stored,
        "rejected": rejected,
        "cursor": source.contiguous_sequence,
    }
