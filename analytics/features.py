"""One row of features per customer as the CRM knew them at the end of a day T.

The model of time. A feature row at T reads only rows dated on or before T (transactions
booked, interactions held, tickets opened, surveys answered, accounts opened, customers
created before the start of T+1 in Asia/Shanghai), so a model trained on rows at T and
labelled with what happened after T learns nothing it could not have known (the
point-in-time test adds rows after T and checks that nothing changes). Columns that hold
only the current state (lifecycle, tier, account status, income band) are left out: their
value at T is not recorded. A balance at T is the account's balance less the flows booked
after T (what the 360 chart does), which holds while balances and transactions agree; a
balance without transactions (a time deposit, a wealth product) counts from its opening
day. The average daily balance over the 90 days to T follows from the same flows, each
weighted by the days it was in the account.

Everything is computed in PostgreSQL in one statement and read with COPY in binary into a
numpy array (float64, NaN for unknown): at a million customers that is seconds, where
Python objects per value would be minutes.

Labels, each from what happened after T (so T + horizon must be in the past):
- churn: no transaction in the 182 days after T, among customers with a transaction in
  the 180 days before T (closed customers have no transactions, so they count);
- potential: the value tier reached by the average daily balance 365 days later is above
  the one at T. Tier history is not recorded in the CRM, so it is derived from balances
  with today's thresholds (analytics.CustomerValue keeps each night's tier from now on);
- propensity_<kind>: an account of that kind (Account.Kind) opened in the 91 days after T
  by a customer who held none at T.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection
from django.utils.translation import gettext_lazy as _
from psycopg import sql

SHANGHAI = ZoneInfo("Asia/Shanghai")

# How the core system names transactions (customers.demo, customers.simulator, imports):
# a salary credit, and payments that recur by standing order.
SALARY_KINDS = ("工资", "代发工资", "salary", "payroll")
AUTOPAY_KINDS = ("生活缴费", "贷款还款", "自动还款", "utilities", "standing order")
# Accounts that hold the customer's assets (AUM); loans and cards are liabilities.
ASSET_KINDS = ("current", "time_deposit", "wealth", "fund", "insurance")
PRODUCT_KINDS = ("current", "time_deposit", "wealth", "loan", "card")
RISK_RANK = "CASE a.risk_level " + " ".join(f"WHEN 'R{n}' THEN {n}" for n in range(1, 6)) + " END"


@dataclass(frozen=True)
class Feature:
    name: str
    sql: str  # over the CTE columns below; NULL becomes NaN
    label: str  # what it is, for the model page


FEATURES: tuple[Feature, ...] = (
    Feature("age", "extract(year FROM age(%(day)s::date, b.birth_date))", _("Age")),
    Feature("is_corporate", "(b.kind = 'corporate')::int", _("Corporate customer")),
    Feature(
        "tenure_days",
        "%(day)s::date - least(b.created_at AT TIME ZONE 'Asia/Shanghai', h.first_opened)::date",
        _("Days a customer"),
    ),
    Feature("aum", "coalesce(h.aum, 0)", _("Assets at T (CNY)")),
    Feature("aum_adb90", "coalesce(h.aum_adb90, 0)", _("Average daily assets over 3 months (CNY)")),
    Feature(
        "aum_trend",
        "ln((greatest(coalesce(h.aum, 0), 0) + 1000)"
        " / (greatest(coalesce(h.aum_90ago, 0), 0) + 1000))",
        _("Change in assets over 3 months (log ratio)"),
    ),
    Feature("wealth_share", "h.wealth / nullif(h.aum, 0)", _("Share of assets in wealth products")),
    Feature("products", "coalesce(h.products, 0)", _("Products held")),
    Feature("product_kinds", "coalesce(h.kinds, 0)", _("Kinds of product held")),
    Feature("has_current", "coalesce(h.has_current, 0)", _("Current accounts held")),
    Feature("has_time_deposit", "coalesce(h.has_time_deposit, 0)", _("Time deposits held")),
    Feature("has_wealth", "coalesce(h.has_wealth, 0)", _("Wealth products held")),
    Feature("has_loan", "coalesce(h.has_loan, 0)", _("Loans held")),
    Feature("has_card", "coalesce(h.has_card, 0)", _("Cards held")),
    Feature("max_product_risk", "h.max_risk", _("Highest product risk held (R1–R5)")),
    Feature("loan_principal", "h.loan_principal", _("Loans taken (CNY)")),
    Feature("card_limit", "h.card_limit", _("Card limits (CNY)")),
    Feature("tx_30", "coalesce(t.tx_30, 0)", _("Transactions in 30 days")),
    Feature("tx_90", "coalesce(t.tx_90, 0)", _("Transactions in 90 days")),
    Feature(
        "tx_trend",
        "ln((coalesce(t.tx_90, 0) + 1.0) / (coalesce(t.tx_prev90, 0) + 1.0))",
        _("Change in transactions, last 90 days against the 90 before"),
    ),
    Feature(
        "days_since_tx",
        "extract(epoch FROM %(asof)s - t.last_tx) / 86400",
        _("Days since the last transaction"),
    ),
    Feature("credit_90", "coalesce(t.credit_90, 0)", _("Money in over 90 days (CNY)")),
    Feature("debit_90", "coalesce(t.debit_90, 0)", _("Money out over 90 days (CNY)")),
    Feature("salary_90", "coalesce(t.salary_90, 0)", _("Salary credits in 90 days")),
    Feature(
        "days_since_salary",
        "extract(epoch FROM %(asof)s - t.last_salary) / 86400",
        _("Days since the last salary credit"),
    ),
    Feature("autopay_90", "coalesce(t.autopay_90, 0)", _("Automatic payments in 90 days")),
    Feature(
        "digital_share",
        "t.digital_90::float8 / nullif(t.tx_90, 0)",
        _("Share of transactions in the app or online"),
    ),
    Feature(
        "branch_share",
        "t.branch_90::float8 / nullif(t.tx_90, 0)",
        _("Share of transactions at a branch"),
    ),
    Feature("interactions_90", "coalesce(i.n_90, 0)", _("Contacts with the bank in 90 days")),
    Feature(
        "days_since_contact",
        "extract(epoch FROM %(asof)s - i.last_at) / 86400",
        _("Days since the last contact"),
    ),
    Feature("tickets_90", "coalesce(k.n_90, 0)", _("Service tickets in 90 days")),
    Feature("complaints_90", "coalesce(k.complaints_90, 0)", _("Complaints in 90 days")),
    Feature("complaints_365", "coalesce(k.complaints_365, 0)", _("Complaints in a year")),
    Feature("open_tickets", "coalesce(k.open_at_t, 0)", _("Tickets open at T")),
    Feature("csat_avg", "k.csat_avg", _("Average satisfaction score over a year (1–5)")),
    Feature("csat_low", "coalesce(k.csat_low, 0)", _("Dissatisfied survey answers in a year")),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)
FEATURE_LABELS = {f.name: f.label for f in FEATURES}

_HOLDINGS_KIND_COLUMNS = ",\n".join(
    f"count(*) FILTER (WHERE a.kind = '{kind}') AS has_{kind}" for kind in PRODUCT_KINDS
)
_QUOTED = lambda values: ", ".join(f"'{v}'" for v in values)  # noqa: E731 (constants only)

# The statement; %(asof)s is the start of T+1 (Asia/Shanghai), %(day)s the date T.
# {scope} narrows the customers (all, or a list of ids for tests and one-customer pages).
_SQL = f"""
WITH base AS (
    SELECT c.id, c.kind, c.birth_date, c.created_at
      FROM customers_customer c
     WHERE c.created_at < %(asof)s {{scope}}
), acct AS (
    SELECT a.id, a.customer_id, a.kind, a.balance, a.currency, a.opened_on, a.principal,
           a.credit_limit, {RISK_RANK} AS risk
      FROM customers_account a JOIN base b ON b.id = a.customer_id
     WHERE a.opened_on <= %(day)s::date
), flows AS (
    SELECT t.account_id,
           sum(s.amount) FILTER (WHERE t.booked_at >= %(asof)s) AS after_t,
           sum(s.amount) FILTER (WHERE t.booked_at >= %(asof)s - interval '90 days'
                                   AND t.booked_at < %(asof)s) AS last_90,
           sum(s.amount * extract(epoch FROM t.booked_at - (%(asof)s - interval '90 days'))
                        / (90 * 86400.0))
               FILTER (WHERE t.booked_at >= %(asof)s - interval '90 days'
                         AND t.booked_at < %(asof)s) AS weighted_90
      FROM customers_transaction t
      JOIN acct a ON a.id = t.account_id AND a.kind IN ({_QUOTED(ASSET_KINDS)})
      CROSS JOIN LATERAL (SELECT CASE t.direction WHEN 'credit' THEN t.amount
                                 ELSE -t.amount END AS amount) s
     WHERE t.booked_at >= %(asof)s - interval '90 days'
     GROUP BY t.account_id
), holdings AS (
    SELECT a.customer_id,
           sum(bal.at_t) AS aum,
           sum(bal.at_t - coalesce(f.weighted_90, 0)) AS aum_adb90,
           sum(bal.at_t - coalesce(f.last_90, 0)) AS aum_90ago,
           sum(bal.at_t) FILTER (WHERE a.kind IN ('wealth', 'fund', 'insurance')) AS wealth,
           count(*) AS products,
           count(DISTINCT a.kind) AS kinds,
           {_HOLDINGS_KIND_COLUMNS},
           max(a.risk) AS max_risk,
           sum(a.principal) FILTER (WHERE a.kind = 'loan') AS loan_principal,
           sum(a.credit_limit) FILTER (WHERE a.kind = 'card') AS card_limit,
           min(a.opened_on) AS first_opened
      FROM acct a
      LEFT JOIN flows f ON f.account_id = a.id
      CROSS JOIN LATERAL (SELECT CASE WHEN a.kind IN ({_QUOTED(ASSET_KINDS)})
                                       AND a.currency = 'CNY'
                                 THEN a.balance - coalesce(f.after_t, 0) ELSE 0 END AS at_t) bal
     GROUP BY a.customer_id
), tx AS (
    SELECT t.customer_id,
           count(*) FILTER (WHERE t.booked_at >= %(asof)s - interval '30 days') AS tx_30,
           count(*) FILTER (WHERE t.booked_at >= %(asof)s - interval '90 days') AS tx_90,
           count(*) FILTER (WHERE t.booked_at < %(asof)s - interval '90 days'
                              AND t.booked_at >= %(asof)s - interval '180 days') AS tx_prev90,
           max(t.booked_at) AS last_tx,
           sum(t.amount) FILTER (WHERE t.direction = 'credit'
                                   AND t.booked_at >= %(asof)s - interval '90 days') AS credit_90,
           sum(t.amount) FILTER (WHERE t.direction = 'debit'
                                   AND t.booked_at >= %(asof)s - interval '90 days') AS debit_90,
           count(*) FILTER (WHERE t.kind IN ({_QUOTED(SALARY_KINDS)}) AND t.direction = 'credit'
                              AND t.booked_at >= %(asof)s - interval '90 days') AS salary_90,
           max(t.booked_at) FILTER (WHERE t.kind IN ({_QUOTED(SALARY_KINDS)})
                                      AND t.direction = 'credit') AS last_salary,
           count(*) FILTER (WHERE t.kind IN ({_QUOTED(AUTOPAY_KINDS)})
                              AND t.booked_at >= %(asof)s - interval '90 days') AS autopay_90,
           count(*) FILTER (WHERE t.channel IN ('mobile', 'online')
                              AND t.booked_at >= %(asof)s - interval '90 days') AS digital_90,
           count(*) FILTER (WHERE t.channel = 'branch'
                              AND t.booked_at >= %(asof)s - interval '90 days') AS branch_90
      FROM customers_transaction t JOIN base b ON b.id = t.customer_id
     WHERE t.booked_at < %(asof)s AND t.booked_at >= %(asof)s - interval '365 days'
     GROUP BY t.customer_id
), inter AS (
    SELECT x.customer_id,
           count(*) FILTER (WHERE x.occurred_at >= %(asof)s - interval '90 days') AS n_90,
           max(x.occurred_at) AS last_at
      FROM customers_interaction x JOIN base b ON b.id = x.customer_id
     WHERE x.occurred_at < %(asof)s AND x.occurred_at >= %(asof)s - interval '365 days'
     GROUP BY x.customer_id
), tickets AS (
    SELECT k.customer_id,
           count(*) FILTER (WHERE k.created_at >= %(asof)s - interval '90 days') AS n_90,
           count(*) FILTER (WHERE k.category = 'complaint'
                              AND k.created_at >= %(asof)s - interval '90 days') AS complaints_90,
           count(*) FILTER (WHERE k.category = 'complaint'
                              AND k.created_at >= %(asof)s - interval '365 days') AS complaints_365,
           count(*) FILTER (WHERE coalesce(k.resolved_at, k.closed_at, 'infinity') >= %(asof)s)
               AS open_at_t,
           avg(s.score) FILTER (WHERE s.answered_at < %(asof)s
                                  AND s.answered_at >= %(asof)s - interval '365 days') AS csat_avg,
           count(*) FILTER (WHERE s.score <= 2 AND s.answered_at < %(asof)s
                              AND s.answered_at >= %(asof)s - interval '365 days') AS csat_low
      FROM service_ticket k JOIN base b ON b.id = k.customer_id
      LEFT JOIN service_survey s ON s.ticket_id = k.id
     WHERE k.created_at < %(asof)s
       AND coalesce(k.resolved_at, k.closed_at, 'infinity') >= %(asof)s - interval '365 days'
     GROUP BY k.customer_id
)
SELECT b.id::float8, {{columns}}
  FROM base b
  LEFT JOIN holdings h ON h.customer_id = b.id
  LEFT JOIN tx t ON t.customer_id = b.id
  LEFT JOIN inter i ON i.customer_id = b.id
  LEFT JOIN tickets k ON k.customer_id = b.id
 ORDER BY b.id
