"""Realistic demo data for bankcrm, loaded with PostgreSQL COPY.

Everything is derived from (seed, customer index), so a second run computes the same
customers, finds their CIF numbers present and adds nothing; a larger --customers adds only
the new ones. Identifiers are encrypted, blind-indexed and masked exactly as the application
does it; no plaintext identifier reaches the database.
"""

from __future__ import annotations

import random
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone
from faker import Faker
from stdnum import luhn
from stdnum.cn import ric, uscc

from bankcrm import crypto, masking
from bankcrm.models import Branch, User
from bankcrm.roles import Role
from customers.models import (
    ACCOUNT_NUMBER_INDEX,
    MOBILE_INDEX,
    NATIONAL_ID_INDEX,
    Account,
    Customer,
    IntegrationSource,
)
from customers.simulator import app_user_id, core_customer_ref

DEMO_PASSWORD = "Bankcrm-Demo-2026"  # noqa: S105 - printed for the demo users
# Integration sources of the demo (simulate_core_banking signs with these by default).
DEMO_SOURCES = {
    "core": ("核心银行系统", "core_banking", "Bankcrm-Demo-Core-Secret-2026"),
    "app": ("手机银行", "app", "Bankcrm-Demo-App-Secret-2026"),
}


SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
DEMO_BRANCH = "SH001"

BRANCHES = [
    ("SH001", "上海分行营业部", "华东"),
    ("SH002", "上海陆家嘴支行", "华东"),
    ("BJ001", "北京分行营业部", "华北"),
    ("BJ002", "北京中关村支行", "华北"),
    ("SZ001", "深圳分行营业部", "华南"),
    ("GZ001", "广州天河支行", "华南"),
    ("CD001", "成都分行营业部", "西南"),
    ("WH001", "武汉分行营业部", "华中"),
]
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

DEMO_USERS = [
    # username, role, last name, first name, is_staff
    ("rm", Role.RELATIONSHIP_MANAGER, "王", "思远", False),
    ("rm2", Role.RELATIONSHIP_MANAGER, "李", "晓彤", False),
    ("branch_manager", Role.BRANCH_MANAGER, "张", "建国", False),
    ("agent", Role.SERVICE_AGENT, "刘", "婷", False),
    ("agent2", Role.SERVICE_AGENT, "孙", "悦", False),
    ("supervisor", Role.SERVICE_SUPERVISOR, "陈", "志强", False),
    ("compliance", Role.COMPLIANCE_OFFICER, "赵", "敏", False),
    ("admin", Role.ADMIN, "周", "磊", True),
]
RMS_PER_BRANCH = 12
DEMO_RM_BOOKS = {"rm": 150, "rm2": 100}  # the first customers go to the demo RMs

SURNAMES = [
    ("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"),
    ("杨", "Yang"), ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"),
    ("徐", "Xu"), ("孙", "Sun"), ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"),
    ("郭", "Guo"), ("何", "He"), ("高", "Gao"), ("林", "Lin"), ("罗", "Luo"),
    ("郑", "Zheng"), ("梁", "Liang"), ("谢", "Xie"), ("宋", "Song"), ("唐", "Tang"),
    ("韩", "Han"), ("冯", "Feng"), ("邓", "Deng"), ("曹", "Cao"), ("彭", "Peng"),
    ("欧阳", "Ouyang"), ("上官", "Shangguan"),
]  # fmt: skip
GIVEN = {
    "M": [
        ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
        ("勇", "yong"), ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"),
        ("刚", "gang"), ("建", "jian"), ("国", "guo"), ("海", "hai"), ("宇", "yu"),
        ("浩", "hao"), ("博", "bo"), ("轩", "xuan"), ("东", "dong"), ("鹏", "peng"),
    ],
    "F": [
        ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
        ("艳", "yan"), ("娟", "juan"), ("秀", "xiu"), ("霞", "xia"), ("英", "ying"),
        ("玉", "yu"), ("兰", "lan"), ("雪", "xue"), ("梅", "mei"), ("婷", "ting"),
        ("欣", "xin"), ("怡", "yi"), ("琳", "lin"), ("颖", "ying"), ("晓", "xiao"),
    ],
}  # fmt: skip
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
PRODUCT_RISK = ["R1", "R2", "R2", "R3", "R4"]


