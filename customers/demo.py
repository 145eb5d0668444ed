"""Realistic demo data for bankcrm, loaded with PostgreSQL COPY.

Everything is derived from (seed, customer index), so a second run computes the same
customers, finds their CIF numbers present and adds nothing; a larger --customers adds only
the new ones. Identifiers are encrypted, blind-indexed and masked exactly as the application
does it; no plaintext identifier reaches the database.

It runs as customers/'s seeder of bankcrm.demo (the organisation is seeded first, by core),
in one transaction in the audit context `demo`. Ids are taken from the tables'
sequences up front, so every row is written once, complete, in one COPY per table (no
read-back of ids, no UPDATE afterwards). Customers and holdings are recorded in the audit
trail as one entry per table (compliance.demo.recorded_as_one_load says why and how,
reached through bankcrm.demo.Demo.recorded_as_one_load);
everything else goes through the audit triggers row by row.
"""

from __future__ import annotations

import json
import random
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache, lru_cache

from django.db import connection, transaction
from django.utils import timezone
from faker import Faker
from stdnum.cn import ric, uscc

from bankcrm import crypto, masking
from bankcrm.demo import BRANCHES, DEMO_BRANCH, GIVEN, SHANGHAI, SURNAMES, Demo, _rng
from customers.models import (
    ACCOUNT_NUMBER_INDEX,
    MOBILE_INDEX,
    NATIONAL_ID_INDEX,
    Account,
    Customer,
    Household,
    IntegrationSource,
)
from customers.simulator import app_user_id, core_customer_ref

# Integration sources of the demo (simulate_core_banking signs with these by default).
DEMO_SOURCES = {
    "core": ("核心银行系统", "core_banking", "Bankcrm-Demo-Core-Secret-2026"),
    "app": ("手机银行", "app", "Bankcrm-Demo-App-Secret-2026"),
}


# Resident ID region codes of the branches' cities.
REGIONS = {
    "SH": ["310101", "310104", "310105"],
    "BJ": ["110101", "110105", "110108"],
    "SZ": ["440303", "440304", "440305"],
    "GZ": ["440103", "440106"],
    "CD": ["510104", "510107"],
    "WH": ["420102", "420106"],
}
BIRTHPLACES_ELSEWHERE = ["510121", "310101", "110101"]

DEMO_RM_BOOKS = {"rm": 150, "rm2": 100}  # the first customers go to the demo RMs

# What RMs write after a contact, by subject: needs (大额存单, 留学贷款 … the products
# analytics suggests from notes), praise and complaints (their sentiment), a few in English.
INTERACTION_NOTES = {
    "理财产品到期提醒": [
        "客户理财产品下周到期，有意续投，关注养老理财，请准备产品说明。",
        "客户对上期理财收益很满意，愿意继续购买稳健型产品。",
        "客户抱怨上期理财收益低于预期，考虑把资金转到他行。",
        "",
    ],
    "到店咨询大额存单": [
        "客户到店咨询三年期大额存单利率，计划下月存入。",
        "客户排队等了四十分钟，对网点服务很不满意。",
        "客户对大堂经理的讲解很满意，当场预约了大额存单。",
    ],
    "咨询信用卡分期": [
        "客户咨询信用卡分期手续费，准备购买家电。",
        "客户认为分期手续费太高，表示不满。",
        "The customer asked about paying a purchase off in instalments on the credit card.",
    ],
    "手机银行转账限额咨询": [
        "客户反映手机银行转账限额太低，操作很不方便。",
        "已协助客户调整转账限额，客户表示感谢。",
        "The customer asked how to raise the daily transfer limit in the app.",
    ],
    "KYC 资料更新提醒": [
        "提醒客户更新身份证有效期，客户约定本周到网点办理。",
        "客户孩子明年出国读书，咨询留学贷款和外汇购汇。",
        "",
    ],
    "季度资产报告": [
        "已发送季度资产报告，客户关注教育金规划。",
        "客户计划明年买房，咨询房贷利率。",
        "Quarterly statement sent; the customer was pleased with the service and thanked us.",
    ],
}