"""  # noqa: S608 (constants only; values are bound as literals by psycopg.sql)


def start_of_next_day(day: date) -> datetime:
    """The instant a row must be dated before to belong to `day` or earlier (Shanghai)."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=SHANGHAI)


@dataclass
class FeatureFrame:
    """Features at `as_of` for the customers in `ids` (ascending), one row each."""

    as_of: date
    ids: np.ndarray  # int64
    X: np.ndarray  # float64, len(ids) × len(names); NaN = unknown
    names: tuple[str, ...] = FEATURE_NAMES

    def column(self, name: str) -> np.ndarray:
        return self.X[:, self.names.index(name)]


def _columns(features: Sequence[Feature]) -> str:
    return ", ".join(f"coalesce(({f.sql})::float8, 'NaN') AS {f.name}" for f in features)


def _bind(statement: str, params: dict) -> sql.Composed:
    """The statement with `params` as SQL literals: COPY takes no bound parameters."""
    parts = statement.replace("{", "{{").replace("}", "}}")
    for key in params:
        parts = parts.replace(f"%({key})s", "{" + key + "}")
    parts = parts.replace("%%", "%")
    return sql.SQL(parts).format(**{k: sql.Literal(v) for k, v in params.items()})


def copy_floats(statement: str, params: dict, width: int) -> np.ndarray:
    """Runs `SELECT <width float8 columns, none NULL>` through COPY in binary and returns a
    (rows × width) float64 array. Every tuple then has one size, so numpy reads the
    buffer as it is: no Python object per value."""
    buffer = io.BytesIO()
    copy_sql = _bind(f"COPY ({statement}) TO STDOUT (FORMAT binary)", params)
    with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
        for block in copy:
            buffer.write(block)
    data = buffer.getbuffer()
    header, trailer = 19, 2  # signature, flags, extension length; the -1 field count
    row = np.dtype([("n", ">i2"), ("v", [("len", ">i4"), ("x", ">f8")], (width,))])
    count = (len(data) - header - trailer) // row.itemsize
    if header + count * row.itemsize + trailer != len(data):
        raise ValueError("COPY returned tuples of unexpected size (a NULL column?)")
    rows = np.frombuffer(data, dtype=row, count=count, offset=header)
    return rows["v"]["x"].astype(np.float64)


