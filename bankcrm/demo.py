"""The demo: `manage.py seed_demo` (run once by `make run`) fills a database with a bank to
try. Core seeds the organisation (branches, one user per role, the RMs who hold books); then
each app's seeder, registered in bankcrm.registry.DEMO_SEEDERS, runs in layer order
(customers, the service desk, compliance, marketing, then analytics), all in one transaction
in the audit context `demo`. Everything is derived from the seed, so a second run adds nothing and a
larger --customers adds only the new customers.

A seeder is `seed(demo)`: it reads what it needs from `demo` (the branches, the demo users,
the RMs of each branch, the seed) and counts what it added with `demo.add(name, n)`. A bulk
load of an audited table goes through `demo.recorded_as_one_load(table)`, which the audit
trail (compliance) provides through bankcrm.registry.BULK_LOAD_RECORDERS.
"""

from __future__ import annotations

import random
import zoneinfo
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction

from bankcrm import registry
from bankcrm.audit import audit_context
from bankcrm.models import Branch, User
from bankcrm.roles import Role

DEMO_PASSWORD = "Bankcrm-Demo-2026"  # noqa: S105 - printed for the demo users
# Who the demo's writes are by in the audit trail.
DEMO_LABEL = "demo"
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
DEMO_USERS = [
    # username, role, last name, first name, is_staff (superuser: the admin only)
    ("rm", Role.RELATIONSHIP_MANAGER, "王", "思远", False),
    ("rm2", Role.RELATIONSHIP_MANAGER, "李", "晓彤", False),
    ("branch_manager", Role.BRANCH_MANAGER, "张", "建国", False),
    ("agent", Role.SERVICE_AGENT, "刘", "婷", False),
    ("agent2", Role.SERVICE_AGENT, "孙", "悦", False),
    ("supervisor", Role.SERVICE_SUPERVISOR, "陈", "志强", False),
    ("compliance", Role.COMPLIANCE_OFFICER, "赵", "敏", False),
    ("products", Role.PRODUCT_MANAGER, "吴", "佳", True),  # staff: the catalogue's admin
    ("marketing", Role.MARKETING_MANAGER, "郑", "洁", False),
    ("admin", Role.ADMIN, "周", "磊", True),
]
RMS_PER_BRANCH = 12

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


def _rng(seed: int, *parts: int) -> random.Random:
    value = seed
    for part in parts:
        value = value * 1_000_003 + part
    return random.Random(value)


@dataclass
class Demo:
    """What the seeders share: the request, the organisation core seeded, and the counts."""

    customers: int
    seed: int
    progress: Callable[[str], None]
    branches: dict[str, Branch] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)  # the demo logins, by username
    rms_by_branch: dict[str, list[int]] = field(default_factory=dict)  # branch code: RM ids
    counts: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, n: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def recorded_as_one_load(self, table: str, **detail) -> AbstractContextManager:
        """A bulk load of an audited table, recorded in the audit trail as one entry (the
        registered recorder says how), or nothing special when no recorder is installed."""
        for factory in registry.BULK_LOAD_RECORDERS:
            return factory(table, **detail)
        return nullcontext()


def seed_demo(*, customers: int, seed: int = 2026, progress=None) -> Demo:
    demo = Demo(customers=customers, seed=seed, progress=progress or (lambda message: None))
    with transaction.atomic(), audit_context(label=DEMO_LABEL):
        _seed_organisation(demo)
        for seeder in registry.DEMO_SEEDERS:
            seeder(demo)
        demo.progress("committing")
    return demo


def _seed_organisation(demo: Demo) -> None:
    """Branches, one user per role (the demo logins) and the RMs who hold the branches' books."""
    for code, name, region in BRANCHES:
        Branch.objects.get_or_create(code=code, defaults={"name": name, "region": region})
    branches = {b.code: b for b in Branch.objects.filter(code__in=[c for c, _, _ in BRANCHES])}
    demo.add("branches", len(branches))

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
                "is_superuser": role == Role.ADMIN,
                "email": f"{username}@demo-bank.cn",
            },
        )
        if created:
            user.groups.add(groups[role])
            demo.add("users", 1)
        demo_users[username] = user
        demo.logins.append((username, str(role.label)))

    # Book-holding RMs per branch, without a usable password: they exist to own books.
    wanted = []
    for code in branches:
        for n in range(1, RMS_PER_BRANCH + 1):
            rng = _rng(demo.seed, 7, n, sum(map(ord, code)))
            surname = rng.choice(SURNAMES)[0]
            given = rng.choice(GIVEN[rng.choice("MF")])[0]
            wanted.append((f"rm_{code.lower()}_{n:02d}", code, surname, given))
    existing = set(
        User.objects.filter(username__in=[w[0] for w in wanted]).values_list("username", flat=True)
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
    demo.add("users", len(new_users))

    rms_by_branch: dict[str, list[int]] = {code: [] for code in branches}
    for pk, code in User.objects.filter(username__startswith="rm_").values_list(
        "pk", "branch__code"
    ):
        rms_by_branch.setdefault(code, []).append(pk)
    for pks in rms_by_branch.values():
        pks.sort()
    demo.branches, demo.rms_by_branch, demo.users = branches, rms_by_branch, demo_users