MOBILE_PREFIXES = ["138", "139", "135", "136", "150", "151", "158", "186", "188", "189", "177"]
TAGS = ["代发工资", "高净值", "小微企业主", "养老金", "跨境", "房贷客户", "信用卡活跃", "理财偏好"]
OCCUPATIONS = [
    "工程师",
    "教师",
    "医生",
    "公务员",
    "个体经营",
    "企业高管",
    "销售",
    "退休",
    "自由职业",
]
TRANSACTION_KINDS = [
    # kind, direction, channel, low, high
    ("工资", "credit", "transfer", 6000, 40000),
    ("转账收入", "credit", "mobile", 200, 20000),
    ("转账支出", "debit", "mobile", 100, 15000),
    ("消费", "debit", "pos", 20, 3000),
    ("网购", "debit", "online", 15, 2000),
    ("取现", "debit", "atm", 100, 3000),
    ("理财申购", "debit", "mobile", 10000, 200000),
    ("理财赎回", "credit", "mobile", 10000, 200000),
    ("贷款还款", "debit", "transfer", 1500, 12000),
    ("柜面存款", "credit", "branch", 1000, 50000),
]
BANK, WEALTH = "本行", "鑫源理财有限公司"
FUND_HOUSE, INSURER = "东方汇智基金管理有限公司", "安康人寿保险股份有限公司"
# The demo catalogue: what the holdings hold (the names of ACCOUNT_KINDS; the same codes as
# migration 0014, which links databases loaded before the catalogue) and products on offer.
# code, name_zh, name_en, kind, issuer, risk, min amount, term days, eligible kinds,
# min tier, private placement, status, sale window (days from today; None: open).
DEMO_PRODUCTS = [
    ("DEP-CUR-01", "借记卡活期账户", "Debit card current account", "current_deposit", BANK, 1,
     "0", None, "both", "mass", False, "on_sale", None),
    ("DEP-CUR-02", "工资卡账户", "Payroll account", "current_deposit", BANK, 1, "0", None,
     "individual", "mass", False, "on_sale", None),
    ("DEP-TD-1Y", "一年期整存整取", "One-year fixed deposit", "time_deposit", BANK, 1, "50", 365,
     "both", "mass", False, "on_sale", None),
    ("DEP-CD-3Y", "三年期大额存单", "Three-year certificate of deposit", "time_deposit", BANK, 1,
     "200000", 1095, "both", "mass", False, "on_sale", None),
    ("DEP-TD-6M", "六个月定期", "Six-month time deposit", "time_deposit", BANK, 1, "50", 182,
     "both", "mass", False, "on_sale", None),
    ("LN-MORT", "个人住房贷款", "Residential mortgage", "loan", BANK, 1, "0", None, "individual",
     "mass", False, "on_sale", None),
    ("LN-CONS", "个人消费贷款", "Personal consumer loan", "loan", BANK, 1, "0", None,
     "individual", "mass", False, "on_sale", None),
    ("LN-BIZ", "经营性贷款", "Business loan", "loan", BANK, 1, "0", None, "both", "mass", False,
     "on_sale", None),
    ("CC-GOLD", "金卡信用卡", "Gold credit card", "credit_card", BANK, 1, "0", None,
     "individual", "mass", False, "on_sale", None),
    ("CC-PLAT", "白金信用卡", "Platinum credit card", "credit_card", BANK, 1, "0", None,
     "individual", "affluent", False, "on_sale", None),
    ("CC-STD", "标准信用卡", "Standard credit card", "credit_card", BANK, 1, "0", None,
     "individual", "mass", False, "on_sale", None),
    ("WM-30D", "稳健理财30天", "Steady wealth product, 30 days", "wealth", WEALTH, 2, "10000",
     30, "both", "mass", False, "on_sale", None),
    ("WM-NAV-R2", "净值型理财R2", "NAV wealth product (R2)", "wealth", WEALTH, 2, "10000", None,
     "both", "mass", False, "on_sale", None),
    ("FD-MMF", "货币基金", "Money market fund", "fund", FUND_HOUSE, 1, "1", None, "both", "mass",
     False, "on_sale", None),
    ("INS-ANN", "年金保险", "Annuity insurance", "insurance", INSURER, 2, "10000", 3650,
     "individual", "mass", False, "on_sale", None),
    ("WM-R3-1Y", "稳健增利一年期理财", "Balanced income wealth product, 1 year", "wealth", WEALTH,
     3, "10000", 365, "both", "mass", False, "on_sale", (-10, 20)),
    ("WM-R4-EQ", "权益增强型理财", "Equity-enhanced wealth product", "wealth", WEALTH, 4,
     "10000", 730, "both", "affluent", False, "draft", None),
    ("SD-GOLD-91", "挂钩黄金结构性存款（91天）", "Gold-linked structured deposit, 91 days",
     "structured_deposit", BANK, 2, "50000", 91, "both", "mass", False, "on_sale", (-60, -5)),
    ("FD-CSI300", "沪深300指数基金", "CSI 300 index fund", "fund", FUND_HOUSE, 4, "1000", None,
     "both", "mass", False, "on_sale", None),
    ("FD-TECH", "科技成长混合基金", "Technology growth hybrid fund", "fund", FUND_HOUSE, 5, "1000",
     None, "individual", "mass", False, "suspended", None),
    ("PE-XX-01", "鑫享私募股权一期", "Xinxiang private equity fund I", "fund", WEALTH, 5,
     "1000000", 1825, "individual", "private", True, "on_sale", (-30, 60)),
    ("BD-SAV-3Y", "三年期储蓄国债（电子式）", "Three-year savings bond (electronic)", "bond",
     "财政部", 1, "100", 1095, "individual", "mass", False, "on_sale", (-3, 7)),
    ("PM-GOLD", "积存金", "Gold accumulation plan", "precious_metal", BANK, 3, "500", None,
     "individual", "mass", False, "on_sale", None),
]  # fmt: skip
# The documents of the products on offer: (code, kind, versions).
DEMO_DOCUMENTS = [
    ("WM-R3-1Y", "description", 1), ("WM-R3-1Y", "risk_disclosure", 2),
    ("PE-XX-01", "description", 1), ("PE-XX-01", "risk_disclosure", 1),
    ("FD-CSI300", "risk_disclosure", 1), ("SD-GOLD-91", "description", 1),
]  # fmt: skip
# A customer's risk tolerance C1-C5 (60% of customers have one) and its lowest score band
# in questionnaire version 2 (migration 0013: 5 questions scored 1-4).
TOLERANCE_WEIGHTS = [18, 24, 32, 18, 8]
BAND_SCORES = {1: (5, 8), 2: (9, 11), 3: (12, 14), 4: (15, 17), 5: (18, 20)}


def _u32(digest: str, n: int) -> str:
    """SQL for the n-th unsigned 32-bit number in a sha256 `digest`: what the transactions
    draw instead of Python's random, keyed by (seed, customer, account, transaction)."""
    parts = (f"(get_byte({digest}, {4 * n + b})::bigint << {24 - 8 * b})" for b in range(4))
    return f"({' | '.join(parts)})"