def build_features(as_of: date, *, ids: Sequence[int] | None = None) -> FeatureFrame:
    """Feature rows at the end of `as_of` for every customer created by then (or `ids`)."""
    params = {"asof": start_of_next_day(as_of), "day": as_of}
    scope = ""
    if ids is not None:
        scope = "AND c.id = ANY(%(ids)s)"
        params["ids"] = [int(i) for i in ids]
    statement = _SQL.replace("{scope}", scope).replace("{columns}", _columns(FEATURES))
    values = copy_floats(statement, params, width=1 + len(FEATURES))
    return FeatureFrame(as_of=as_of, ids=values[:, 0].astype(np.int64), X=values[:, 1:])


# ---- labels ---------------------------------------------------------------------------------

CHURN_DAYS = 182
POTENTIAL_DAYS = 365
PROPENSITY_DAYS = 91
LABEL_HORIZON = {"churn": CHURN_DAYS, "potential": POTENTIAL_DAYS}


def horizon_days(name: str) -> int:
    if name.startswith("propensity_"):
        return PROPENSITY_DAYS
    return LABEL_HORIZON[name]


def label_names() -> list[str]:
    return ["churn", "potential", *(f"propensity_{kind}" for kind in PRODUCT_KINDS)]


def _ids_filter(ids: np.ndarray) -> tuple[str, dict]:
    return "c.id = ANY(%(ids)s)", {"ids": [int(i) for i in ids]}