@dataclass
class SeedReport:
    branches: int = 0
    users: int = 0
    customers: int = 0
    accounts: int = 0
    transactions: int = 0
    interactions: int = 0
    tickets: int = 0
    skipped_customers: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)


def _rng(seed: int, *parts: int) -> random.Random:
    value = seed
    for part in parts:
        value = value * 1_000_003 + part
    return random.Random(value)


def _luhn_complete(digits: str) -> str:
    return digits + luhn.calc_check_digit(digits)


def _enc(value, model, name: str) -> str:
    return crypto.encrypt(value, context=f"{model._meta.label_lower}.{name}")


class DemoSeeder:
    def __init__(self, *, customers: int, seed: int = 2026, progress=None):
        self.total = customers
        self.seed = seed
        self.progress = progress or (lambda message: None)
        self.report = SeedReport()
        faker = Faker("zh_CN")
        faker.seed_instance(seed)
        self.addresses = [faker.address().replace("\n", " ") for _ in range(3000)]
        self.companies = [faker.company() for _ in range(1500)]
        self.today = timezone.localdate()
        self.now = timezone.now()

    # ------------------------------------------------------------------ organisation

    def seed_organisation(self) -> tuple[dict[str, Branch], dict[str, list[int]], dict[str, User]]:
        for code, name, region in BRANCHES:
            Branch.objects.get_or_create(code=code, defaults={"name": name, "region": region})
        branches = {b.code: b for b in Branch.objects.filter(code__in=[c for c, _, _ in BRANCHES])}
        self.report.branches = len(branches)

        # The roles migration creates these; a flushed database (tests) may lack them.
        groups = {role: Group.objects.get_or_create(name=role)[0] for role in Role.values}
        demo_hash = make_password(DEMO_PASSWORD)
        demo_users = {}
        for username, role, last, first, staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "last_name": last,
                    "first_name": first,
                    "branch": branches[DEMO_BRANCH],
                    "password": demo_hash,
                    "is_staff": staff,
                    "is_superuser": staff,
                    "email": f"{username}@demo-bank.cn",
                },
            )
            if created:
                user.groups.add(groups[role])
                self.report.users += 1
            demo_users[username] = user
            self.report.logins.append((username, str(role.label)))

        # Book-holding RMs per branch, without a usable password: they exist to own books.
        wanted = []
        for code in branches:
            for n in range(1, RMS_PER_BRANCH + 1):
                rng = _rng(self.seed, 7, n, sum(map(ord, code)))
                surname = rng.choice(SURNAMES)[0]
                given = rng.choice(GIVEN[rng.choice("MF")])[0]
                wanted.append((f"rm_{code.lower()}_{n:02d}", code, surname, given))
        existing = set(
            User.objects.filter(username__in=[w[0] for w in wanted]).values_list(
                "username", flat=True
            )
        )
        unusable = make_password(None)
        new_users = [
            User(
                username=username,
                branch=branches[code],
                last_name=surname,
                first_name=given,
                password=unusable,
            )
            for username, code, surname, given in wanted
            if username not in existing
        ]
        User.objects.bulk_create(new_users)
        rm_group = groups[Role.RELATIONSHIP_MANAGER]
        User.groups.through.objects.bulk_create(
            [User.groups.through(user_id=u.pk, group_id=rm_group.pk) for u in new_users]
        )
        self.report.users += len(new_users)

        rms_by_branch: dict[str, list[int]] = {code: [] for code in branches}
        for pk, code in User.objects.filter(username__startswith="rm_").values_list(
            "pk", "branch__code"
        ):
            rms_by_branch.setdefault(code, []).append(pk)
        for pks in rms_by_branch.values():
            pks.sort()
        return branches, rms_by_branch, demo_users

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
                number = self._resident_id(region, birth, seq, used_ids)
                if ric.is_valid(number):
                    break
            person["national_id"] = number
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

    def _customer_row(self, person: dict, rms_by_branch, demo_users) -> tuple:
        rng = person["rng"]
        i = person["i"]
        rm_id = None
        if i < DEMO_RM_BOOKS["rm"]:
            rm_id = demo_users["rm"].pk
        elif i < sum(DEMO_RM_BOOKS.values()):
            rm_id = demo_users["rm2"].pk
        elif rng.random() < 0.92:
            rm_id = rng.choice(rms_by_branch[person["branch"]])
        tier_roll = rng.random()
        tier = "private" if tier_roll < 0.02 else "affluent" if tier_roll < 0.15 else "mass"
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
        risk_level, risk_expires = "", None
        if rng.random() < 0.6:
            risk_level = rng.choices(
                ["conservative", "balanced", "growth", "aggressive"], [30, 40, 22, 8]
            )[0]
            risk_expires = self.today + timedelta(days=rng.randrange(-60, 365))
        created = self.now - timedelta(days=rng.randrange(30, 3650))
        return (
            core_customer_ref(i),
            "corporate" if person["corporate"] else "individual",
            person["name"],
            person["name_latin"],
            person["gender"],
            person["birth_date"],
            _enc(nid, Customer, "national_id"),
            crypto.blind_index(nid, purpose=NATIONAL_ID_INDEX),
            masking.mask_national_id(nid),
            _enc(mobile, Customer, "mobile"),
            crypto.blind_index(mobile, purpose=MOBILE_INDEX),
            masking.mask_mobile(mobile),
            _enc(email, Customer, "email") if email else None,
            masking.mask_email(email) if email else "",
            _enc(rng.choice(self.addresses), Customer, "address"),
            "" if person["corporate"] else rng.choice(OCCUPATIONS),
            rng.choice(self.companies) if not person["corporate"] and rng.random() < 0.6 else "",
            None,  # branch_id, filled by the caller
            rm_id,
            lifecycle,
            kyc_status,
            kyc_expires,
            tier,
            tags,
            created,
            created,
            # Appended last: the indexes above are used by the holdings step.
            "" if person["corporate"] else self._income_band(rng, tier),
            "" if person["corporate"] else rng.choice(["single", "married", "married", "married"]),
            risk_level,
            risk_expires,
        )

    @staticmethod
    def _income_band(rng: random.Random, tier: str) -> str:
        if tier == "private":
            return "gt1m"
        if tier == "affluent":
            return rng.choice(["300k-1m", "100k-300k"])
        return rng.choice(["lt100k", "lt100k", "100k-300k"])

    CUSTOMER_COLUMNS = (
        "cif", "kind", "name", "name_latin", "gender", "birth_date",
        "national_id", "national_id_index", "national_id_masked",
        "mobile", "mobile_index", "mobile_masked", "email", "email_masked", "address",
        "occupation", "employer", "branch_id", "primary_rm_id", "lifecycle", "kyc_status",
        "kyc_expires_on", "tier", "tags", "created_at", "updated_at",
        "income_band", "family_status", "risk_level", "risk_expires_on",
    )  # fmt: skip

    def seed_customers(self, branches, rms_by_branch, demo_users) -> list[dict]:
        existing = set(Customer.objects.filter(cif__startswith="C").values_list("cif", flat=True))
        if existing.issuperset(core_customer_ref(i) for i in range(self.total)):
            self.report.skipped_customers = self.total
            return []
        used_ids: set[str] = set()
        people = [self._identity(i, used_ids) for i in range(self.total)]
        new_people = [p for p in people if core_customer_ref(p["i"]) not in existing]
        self.report.skipped_customers = len(people) - len(new_people)
        if not new_people:
            return []
        self.progress(f"customers: writing {len(new_people):,} (skipping {len(existing):,})")
        branch_ids = {code: b.pk for code, b in branches.items()}
        with connection.cursor() as cursor:
            with cursor.copy(
                f"COPY customers_customer ({', '.join(self.CUSTOMER_COLUMNS)}) FROM STDIN"
            ) as copy:
                for n, person in enumerate(new_people, 1):
                    row = list(self._customer_row(person, rms_by_branch, demo_users))
                    row[17] = branch_ids[person["branch"]]
                    person["row"] = row
                    copy.write_row(row)
                    if n % 20000 == 0:
                        self.progress(f"customers: {n:,}")
            cursor.execute(
                "SELECT cif, id FROM customers_customer WHERE cif = ANY(%s)",
                [[core_customer_ref(p["i"]) for p in new_people]],
            )
            ids = dict(cursor.fetchall())
            # Their keys in core banking and the app, for the integration API.
            with cursor.copy(
                "COPY customers_externalidentity"
                " (source, external_id, customer_id, created_at, last_sequence) FROM STDIN"
            ) as copy:
                for person in new_people:
                    pk = ids[core_customer_ref(person["i"])]
                    copy.write_row(("core", core_customer_ref(person["i"]), pk, self.now, 0))
                    copy.write_row(("app", app_user_id(person["i"]), pk, self.now, 0))
        for person in new_people:
            person["pk"] = ids[core_customer_ref(person["i"])]
        self.report.customers = len(new_people)
        return new_people

    # ------------------------------------------------------------------ holdings

    ACCOUNT_KINDS = {
        # kind: (number prefix, product names, currency choices)
        "current": ("621700", ["借记卡活期账户", "工资卡账户"]),
        "time_deposit": ("621701", ["一年期整存整取", "三年期大额存单", "六个月定期"]),
        "loan": ("900100", ["个人住房贷款", "个人消费贷款", "经营性贷款"]),
        "card": ("6222020", ["金卡信用卡", "白金信用卡", "标准信用卡"]),
        "wealth": ("700100", ["稳健理财30天", "净值型理财R2", "货币基金", "年金保险"]),
    }

    def seed_accounts(self, people: list[dict]) -> list[tuple]:
        accounts = []  # (customer pk, account index, kind, number, is_demo)
        rows = []
        for person in people:
            rng = _rng(self.seed, person["i"], 1)
            kinds = ["current"]
            kinds += rng.sample(
                ["time_deposit", "loan", "card", "wealth"], rng.choice((0, 1, 1, 2, 3))
            )
            tier = person["row"][22]
            scale = {"mass": 1, "affluent": 8, "private": 60}[tier]
            opened_base = person["row"][24].astimezone(SHANGHAI).date()
            for k, kind in enumerate(kinds):
                prefix, products = self.ACCOUNT_KINDS[kind]
                number = _luhn_complete(f"{prefix}{person['i']:09d}{k:02d}")
                currency = "USD" if kind == "current" and rng.random() < 0.03 else "CNY"
                balance = (
                    Decimal(rng.randrange(100, 80_000) * scale) / 1
                    + Decimal(rng.randrange(0, 100)) / 100
                )
                limit = None
                overdue = 0
                matures = None
                opened = opened_base + timedelta(days=rng.randrange(0, 300))
                if kind == "loan":
                    limit = (balance * Decimal("1.4")).quantize(Decimal("0.01"))
                    overdue = rng.choice([0] * 18 + [5, 35])
                    matures = opened + timedelta(days=365 * rng.choice((3, 5, 10, 20)))
                elif kind == "card":
                    limit = Decimal(
                        rng.choice((10_000, 30_000, 50_000, 100_000)) * max(1, scale // 4)
                    )
                    balance = (limit * Decimal(rng.random() * 0.6)).quantize(Decimal("0.01"))
                elif kind == "time_deposit":
                    matures = self.today + timedelta(days=rng.randrange(-30, 720))
                status = "active" if person["row"][19] != "closed" else "closed"
                rows.append(
                    (
                        person["pk"], kind, _enc(number, Account, "number"),
                        crypto.blind_index(number, purpose=ACCOUNT_NUMBER_INDEX),
                        Account.mask_number(kind, number),
                        rng.choice(products), currency, balance, limit, overdue, opened, matures,
                        status, rng.choice(PRODUCT_RISK) if kind == "wealth" else "",
                    )
                )  # fmt: skip
                accounts.append((person, k, kind))
        with connection.cursor() as cursor:
            with cursor.copy(
                "COPY customers_account (customer_id, kind, number, number_index, number_masked,"
                " product_name, currency, balance, credit_limit, overdue_days, opened_on,"
                " matures_on, status, risk_level) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                "SELECT id, customer_id FROM customers_account WHERE customer_id = ANY(%s)"
                " ORDER BY customer_id, id",
                [[p["pk"] for p in people]],
            )
            by_customer: dict[int, list[int]] = {}
            for account_id, customer_id in cursor.fetchall():
                by_customer.setdefault(customer_id, []).append(account_id)
        self.report.accounts = len(rows)
        return [(person, by_customer[person["pk"]][k], kind, k) for person, k, kind in accounts]

    def seed_transactions(self, accounts: list[tuple]) -> None:
        demo_limit = sum(DEMO_RM_BOOKS.values())
        count = 0
        # A current account's balance must cover its history: walking back from today's
        # balance through the flows (as the 360 chart does) may not go below zero.
        top_ups: list[tuple[int, Decimal]] = []
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY customers_transaction (account_id, customer_id, booked_at, amount, currency,"
                " direction, channel, kind, counterparty_masked, source, external_id) FROM STDIN"
            ) as copy,
        ):
            for person, account_id, kind, k in accounts:
                if kind not in ("current", "card"):
                    continue
                rng = _rng(self.seed, person["i"], 2, k)
                demo = person["i"] < demo_limit
                n = rng.randrange(20, 60) if demo else rng.randrange(1, 5)
                flows: list[tuple[datetime, Decimal]] = []
                for t in range(n):
                    kind_name, direction, channel, low, high = rng.choice(TRANSACTION_KINDS)
                    if kind == "card":
                        kind_name, direction, channel = "刷卡消费", "debit", "pos"
                    booked = datetime.combine(
                        self.today - timedelta(days=rng.randrange(0, 365)),
                        time(rng.randrange(7, 23), rng.randrange(60), rng.randrange(60)),
                        tzinfo=SHANGHAI,
                    )
                    amount = Decimal(rng.randrange(low * 100, high * 100)) / 100
                    counterparty = masking.mask_account(f"62{rng.randrange(10**15):015d}")
                    copy.write_row(
                        (
                            account_id, person["pk"], booked, amount, "CNY", direction,
                            channel, kind_name, counterparty, "seed",
                            f"S{person['i']:09d}-{k:02d}-{t:03d}",
                        )
                    )  # fmt: skip
                    count += 1
                    flows.append((booked, amount if direction == "credit" else -amount))
                if kind == "current":
                    # Before each flow the balance was (today's) − (the flows since); the
                    # largest such sum is what today's balance must at least be.
                    needed, since = Decimal(0), Decimal(0)
                    for _booked, flow in sorted(flows, reverse=True):
                        since += flow
                        needed = max(needed, since)
                    if needed > 0:
                        top_ups.append((account_id, needed + Decimal(rng.randrange(1000, 30000))))
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE seed_top_up (id bigint, balance numeric) ON COMMIT DROP"
            )
            with cursor.copy("COPY seed_top_up (id, balance) FROM STDIN") as copy:
                for row in top_ups:
                    copy.write_row(row)
            cursor.execute(
                "UPDATE customers_account a SET balance = GREATEST(a.balance, t.balance)"
                " FROM seed_top_up t WHERE a.id = t.id"
            )
            cursor.execute("DROP TABLE seed_top_up")
        self.report.transactions = count

    def seed_interactions(self, people: list[dict], demo_users) -> None:
        demo_limit = sum(DEMO_RM_BOOKS.values())
        subjects = [
            ("phone", "outbound", "理财产品到期提醒"),
            ("branch", "inbound", "到店咨询大额存单"),
            ("wechat", "inbound", "咨询信用卡分期"),
            ("app", "inbound", "手机银行转账限额咨询"),
            ("phone", "outbound", "KYC 资料更新提醒"),
            ("email", "outbound", "季度资产报告"),
        ]
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
                    follow_up = None
                    if demo and rng.random() < 0.15:
                        follow_up = self.today + timedelta(days=rng.randrange(-2, 8))
                    copy.write_row(
                        (
                            person["pk"], channel, direction, subject, "", actor,
                            self.now - timedelta(hours=rng.randrange(1, 24 * 300)),
                            follow_up, False,
                        )
                    )  # fmt: skip
                    count += 1
        self.report.interactions = count

    def seed_households(self, people: list[dict]) -> None:
        """The demo RMs' books get families (spouses sharing a household), PIPL consent
        histories and risk levels, so every part of the 360 page has something to show."""
        from customers.models import Consent, Household, Relationship

        demo_limit = sum(DEMO_RM_BOOKS.values())
        book = [p for p in people if p["i"] < demo_limit and p["row"][1] == "individual"]
        relationships, consents = [], []
        for a, b in zip(book[0::10], book[1::10], strict=False):
            surname = a["row"][2][:1]
            household = Household.objects.create(name=f"{surname}家")
            Customer.objects.filter(pk__in=[a["pk"], b["pk"]]).update(household=household)
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

    def seed_tickets(self, demo_users) -> None:
        # The service desk seeds itself (service/demo.py) through its own services.
        from service.demo import seed_service_desk

        customers = list(
            Customer.objects.filter(branch__code=DEMO_BRANCH)
            .order_by("cif")
            .values_list("pk", flat=True)[:400]
        )
        self.report.tickets = seed_service_desk(
            users=demo_users, customer_ids=customers, seed=self.seed
        )

    # ------------------------------------------------------------------ all

    def seed_integration_sources(self) -> None:
        for code, (name, kind, secret) in DEMO_SOURCES.items():
            IntegrationSource.objects.get_or_create(
                code=code, defaults={"name": name, "kind": kind, "secret": secret}
            )

    @transaction.atomic
    def run(self) -> SeedReport:
        self.seed_integration_sources()
        branches, rms_by_branch, demo_users = self.seed_organisation()
        people = self.seed_customers(branches, rms_by_branch, demo_users)
        if people:
            self.progress("accounts")
            accounts = self.seed_accounts(people)
            self.progress(f"transactions for {len(accounts):,} accounts")
            self.seed_transactions(accounts)
            self.progress("interactions")
            self.seed_interactions(people, demo_users)
            self.seed_households(people)
        self.seed_tickets(demo_users)
        # Compliance seeds its own rules and a day of reads to review (compliance/demo.py).
        from compliance.demo import seed_access_history, seed_access_rules

        seed_access_rules()
        seed_access_history(users=demo_users)
        with connection.cursor() as cursor:
            for table in (
                "customers_customer", "customers_account", "customers_transaction",
                "customers_externalidentity",
            ):  # fmt: skip
                cursor.execute(f"ANALYZE {table}")
        return self.report


def seed_demo(*, customers: int, seed: int = 2026, progress=None) -> SeedReport:
    return DemoSeeder(customers=customers, seed=seed, progress=progress).run()