_ACCOUNT_DRAW = "sha256(convert_to(%(seed)s || ':' || a.i || ':' || a.k, 'UTF8'))"
_TRANSACTION_DRAW = "sha256(convert_to(%(seed)s || ':' || a.i || ':' || a.k || ':' || t, 'UTF8'))"
# A year of transactions for each current and card account of seed_account (the accounts
# being loaded): 20-59 for the demo RMs' customers, 1-4 for the others, booked 7:00-22:59
# Beijing time; a card's are all card payments. Set-based: drawing them in Python, one
# random call at a time, was half of the load's Python time. (OFFSET 0 keeps each digest
# computed once, not once for every byte read from it.)
TRANSACTIONS_SQL = f"""
INSERT INTO customers_transaction (account_id, customer_id, booked_at, amount, currency,
    direction, channel, kind, counterparty_masked, source, external_id)
SELECT a.id, a.customer_id,
    ((%(today)s::date - ({_u32("tx.h", 0)} %% 365)::int)
        + make_time((7 + {_u32("tx.h", 1)} %% 16)::int, ({_u32("tx.h", 2)} %% 60)::int,
                    ({_u32("tx.h", 3)} %% 60)::float8)) AT TIME ZONE 'Asia/Shanghai',
    (kind.low * 100 + {_u32("tx.h", 4)} %% ((kind.high - kind.low) * 100))::numeric / 100,
    'CNY',
    CASE WHEN a.kind = 'card' THEN 'debit' ELSE kind.direction END,
    CASE WHEN a.kind = 'card' THEN 'pos' ELSE kind.channel END,
    CASE WHEN a.kind = 'card' THEN '刷卡消费' ELSE kind.name END,
    (%(counterparties)s::text[])[1 + {_u32("tx.h", 5)} %% cardinality(%(counterparties)s::text[])],
    'seed',
    'S' || lpad(a.i::text, 9, '0') || '-' || lpad(a.k::text, 2, '0') || '-' || lpad(t::text, 3, '0')
FROM seed_account a
CROSS JOIN LATERAL (SELECT {_ACCOUNT_DRAW} AS h OFFSET 0) account
CROSS JOIN LATERAL generate_series(0, CASE WHEN a.i < %(demo)s
    THEN 19 + {_u32("account.h", 0)} %% 40 ELSE {_u32("account.h", 0)} %% 4 END) AS t
CROSS JOIN LATERAL (SELECT {_TRANSACTION_DRAW} AS h OFFSET 0) tx
JOIN unnest(%(kinds)s::text[], %(directions)s::text[], %(channels)s::text[], %(lows)s::int[],
            %(highs)s::int[]) WITH ORDINALITY AS kind (name, direction, channel, low, high, n)
    ON kind.n = 1 + {_u32("tx.h", 6)} %% cardinality(%(kinds)s::text[])
WHERE a.kind IN ('current', 'card')
"""  # noqa: S608 (no input in the f-string)
# The 360 chart walks back from today's balance through the flows, and may not go below
# zero: before each flow the balance was (today's) − (the flows since), so a current
# account's balance is raised to the largest such sum, and a margin, where it is short.
TOP_UP_SQL = f"""
UPDATE seed_account a
SET balance = GREATEST(a.balance, need.since + 1000 + {_u32(_ACCOUNT_DRAW, 1)} %% 29000)
FROM (
    SELECT account_id, max(since) AS since FROM (
        SELECT t.account_id, sum(CASE t.direction WHEN 'credit' THEN t.amount ELSE -t.amount END)
            OVER (PARTITION BY t.account_id ORDER BY t.booked_at DESC, t.id DESC
                  ROWS UNBOUNDED PRECEDING) AS since
        FROM customers_transaction t JOIN seed_account c ON c.id = t.account_id
        WHERE c.kind = 'current'
    ) flows GROUP BY account_id HAVING max(since) > 0
) need
WHERE a.id = need.account_id
"""  # noqa: S608


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its two digits added


def _luhn_complete(digits: str) -> str:
    """`digits` and their Luhn check digit, as stdnum.luhn computes it (a test holds them
    equal); stdnum's general mod-N version took 40 µs a number, 10 s of the load. The
    digits doubled are those at even distances from the end, where the check digit goes."""
    total = sum(map(_DOUBLED.__getitem__, map(int, digits[-1::-2])))
    total += sum(map(int, digits[-2::-2]))
    return digits + str(-total % 10)


@cache
def _county_existed(region: str, year: int) -> bool:
    """Whether the resident ID validator knows `region` as a county in `year`: all that
    decides ric.is_valid for a number built with a right check digit and a real date. The
    validator looks the county up in its database each time (1 ms, two minutes over the
    demo's customers); this asks it once per region and year."""
    body = f"{region}{year}0101001"
    return ric.is_valid(body + ric.calc_check_digit(body + "0"))


@lru_cache(maxsize=2)
def _faker_pools(seed: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Addresses and company names to draw from (Faker takes a second for them: made once
    per process and seed)."""
    faker = Faker("zh_CN")
    faker.seed_instance(seed)
    addresses = tuple(faker.address().replace("\n", " ") for _ in range(3000))
    companies = tuple(faker.company() for _ in range(1500))
    return addresses, companies


def _allocate_ids(cursor, table: str, count: int) -> list[int]:
    """`count` ids from the table's own sequence, for rows COPYed with their id."""
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, count],
    )
    return [row[0] for row in cursor.fetchall()]


def _enc(value, model, name: str, ring: crypto.Keyring) -> str:
    return crypto.encrypt(value, context=f"{model._meta.label_lower}.{name}", ring=ring)


# The tables the demo fills with COPY, in the order they are loaded.
BULK_TABLES = (
    "customers_customer", "customers_externalidentity", "customers_transaction",
    "customers_account", "customers_interaction", "customers_riskprofile",
)  # fmt: skip


def _check_foreign_keys_now(cursor) -> None:
    """Runs the foreign-key checks deferred so far: ALTER TABLE refuses a table with
    pending trigger events, and adding or dropping a foreign key alters the table it
    refers to as well (users, branches). The audit chain's links stay deferred to the
    commit."""
    cursor.execute(
        "SELECT string_agg(quote_ident(n.nspname) || '.' || quote_ident(c.conname), ', ')"
        " FROM pg_constraint c"
        " JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND c.condeferred"
    )
    (names,) = cursor.fetchone()
    if names:
        cursor.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
        cursor.execute(f"SET CONSTRAINTS {names} DEFERRED")


