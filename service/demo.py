"""The service desk's demo set-up: a calendar with the 2026/27 holidays, three queues,
SLA policies, routing rules, canned replies, knowledge articles and open tickets made
through the real services (so clocks, history and messages are as in use). Idempotent."""

import random
from datetime import date, time, timedelta

from django.utils import timezone

from bankcrm.demo import DEMO_BRANCH
from customers.models import Customer
from service import services
from service.models import (
    BusinessCalendar,
    CalendarException,
    CalendarHours,
    KnowledgeArticle,
    Macro,
    Queue,
    RoutingRule,
    SlaPolicy,
    Ticket,
)

HOLIDAYS = [  # 2026 and early 2027 public holidays on the mainland, and make-up days (调休)
    ("2026-10-01", "国庆节"), ("2026-10-02", "国庆节"), ("2026-10-05", "国庆节"),
    ("2026-10-06", "国庆节"), ("2026-10-07", "国庆节"), ("2027-01-01", "元旦"),
    ("2027-02-05", "春节"), ("2027-02-08", "春节"), ("2027-02-09", "春节"),
    ("2027-02-10", "春节"), ("2027-02-11", "春节"),
]  # fmt: skip
MAKE_UP_DAYS = [("2026-10-10", "国庆调休上班"), ("2027-02-20", "春节调休上班")]

QUEUES = [
    # code, name, 24x7, default
    ("card-fraud", "银行卡盗刷组", True, False),
    ("complaints", "投诉处理组", False, False),
    ("general", "综合服务组", False, True),
]
POLICIES = [
    # priority, category, first response, resolution, 24x7 calendar
    ("P1", "", timedelta(minutes=15), timedelta(hours=4), True),
    ("P2", "", timedelta(hours=1), timedelta(hours=8), False),
    ("P3", "", timedelta(hours=4), timedelta(hours=24), False),
    ("P4", "", timedelta(hours=8), timedelta(hours=40), False),
    ("P3", "complaint", timedelta(hours=2), timedelta(hours=16), False),
]
RULES = [
    # order, name, keywords, category, priority, queue, confirmation
    (10, "盗刷 / 欺诈", "盗刷, 欺诈, 被盗, fraud, stolen, unauthorised", "card_fraud", "P1",
     "card-fraud", "【bankcrm】{name}您好，您反映的银行卡异常交易已受理（编号 {number}），"
     "我们将立即处理；如需冻结卡片请拨打 95500。"),
    (20, "挂失", "挂失, 丢失, lost card", "card_lost", "P2", "card-fraud", ""),
    (30, "投诉", "投诉, complaint", "complaint", "", "complaints", ""),
]  # fmt: skip
MACROS = [
    ("确认受理", "{name}您好，您的服务请求 {number} 已由我（{agent}）负责处理，"
     "我们会在处理完毕后第一时间通知您。"),
    ("需要补充材料", "{name}您好，为处理您的请求 {number}，请提供身份证正反面照片及交易截图，"
     "可通过手机银行“我的-服务请求”上传。"),
    ("盗刷处理说明", "{name}您好，您的卡片已临时冻结。我们已发起争议交易调查，"
     "调查结果将在 7 个工作日内告知您（编号 {number}）。"),
]  # fmt: skip
ARTICLES = [
    ("信用卡盗刷处理流程", "card_fraud", "1. 立即临时冻结卡片。\n2. 核实交易时间、地点与金额。\n"
     "3. 发起争议交易（拒付）申请。\n4. 告知客户 7 个工作日内反馈结果。"),
    ("账户冻结的常见原因", "account", "司法冻结、反洗钱风险控制、长期不动户、密码多次错误。"
     "司法冻结需客户联系执行机关；其他情况可在核实身份后解除。"),
    ("投诉处理与升级规范", "complaint", "投诉须在 2 小时内首次回复，16 个工作小时内解决；"
     "解决方案须经主管审批后方可答复客户。"),
    ("开具存款证明", "enquiry", "客户可在网点或手机银行申请，手续费每份 20 元，当场或次日出具。"),
]  # fmt: skip
SUBJECTS = [
    # subject, category, the customer's words (analytics scores their sentiment)
    ("信用卡盗刷，要求冻结", "card_fraud",
     "凌晨收到两笔境外消费短信，本人没有操作，卡一直在身边，要求立即冻结并追回损失。"),
    ("银行卡丢失，申请挂失", "card_lost", "借记卡在地铁上丢失，已电话临时挂失，需要补办新卡。"),
    ("账户被冻结，无法转账", "account",
     "工资卡突然不能转账，非常着急，已经耽误了还房贷，很不满意。"),
    ("手机银行无法登录", "account", "手机银行升级后一直提示登录失败，试了很多次都不行，太麻烦了。"),
    ("理财产品赎回未到账", "wealth", "理财产品赎回三天了还没到账，处理太慢，非常失望。"),
    ("贷款还款日期变更咨询", "loan", "想把房贷还款日改到每月15日发工资之后，请问怎么办理。"),
    ("投诉：网点排队时间过长", "complaint", "在网点排队一个多小时，只开了两个窗口，服务太差。"),
    ("信用卡额度调整申请", "enquiry", "收入提高了，申请把信用卡额度调到五万元。"),
    ("开具存款证明", "enquiry", "办理签证需要存款证明，希望本周内能拿到。"),
    ("更新预留手机号", "account", "换了新手机号，需要更新预留手机号，工作人员很耐心，谢谢。"),
]  # fmt: skip
TICKETS = 60


