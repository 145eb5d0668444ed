"""Writing the deliveries of a campaign or a journey: one INSERT … SELECT per channel.

Each statement selects the audience (the segment in its owner's scope, or a journey's
customers due today) with the checks of marketing/eligibility.py as one CASE, and inserts a
row per customer: `left_out` with the reason, `control` for the hold-out group, or `pending`
with the variant and the due time (held to the end of the quiet hours for SMS and calls).
`ON CONFLICT DO NOTHING` on the unique (campaign, step, customer, channel) and on the
idempotency key makes the statement safe to repeat: a second launch, or a launch retried
after a crash, writes only what is missing.

The statements of every resolution run under one transaction-level advisory lock, so the
frequency cap, which counts the deliveries already written, sees those of a campaign being
launched at the same moment: two campaigns cannot both take a customer's last slot.

Control group and variants are drawn from a hash of (campaign, customer): a customer is in
the same group on every channel of a campaign, and the draw is repeatable.
"""

from django.db import connection
from django.utils import timezone

from customers.models import Customer
from marketing.access import audience_scope
from marketing.eligibility import Offer, left_out_reason, quiet_until
from marketing.models import Campaign, CampaignStep, Journey, Segment, SegmentMember
from marketing.segments import clean_tree, compile_tree

# pg_advisory_xact_lock key: "mkt-send" as a 64-bit number.
RESOLUTION_LOCK = 0x6D6B742D73656E64

_COLUMNS = (
    "campaign_id, step_id, firing_id, customer_id, channel, variant_id, status, "
    "left_out_reason, held, idempotency_key, attempts, next_attempt_at, last_error, provider, "
    "created_at"
)


def segment_customers(segment: Segment):
    """The customers of a segment, within its owner's scope: conditions for a dynamic
    segment, the kept members for a static list or a snapshot (those who left the owner's
    book drop out)."""
    scope = audience_scope(segment.owner)
    if segment.has_members:
        members = SegmentMember.objects.filter(segment=segment).values("customer_id")
        return scope.filter(pk__in=members)
    return scope.filter(compile_tree(clean_tree(segment.conditions or {})))


def _lock(cursor) -> None:
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RESOLUTION_LOCK])


def _bucket(salt: str) -> str:
    """0–99 from a hash of the salt and the customer's id (s.id)."""
    return f"((hashtextextended('{salt}' || s.id::text, 0) & 9223372036854775807) %% 100)"


# A launch that writes this many rows refreshes the table's statistics before it commits.
ANALYZE_AFTER = 10_000


def resolve_campaign(campaign: Campaign, *, now=None) -> int:
    """Write the campaign's deliveries (inside the caller's transaction); returns how many
    rows were written now (0 when they all existed)."""
    now = now or timezone.now()
    due = max(now, campaign.starts_at or now)
    variants = list(campaign.variants.order_by("code").values_list("pk", "weight"))
    written = 0
    product = campaign.product if campaign.product_id else None
    with connection.cursor() as cursor:
        _lock(cursor)
        for step in CampaignStep.objects.filter(campaign=campaign).order_by("pk"):
            offer = Offer(channel=step.channel, product=product, now=now)
            audience = segment_customers(campaign.segment)
            written += _insert(
                cursor, audience, offer, due=due, now=now,
                ids=(campaign.pk, step.pk, None),
                key=f"'mkt:c{campaign.pk}:s{step.pk}:' || s.id::text",
                control=campaign.control_percent, variants=variants,
                salt=f"c{campaign.pk}",
            )  # fmt: skip
        if written >= ANALYZE_AFTER:
            # The claim (bankcrm.outbox: due pending rows in due order, LIMIT 200) must walk
            # the partial due index. Planned on the statistics of an emptier table, it reads
            # and sorts every due row instead, seconds a claim at a million (the 1M bench:
            # 118 messages a second until autovacuum came round, 520 after). ANALYZE counts
            # this transaction's own rows; its statistics take effect at commit.
            cursor.execute("ANALYZE marketing_delivery")
    return written


def resolve_journey(journey: Journey, firings: list[tuple[int, int]], *, now=None) -> int:
    """Deliveries for the firings just written [(firing id, customer id)], checked like a
    campaign's (inside the caller's transaction)."""
    if not firings:
        return 0
    now = now or timezone.now()
    firing_ids = [f for f, _c in firings]
    customer_ids = [c for _f, c in firings]
    with connection.cursor() as cursor:
        _lock(cursor)
        offer = Offer(channel=journey.channel, now=now)
        audience = Customer.objects.filter(pk__in=customer_ids)
        return _insert(
            cursor, audience, offer, due=now, now=now, ids=(None, None, "f.firing_id"),
            key="'mkt:f' || f.firing_id::text", control=0, variants=[], salt=f"j{journey.pk}",
            firings=(firing_ids, customer_ids),
        )  # fmt: skip


def _insert(cursor, audience, offer: Offer, *, due, now, ids, key, control, variants, salt,
            firings=None) -> int:  # fmt: skip
    held_until = quiet_until(offer.channel, due)
    send_at = held_until or due
    select = audience.order_by().annotate(reason=left_out_reason(offer)).values("pk", "reason")
    inner, params = select.query.sql_with_params()
    campaign_id, step_id, firing = ids
    variant_case, running = "NULL::bigint", 0
    if variants:
        whens = []
        for variant_id, weight in variants:
            running += weight
            whens.append(f"WHEN {_bucket('v' + salt)} < {running} THEN {int(variant_id)}")
        variant_case = f"CASE {' '.join(whens)} ELSE {int(variants[-1][0])} END"
    status = (
        f"CASE WHEN s.reason <> '' THEN 'left_out' "
        f"WHEN {_bucket('k' + salt)} < {int(control)} THEN 'control' ELSE 'pending' END"
    )
    join = ""
    if firings is not None:
        join = (
            "JOIN unnest(%s::bigint[], %s::bigint[]) AS f(firing_id, customer_id) "
            "ON f.customer_id = s.id"
        )
        params = (*params, *firings)
    sql = (
        f"INSERT INTO marketing_delivery ({_COLUMNS}) "  # noqa: S608 - no input in it
        f"SELECT %s, %s, {firing or 'NULL'}, s.id, %s, "
        f"CASE WHEN s.reason = '' THEN {variant_case} END, {status}, s.reason, "
        f"(s.reason = '' AND %s), {key}, 0, %s, '', '', %s "
        f"FROM ({inner}) AS s (id, reason) {join} "
        f"ON CONFLICT DO NOTHING"
    )
    # Parameters in the order they appear: the SELECT list's, the inner query's, the join's.
    args = (campaign_id, step_id, offer.channel, held_until is not None, send_at, now)
    cursor.execute(sql, (*args, *params))
    return cursor.rowcount