@contextmanager
def _filled_without_indexes(tables: tuple[str, ...]):
    """PostgreSQL's recipe for filling tables in bulk (the manual's "Populating a
    Database"): COPY into them without their secondary indexes, unique and foreign-key
    constraints, then build each index once by sorting and check each foreign key with one
    join. Row by row, nine tenths of the customers' COPY went on keeping their sixteen
    indexes (three of them trigram GIN) in order, and the commit made 1.5 million
    foreign-key lookups (25 µs each).

    Only for the tables that are empty (make run's first load; rebuilding beside many rows
    would cost more than it saves). The definitions are read from the catalogue and put
    back as they were, by name, inside the seed's transaction: a failed load rolls them
    back with its rows, a duplicate fails the unique index's build."""
    with connection.cursor() as cursor:
        empty = []
        for table in tables:
            cursor.execute(f"SELECT NOT EXISTS (SELECT FROM {table})")  # noqa: S608 (fixed)
            if cursor.fetchone()[0]:
                empty.append(table)
        cursor.execute(
            "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f')"
            " ORDER BY contype DESC, oid",  # unique keys, then the foreign keys
            [empty],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i"
            " WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary AND NOT EXISTS"
            " (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid"
            "  AND c.conrelid = i.indrelid)",
            [empty],
        )
        indexes = cursor.fetchall()
        _check_foreign_keys_now(cursor)
        for table, name, _definition in reversed(constraints):
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    try:
        yield
    except BaseException:
        transaction.set_rollback(True)  # the definitions come back with the rollback
        raise
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        _check_foreign_keys_now(cursor)
        for table, name, definition in constraints:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