def seed_calendars() -> tuple[BusinessCalendar, BusinessCalendar]:
    office, made = BusinessCalendar.objects.get_or_create(name="工作日 9:00–17:30")
    if made:
        for weekday in range(5):
            CalendarHours.objects.create(calendar=office, weekday=weekday, opens=time(9),
                                         closes=time(12))  # fmt: skip
            CalendarHours.objects.create(calendar=office, weekday=weekday, opens=time(13),
                                         closes=time(17, 30))  # fmt: skip
        for day, name in HOLIDAYS:
            CalendarException.objects.create(calendar=office, date=date.fromisoformat(day),
                                             name=name)  # fmt: skip
        for day, name in MAKE_UP_DAYS:
            CalendarException.objects.create(
                calendar=office, date=date.fromisoformat(day), name=name, working=True,
                opens=time(9), closes=time(17, 30),
            )  # fmt: skip
    always, made = BusinessCalendar.objects.get_or_create(name="7×24 小时")
    if made:
        for weekday in range(7):
            CalendarHours.objects.create(calendar=always, weekday=weekday, opens=time(0),
                                         closes=time(23, 59, 59, 999999))  # fmt: skip
    return office, always


def seed_service_desk(*, users: dict, customer_ids: list[int], seed: int = 2026) -> int:
    """Returns how many tickets it opened (none when the demo desk has its tickets)."""
    office, always = seed_calendars()
    queues = {}
    for code, name, round_the_clock, default in QUEUES:
        queue, _ = Queue.objects.get_or_create(
            code=code,
            defaults={"name": name, "calendar": always if round_the_clock else office,
                      "is_default": default, "supervisor": users.get("supervisor"),
                      "head": users.get("branch_manager")},
        )  # fmt: skip
        queue.members.add(*[u for k, u in users.items() if k in ("agent", "agent2")])
        queues[code] = queue
    for priority, category, first, resolve, round_the_clock in POLICIES:
        SlaPolicy.objects.get_or_create(
            priority=priority, category=category,
            defaults={"first_response": first, "resolution": resolve,
                      "calendar": always if round_the_clock else None},
        )  # fmt: skip
    for order, name, keywords, category, priority, queue, confirmation in RULES:
        RoutingRule.objects.get_or_create(
            name=name,
            defaults={"order": order, "keywords": keywords, "category": category,
                      "set_priority": priority, "set_category": category,
                      "set_queue": queues[queue], "confirmation": confirmation},
        )  # fmt: skip
    for title, body in MACROS:
        Macro.objects.get_or_create(title=title, defaults={"body": body})
    for title, category, body in ARTICLES:
        KnowledgeArticle.objects.get_or_create(
            title=title, defaults={"category": category, "body": body}
        )
    if Ticket.objects.exists() or not customer_ids:
        return 0
    rng = random.Random(seed)
    customers = list(Customer.objects.filter(pk__in=customer_ids))
    now = timezone.now()
    agent = users.get("agent")
    opened = 0
    for n in range(TICKETS):
        subject, category, description = rng.choice(SUBJECTS)
        ticket = services.ticket_open(
            actor=agent, customer=rng.choice(customers), subject=subject,
            description=description, channel=rng.choice(Ticket.Channel.values),
            category=category,
            opened_at=now - timedelta(minutes=rng.randrange(5, 12 * 60)),
        )  # fmt: skip
        opened += 1
        if agent is not None and n % 3 == 0:
            services.ticket_assign(actor=agent, ticket=ticket, assignee=agent)
            if n % 2 == 0:
                body = Macro.objects.get(title=MACROS[0][0]).render(ticket=ticket, agent=agent)
                services.ticket_reply(actor=agent, ticket=ticket, body=body)
    return opened


def seed(demo) -> None:
    """The service desk's part of the demo (bankcrm.registry.DEMO_SEEDERS): its set-up and
    tickets for the first customers of the demo branch."""
    customers = list(
        Customer.objects.filter(branch__code=DEMO_BRANCH)
        .order_by("cif")
        .values_list("pk", flat=True)[:400]
    )
    demo.add("tickets", seed_service_desk(users=demo.users, customer_ids=customers, seed=demo.seed))