def build_labels(name: str, frame: FeatureFrame) -> tuple[np.ndarray, np.ndarray]:
    """(labels, eligible) for the rows of `frame`: 1.0/0.0 and whether the row belongs in
    the training set for `name` (customers already holding the product are not asked
    whether they will buy it)."""
    start = start_of_next_day(frame.as_of)
    if name == "churn":
        end = start + timedelta(days=CHURN_DAYS)
        recent = np.nan_to_num(frame.column("days_since_tx"), nan=1e9) <= 180
        active_after = _customers_with(
            "SELECT DISTINCT customer_id FROM customers_transaction t JOIN "
            "unnest(%(ids)s::bigint[]) c(id) ON c.id = t.customer_id "
            "WHERE t.booked_at >= %(start)s AND t.booked_at < %(end)s",
            {"ids": [int(i) for i in frame.ids], "start": start, "end": end},
        )
        y = ~np.isin(frame.ids, active_after)
        return y.astype(np.float64), recent
    if name == "potential":
        from analytics.value import tier_ranks  # the thresholds are the value module's

        later = build_features(frame.as_of + timedelta(days=POTENTIAL_DAYS), ids=frame.ids)
        later_aum = dict(zip(later.ids.tolist(), later.column("aum_adb90").tolist(), strict=True))
        now_rank = tier_ranks(np.nan_to_num(frame.column("aum_adb90")))
        then = np.array([later_aum.get(i, np.nan) for i in frame.ids.tolist()])
        then_rank = tier_ranks(np.nan_to_num(then))
        eligible = now_rank < _top_rank()  # the top tier cannot move up
        return (then_rank > now_rank).astype(np.float64), eligible
    if name.startswith("propensity_"):
        kind = name.removeprefix("propensity_")
        if kind not in PRODUCT_KINDS:
            raise ValueError(f"unknown product kind {kind!r}")
        end = start + timedelta(days=PROPENSITY_DAYS)
        opened = _customers_with(
            "SELECT DISTINCT a.customer_id FROM customers_account a JOIN "
            "unnest(%(ids)s::bigint[]) c(id) ON c.id = a.customer_id "
            "WHERE a.kind = %(kind)s AND a.opened_on >= %(first)s AND a.opened_on < %(last)s",
            {
                "ids": [int(i) for i in frame.ids],
                "kind": kind,
                "first": frame.as_of + timedelta(days=1),
                "last": end.date(),
            },
        )
        eligible = frame.column(f"has_{kind}") == 0
        return np.isin(frame.ids, opened).astype(np.float64), eligible
    raise ValueError(f"unknown label {name!r}; known: {', '.join(label_names())}")


def _top_rank() -> int:
    from analytics.value import tier_ranks

    return int(tier_ranks(np.array([1e18]))[0])


def _customers_with(statement: str, params: dict) -> np.ndarray:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