class CustomersDemo:
    """The customers of the demo bank, registered in bankcrm.registry.DEMO_SEEDERS (`seed`
    below) and run by bankcrm.demo after the organisation is seeded."""

    def __init__(self, demo: Demo):
        self.demo = demo
        self.total = demo.customers
        self.seed = demo.seed
        self.progress = demo.progress
        self.addresses, self.companies = _faker_pools(self.seed)
        self.couples: list[tuple[dict, dict]] = []  # spouses, paired by seed_households
        self.households: dict[int, int] = {}  # customer index: household id
        self.ring = crypto.keyring()
        self.today = timezone.localdate()
        self.now = timezone.now()

    # ------------------------------------------------------------------ customers

    def _identity(self, i: int, used_ids: set[str]) -> dict:
        """The plain values of customer i (no encryption: cheap enough for every index)."""
        rng = _rng(self.seed, i)
        corporate = rng.random() < 0.05
        demo = i < sum(DEMO_RM_BOOKS.values())
        branch_code = DEMO_BRANCH if demo else rng.choice(BRANCHES)[0]
        person: dict = {"i": i, "rng": rng, "corporate": corporate, "branch": branch_code}
        if corporate:
            base = f"91{rng.choice(REGIONS[branch_code[:2]])}{i:09d}"[:17]
            person["national_id"] = base + uscc.calc_check_digit(base)
            person["name"] = rng.choice(self.companies)
            person["name_latin"] = ""
            person["gender"] = Customer.Gender.UNKNOWN
            person["birth_date"] = None
        else:
            gender = rng.choice("MF")
            surname, surname_py = rng.choice(SURNAMES)
            chars = [rng.choice(GIVEN[gender]) for _ in range(rng.choice((1, 2, 2)))]
            person["name"] = surname + "".join(c for c, _ in chars)
            given_py = "".join(p for _, p in chars)
            person["name_latin"] = f"{surname_py.upper()} {given_py.capitalize()}"
            person["gender"] = gender
            birth = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
            person["birth_date"] = birth
            # Registered where the branch is, if that county existed at birth; else born
            # elsewhere (old counties that exist throughout the validator's history).
            regions = [*rng.sample(REGIONS[branch_code[:2]], 2), *BIRTHPLACES_ELSEWHERE]
            seq = i % 1000
            # The sequence digit's parity carries the sex, as on real cards.
            seq = seq - seq % 2 + (1 if gender == "M" else 0)
            for region in regions:
                if _county_existed(region, birth.year):
                    break
            person["national_id"] = self._resident_id(region, birth, seq, used_ids)
        used_ids.add(person["national_id"])
        prefix = MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)]
        person["mobile"] = f"+86{prefix}{(i * 7919 + 10_000_019) % 100_000_000:08d}"
        return person

    @staticmethod
    def _resident_id(region: str, birth: date, seq: int, used_ids: set[str]) -> str:
        while True:
            body = f"{region}{birth:%Y%m%d}{seq % 1000:03d}"
            number = body + ric.calc_check_digit(body + "0")  # expects a placeholder digit
            if number not in used_ids:
                return number
            seq += 2  # keeps the sex digit

    def customer_row(self, person: dict) -> list:
        """Customer `person`'s row of CUSTOMER_COLUMNS, identifiers sealed."""
        rng = person["rng"]
        i = person["i"]
        rm_id = None
        if i < DEMO_RM_BOOKS["rm"]:
            rm_id = self.demo_rms["rm"]
        elif i < sum(DEMO_RM_BOOKS.values()):
            rm_id = self.demo_rms["rm2"]
        elif rng.random() < 0.92:
            rm_id = rng.choice(self.rms_by_branch[person["branch"]])
        wealth_roll = rng.random()
        scale = next(scale for share, scale in self.WEALTH_SCALES if wealth_roll < share)
        person["draws"] = self._account_draws(person, scale)
        tier = self._tier_of(person["draws"])
        lifecycle = rng.choices(["active", "dormant", "prospect", "closed"], [82, 10, 5, 3])[0]
        kyc_status = "verified" if lifecycle in ("active", "dormant") else "pending"
        kyc_expires = self.today + timedelta(days=rng.randrange(-20, 3 * 365))
        if kyc_expires < self.today and kyc_status == "verified":
            kyc_status = "expired"
        email = None
        if rng.random() < 0.4:
            email = f"user{i}@{rng.choice(['qq.com', '163.com', 'sina.com', 'example.cn'])}"
        tags = sorted(set(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2)))))
        if tier == "private" and "高净值" not in tags:
            tags.append("高净值")
        nid, mobile = person["national_id"], person["mobile"]
        risk_level, risk_expires = None, None
        if rng.random() < 0.6:
            risk_level = rng.choices([1, 2, 3, 4, 5], TOLERANCE_WEIGHTS)[0]
            risk_expires = self.today + timedelta(days=rng.randrange(-60, 365))
        created = self.now - timedelta(days=rng.randrange(30, 3650))
        return [
            core_customer_ref(i),
            "corporate" if person["corporate"] else "individual",
            person["name"],
            person["name_latin"],
            person["gender"],
            person["birth_date"],
            _enc(nid, Customer, "national_id", self.ring),
            crypto.blind_index(nid, purpose=NATIONAL_ID_INDEX),
            masking.mask_national_id(nid),
            _enc(mobile, Customer, "mobile", self.ring),
            crypto.blind_index(mobile, purpose=MOBILE_INDEX),
            masking.mask_mobile(mobile),
            _enc(email, Customer, "email", self.ring) if email else None,
            masking.mask_email(email) if email else "",
            _enc(rng.choice(self.addresses), Customer, "address", self.ring),
            "" if person["corporate"] else rng.choice(OCCUPATIONS),
            rng.choice(self.companies) if not person["corporate"] and rng.random() < 0.6 else "",
            self.branch_ids[person["branch"]],
            rm_id,
            lifecycle,
            kyc_status,
            kyc_expires,
            tier,
            tags,
            created,
            created,
            # Appended last: the indexes above are used by the holdings step.
            self._income_band(person, tier),
            "" if person["corporate"] else rng.choice(["single", "married", "married", "married"]),
            risk_level,
            risk_expires,
            person["pk"],
            self.households.get(i),
        ]

    def _income_band(self, person: dict, tier: str) -> str:
        if person["corporate"]:
            return ""
        rng = _rng(self.seed, person["i"], 6)
        if tier == "private":
            return "gt1m"
        if tier == "wealth":
            return rng.choice(["gt1m", "300k-1m"])
        if tier == "affluent":
            return rng.choice(["300k-1m", "100k-300k"])
        return rng.choice(["lt100k", "lt100k", "100k-300k"])

    # How much a customer holds: a multiplier of every balance, by the share of customers
    # up to it (cumulative). The tier follows from what that gives (_tier_of, then
    # _settle_tier once the current accounts are topped up to cover their history).
    WEALTH_SCALES = ((0.01, Decimal(100)), (0.05, Decimal(12)), (0.25, Decimal(2)),
                     (1.0, Decimal("0.25")))  # fmt: skip
    # The floors of analytics' default value tiers (analytics.value.DEFAULT_TIERS) on the
    # CNY deposits and wealth products written, so a customer's tier agrees with the balances
    # from the start and the demo's first nightly value run moves only those near a floor
    # (its score also weighs stickiness and the 90-day average).
    TIER_FLOORS = (("private", 6_000_000), ("wealth", 500_000), ("affluent", 50_000))
    ASSET_KINDS = ("current", "time_deposit", "wealth")

    def _tier_of(self, draws: list[dict]) -> str:
        assets = sum(d["balance"] for d in draws
                     if d["kind"] in self.ASSET_KINDS and d["currency"] == "CNY")  # fmt: skip
        return self._tier_for(assets)

    def _tier_for(self, assets) -> str:
        return next((tier for tier, floor in self.TIER_FLOORS if assets >= floor), "mass")

    def _settle_tier(self, person: dict, assets) -> None:
        """The tier (and what follows from it) of the balances as written, once the current
        accounts are topped up to cover their history (TOP_UP_SQL)."""
        row = person["row"]
        tier = self._tier_for(assets)
        if tier == row[22]:
            return
        row[22] = tier
        if tier == "private" and "高净值" not in row[23]:
            row[23] = sorted([*row[23], "高净值"])
        row[26] = self._income_band(person, tier)

    CUSTOMER_COLUMNS = (
        "cif", "kind", "name", "name_latin", "gender", "birth_date",
        "national_id", "national_id_index", "national_id_masked",
        "mobile", "mobile_index", "mobile_masked", "email", "email_masked", "address",
        "occupation", "employer", "branch_id", "primary_rm_id", "lifecycle", "kyc_status",
        "kyc_expires_on", "tier", "tags", "created_at", "updated_at",
        "income_band", "family_status", "risk_level", "risk_expires_on",
        "id", "household_id",
    )  # fmt: skip

    def new_people(self) -> list[dict]:
        """The customers 0 … total-1 whose CIF is not in the database yet."""
        existing = set(Customer.objects.filter(cif__startswith="C").values_list("cif", flat=True))
        if existing.issuperset(core_customer_ref(i) for i in range(self.total)):
            self.demo.add("skipped_customers", self.total)
            return []
        used_ids: set[str] = set()
        people = [self._identity(i, used_ids) for i in range(self.total)]
        new_people = [p for p in people if core_customer_ref(p["i"]) not in existing]
        self.demo.add("skipped_customers", len(people) - len(new_people))
        return new_people

    def seed_customers(self, people: list[dict]) -> None:
        """The customers' rows, their households and ids; written by write_customers once
        their holdings are drawn, which settle their tiers."""
        self.progress(f"customers: drawing {len(people):,}")
        self.households = self.seed_households(people)
        with connection.cursor() as cursor:
            ids = _allocate_ids(cursor, "customers_customer", len(people))
        for n, (person, pk) in enumerate(zip(people, ids, strict=True), 1):
            person["pk"] = pk
            person["row"] = self.customer_row(person)
            if n % 20000 == 0:
                self.progress(f"customers: {n:,}")

    def write_customers(self, people: list[dict]) -> None:
        """The customers, their keys in core banking and the app, their risk assessments."""
        self.progress(f"customers: writing {len(people):,}")
        with connection.cursor() as cursor:
            with cursor.copy(
                f"COPY customers_customer ({', '.join(self.CUSTOMER_COLUMNS)}) FROM STDIN"
            ) as copy:
                for person in people:
                    copy.write_row(person["row"])
            with cursor.copy(
                "COPY customers_externalidentity"
                " (source, external_id, customer_id, created_at, last_sequence) FROM STDIN"
            ) as copy:
                for person in people:
                    copy.write_row(("core", core_customer_ref(person["i"]), person["pk"],
                                    self.now, 0))  # fmt: skip
                    copy.write_row(("app", app_user_id(person["i"]), person["pk"], self.now, 0))
        self.demo.add("customers", len(people))
        self.seed_risk_profiles(people)

    def seed_risk_profiles(self, people: list[dict]) -> None:
        """Each customer with a risk tolerance gets the assessment behind it: answers to the
        active questionnaire whose score falls in the tolerance's band, current, expiring
        when the customer's copy says (so the list, the 360 page and the suitability rules
        agree)."""
        from customers.models import RiskQuestionnaire

        questionnaire = RiskQuestionnaire.objects.filter(is_active=True).first()
        if questionnaire is None:
            return
        by_score = [
            ({o["score"]: n for n, o in enumerate(q["options"])}, q)
            for q in questionnaire.questions
        ]
        count = 0
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY customers_riskprofile (customer_id, questionnaire_id, answers, score, level,"
                " lowest_category, legacy_level, is_current, assessed_at, expires_on,"
                " assessed_by_id) FROM STDIN"
            ) as copy,
        ):
            for person in people:
                row = person["row"]
                level, expires = row[28], row[29]
                if level is None:
                    continue
                rng = _rng(self.seed, person["i"], 5)
                low, high = BAND_SCORES[level]
                scores = [1] * len(by_score)
                for _point in range(rng.randint(low, high) - len(scores)):
                    scores[rng.choice([n for n, v in enumerate(scores) if v < 4])] += 1
                answers, lowest = {}, False
                for (index_of, question), score in zip(by_score, scores, strict=True):
                    answers[question["key"]] = index_of[score]
                    lowest |= bool(question["options"][index_of[score]].get("lowest_category"))
                assessed = datetime.combine(
                    expires - timedelta(days=365), time(10), tzinfo=SHANGHAI
                )
                copy.write_row((
                    person["pk"], questionnaire.pk, json.dumps(answers), sum(scores), level,
                    lowest, "", True, assessed, expires, row[18],
                ))  # fmt: skip
                count += 1
        self.demo.add("risk_profiles", count)

    def seed_households(self, people: list[dict]) -> dict[int, int]:
        """Households of spouses in the demo RMs' books: {customer index: household id}."""
        demo_limit = sum(DEMO_RM_BOOKS.values())
        book = [p for p in people if p["i"] < demo_limit and not p["corporate"]]
        couples = list(zip(book[0::10], book[1::10], strict=False))
        made = Household.objects.bulk_create(
            [Household(name=f"{a['name'][:1]}家") for a, _b in couples]
        )
        self.couples = couples
        return {
            person["i"]: household.pk
            for household, couple in zip(made, couples, strict=True)
            for person in couple
        }

    # ------------------------------------------------------------------ holdings

    ACCOUNT_KINDS = {
        # kind: (number prefix, product names, currency choices)
        "current": ("621700", ["借记卡活期账户", "工资卡账户"]),
        "time_deposit": ("621701", ["一年期整存整取", "三年期大额存单", "六个月定期"]),
        "loan": ("900100", ["个人住房贷款", "个人消费贷款", "经营性贷款"]),
        "card": ("6222020", ["金卡信用卡", "白金信用卡", "标准信用卡"]),
        "wealth": ("700100", ["稳健理财30天", "净值型理财R2", "货币基金", "年金保险"]),
    }
    ACCOUNT_COLUMNS = (
        "id", "customer_id", "kind", "number", "number_index", "number_masked", "product_name",
        "currency", "balance", "credit_limit", "overdue_days", "opened_on", "matures_on",
        "status", "risk_level", "product_id",
    )  # fmt: skip
    OTHER_KINDS = ["time_deposit", "loan", "card", "wealth"]
    EXTRA_ACCOUNTS = (0, 1, 1, 2, 3)

    def _account_count(self, person: dict) -> int:
        """How many accounts `person` has (drawn with the customer's row)."""
        return len(person["draws"])

    def _account_draws(self, person: dict, scale: Decimal) -> list[dict]:
        """What chance decides of customer `person`'s accounts (kind, currency, balance,
        limit, …), from the customer's own random stream: drawn before the customer's row,
        whose tier follows from the balances."""
        rng = _rng(self.seed, person["i"], 1)
        kinds = ["current"]
        kinds += rng.sample(self.OTHER_KINDS, rng.choice(self.EXTRA_ACCOUNTS))
        draws = []
        for kind in kinds:
            currency = "USD" if kind == "current" and rng.random() < 0.03 else "CNY"
            balance = (
                Decimal(rng.randrange(100, 80_000)) * scale + Decimal(rng.randrange(0, 100)) / 100
            ).quantize(Decimal("0.01"))
            draw = {"kind": kind, "currency": currency, "balance": balance, "limit": None,
                    "overdue": 0, "opened_after": rng.randrange(0, 300), "term_years": None,
                    "matures": None}  # fmt: skip
            if kind == "loan":
                draw["limit"] = (balance * Decimal("1.4")).quantize(Decimal("0.01"))
                draw["overdue"] = rng.choice([0] * 18 + [5, 35])
                draw["term_years"] = rng.choice((3, 5, 10, 20))
            elif kind == "card":
                limit = Decimal(
                    rng.choice((10_000, 30_000, 50_000, 100_000)) * max(1, int(scale) // 4)
                )
                draw["limit"] = limit
                draw["balance"] = (limit * Decimal(rng.random() * 0.6)).quantize(Decimal("0.01"))
            elif kind == "time_deposit":
                draw["matures"] = self.today + timedelta(days=rng.randrange(-30, 720))
            draw["product"] = rng.choice(self.ACCOUNT_KINDS[kind][1])
            draws.append(draw)
        return draws

    def accounts_of(self, person: dict) -> list[list]:
        """Customer `person`'s accounts: rows of ACCOUNT_COLUMNS, then i and k (the
        customer's and the account's index, from which TRANSACTIONS_SQL draws)."""
        opened_base = person["row"][24].astimezone(SHANGHAI).date()
        status = "active" if person["row"][19] != "closed" else "closed"
        accounts = []
        for k, (draw, pk) in enumerate(zip(person["draws"], person["account_ids"], strict=True)):
            kind = draw["kind"]
            number = _luhn_complete(f"{self.ACCOUNT_KINDS[kind][0]}{person['i']:09d}{k:02d}")
            # Opened between the customer's arrival and yesterday: an account opened in the
            # future holds nothing yet for the nightly figures (as of yesterday), and 3% of
            # the demo's were (a customer who came in September with 567,040 CNY was "mass").
            span = max(0, (self.today - timedelta(days=1) - opened_base).days)
            opened = opened_base + timedelta(days=draw["opened_after"] % (span + 1))
            matures = draw["matures"]
            if draw["term_years"]:
                matures = opened + timedelta(days=365 * draw["term_years"])
            product_id, risk = self.catalogue[draw["product"]]
            accounts.append(
                [
                    pk, person["pk"], kind, _enc(number, Account, "number", self.ring),
                    crypto.blind_index(number, purpose=ACCOUNT_NUMBER_INDEX),
                    Account.mask_number(kind, number),
                    draw["product"], draw["currency"], draw["balance"], draw["limit"],
                    draw["overdue"], opened, matures, status,
                    f"R{risk}" if kind == "wealth" else "", product_id, person["i"], k,
                ]
            )  # fmt: skip
        return accounts

    def seed_holdings(self, people: list[dict]) -> None:
        """Accounts, and a year of transactions on current and card accounts. The accounts
        (sealed numbers: Python) are COPYed into a scratch table; the transactions are drawn
        from it in one INSERT … SELECT, each current account's balance is raised to cover
        its history in one UPDATE of the scratch table, and only then are the accounts
        written, once (TRANSACTIONS_SQL, TOP_UP_SQL)."""
        with connection.cursor() as cursor:
            counts = [self._account_count(person) for person in people]
            ids = iter(_allocate_ids(cursor, "customers_account", sum(counts)))
            for person, count in zip(people, counts, strict=True):
                person["account_ids"] = [next(ids) for _ in range(count)]
            columns = ", ".join(self.ACCOUNT_COLUMNS)
            cursor.execute(
                "CREATE TEMPORARY TABLE seed_account ON COMMIT DROP AS"  # noqa: S608 (fixed)
                f" SELECT {columns}, 0 AS i, 0 AS k FROM customers_account WITH NO DATA"
            )
            with cursor.copy(f"COPY seed_account ({columns}, i, k) FROM STDIN") as copy:
                for person in people:
                    for row in self.accounts_of(person):
                        copy.write_row(row)
            self.progress(f"transactions of {sum(counts):,} accounts")
            rng = random.Random(self.seed)
            cursor.execute(
                TRANSACTIONS_SQL,
                {
                    "seed": self.seed,
                    "today": self.today,
                    "demo": sum(DEMO_RM_BOOKS.values()),
                    "kinds": [k[0] for k in TRANSACTION_KINDS],
                    "directions": [k[1] for k in TRANSACTION_KINDS],
                    "channels": [k[2] for k in TRANSACTION_KINDS],
                    "lows": [k[3] for k in TRANSACTION_KINDS],
                    "highs": [k[4] for k in TRANSACTION_KINDS],
                    # Counterparties as the application masks them.
                    "counterparties": [
                        masking.mask_account(f"62{rng.randrange(10**15):015d}") for _ in range(997)
                    ],
                },
            )
            self.demo.add("transactions", cursor.rowcount)
            cursor.execute(TOP_UP_SQL, {"seed": self.seed})
            cursor.execute(
                "SELECT customer_id, sum(balance) FROM seed_account"
                " WHERE kind = ANY(%s) AND currency = 'CNY' GROUP BY customer_id",
                [list(self.ASSET_KINDS)],
            )
            assets = dict(cursor.fetchall())
            for person in people:
                self._settle_tier(person, assets.get(person["pk"], 0))
            self.progress(f"accounts: writing {sum(counts):,}")
            cursor.execute(
                f"INSERT INTO customers_account ({columns})"  # noqa: S608 (fixed names)
                f" SELECT {columns} FROM seed_account ORDER BY id"
            )
            self.demo.add("accounts", cursor.rowcount)
            cursor.execute("DROP TABLE seed_account")

    def seed_interactions(self, people: list[dict]) -> None:
        demo_limit = sum(DEMO_RM_BOOKS.values())
        subjects = [
            ("phone", "outbound", "理财产品到期提醒"),
            ("branch", "inbound", "到店咨询大额存单"),
            ("wechat", "inbound", "咨询信用卡分期"),
            ("app", "inbound", "手机银行转账限额咨询"),
            ("phone", "outbound", "KYC 资料更新提醒"),
            ("email", "outbound", "季度资产报告"),
        ]
        notes = INTERACTION_NOTES
        count = 0
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY customers_interaction (customer_id, channel, direction, subject, notes,"
                " actor_id, occurred_at, follow_up_on, follow_up_done) FROM STDIN"
            ) as copy,
        ):
            for person in people:
                demo = person["i"] < demo_limit
                if not demo and person["i"] % 10:
                    continue
                rng = _rng(self.seed, person["i"], 3)
                actor = person["row"][18]
                for _ in range(rng.randrange(2, 6) if demo else 1):
                    channel, direction, subject = rng.choice(subjects)
                    note = rng.choice(notes[subject])
                    follow_up = None
                    if demo and rng.random() < 0.15:
                        follow_up = self.today + timedelta(days=rng.randrange(-2, 8))
                    copy.write_row(
                        (
                            person["pk"], channel, direction, subject, note, actor,
                            self.now - timedelta(hours=rng.randrange(1, 24 * 300)),
                            follow_up, False,
                        )
                    )  # fmt: skip
                    count += 1
        self.demo.add("interactions", count)

    def seed_spouses_and_consents(self, people: list[dict]) -> None:
        """The demo RMs' books get spouses (the households made with the customers), PIPL
        consent histories and risk levels, so every part of the 360 page has something
        to show."""
        from customers.models import Consent, Relationship

        demo_limit = sum(DEMO_RM_BOOKS.values())
        book = [p for p in people if p["i"] < demo_limit and not p["corporate"]]
        relationships, consents = [], []
        for a, b in self.couples:
            relationships += [
                Relationship(customer_id=a["pk"], related_id=b["pk"], kind="spouse"),
                Relationship(customer_id=b["pk"], related_id=a["pk"], kind="spouse"),
            ]
        for person in book:
            rng = _rng(self.seed, person["i"], 4)
            when = self.now - timedelta(days=rng.randrange(30, 700))
            consents.append(Consent(customer_id=person["pk"], purpose="marketing",
                                    channel="all", granted=True, source="开户协议",
                                    recorded_at=when))  # fmt: skip
            if rng.random() < 0.2:
                consents.append(Consent(customer_id=person["pk"], purpose="marketing",
                                        channel="sms", granted=False, source="客服来电",
                                        recorded_at=when + timedelta(days=20)))  # fmt: skip
            if rng.random() < 0.6:
                consents.append(Consent(customer_id=person["pk"], purpose="profiling",
                                        channel="all", granted=True, source="手机银行",
                                        recorded_at=when))  # fmt: skip
        Relationship.objects.bulk_create(relationships)
        Consent.objects.bulk_create(consents)

    # ------------------------------------------------------------------ all

    def seed_integration_sources(self) -> None:
        for code, (name, kind, secret) in DEMO_SOURCES.items():
            IntegrationSource.objects.get_or_create(
                code=code, defaults={"name": name, "kind": kind, "secret": secret}
            )

    def seed_catalogue(self) -> None:
        """The demo catalogue (by code: a second run adds nothing) and its documents."""
        from customers.models import Product, ProductDocument
        from customers.services import product_document_add

        existing = set(Product.objects.values_list("code", flat=True))
        new = []
        for (code, name_zh, name_en, kind, issuer, risk, minimum, term, kinds, tier, private,
             status, window) in DEMO_PRODUCTS:  # fmt: skip
            if code in existing:
                continue
            starts, ends = date(2020, 1, 1), None
            if window is not None:
                starts, ends = (self.today + timedelta(days=d) for d in window)
            new.append(Product(
                code=code, name_zh=name_zh, name_en=name_en, kind=kind, issuer=issuer,
                risk_level=risk, min_amount=Decimal(minimum), term_days=term,
                eligible_kinds=kinds, min_tier=tier, private_placement=private, status=status,
                sale_starts=starts, sale_ends=ends,
            ))  # fmt: skip
        Product.objects.bulk_create(new)
        self.demo.add("products", len(new))
        products = {
            p.code: p for p in Product.objects.filter(code__in=[p[0] for p in DEMO_PRODUCTS])
        }
        self.catalogue = {p.name_zh: (p.pk, p.risk_level) for p in products.values()}
        if ProductDocument.objects.filter(product__in=products.values()).exists():
            return
        for code, kind, versions in DEMO_DOCUMENTS:
            product = products[code]
            for version in range(1, versions + 1):
                text = DOCUMENT_TEXT[kind].format(
                    name=product.name_zh, code=code, risk=product.risk_level, version=version
                )
                product_document_add(
                    actor=None, product=product, kind=kind, content=text.encode(),
                    file_name=f"{code}-{kind}-v{version}.txt", content_type="text/plain",
                )  # fmt: skip

    def run(self) -> None:
        demo = self.demo
        self.seed_integration_sources()
        self.seed_catalogue()
        self.rms_by_branch = demo.rms_by_branch
        self.branch_ids = {code: branch.pk for code, branch in demo.branches.items()}
        self.demo_rms = {name: demo.users[name].pk for name in DEMO_RM_BOOKS}
        people = self.new_people()
        if not people:
            return
        detail = {"seed": self.seed, "customers": self.total}
        with ExitStack() as load:
            load.enter_context(demo.recorded_as_one_load("customers_customer", **detail))
            load.enter_context(demo.recorded_as_one_load("customers_account", **detail))
            for table in (
                "customers_externalidentity", "customers_interaction", "customers_riskprofile"
            ):  # fmt: skip
                load.enter_context(demo.recorded_as_one_load(table, **detail))
            load.enter_context(_filled_without_indexes(BULK_TABLES))
            self.seed_customers(people)
            # Holdings first: a customer's tier follows from them. (The account's key to
            # its customer is checked at the end of the load, or at commit.)
            self.seed_holdings(people)
            self.write_customers(people)
            self.progress("interactions")
            self.seed_interactions(people)
            self.progress("indexes and foreign keys")
        self.seed_spouses_and_consents(people)
        self.progress("statistics")
        with connection.cursor() as cursor:
            for table in BULK_TABLES:
                cursor.execute(f"ANALYZE {table}")


DOCUMENT_TEXT = {
    "description": "{name}（{code}）产品说明书 第{version}版\n\n本产品风险等级 R{risk}。"
    "过往业绩不代表未来表现。\n",
    "risk_disclosure": "{name}（{code}）风险揭示书 第{version}版\n\n理财非存款，产品有风险，"
    "投资须谨慎。本产品风险等级 R{risk}，请确认您的风险承受能力与之匹配。\n",
}


def seed(demo: Demo) -> None:
    CustomersDemo(demo).run()
