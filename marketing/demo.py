"""Marketing's part of the demo (bankcrm.registry.DEMO_SEEDERS, after compliance): the
lifecycle journeys a bank starts with, segments of the three kinds over the demo RMs'
books, and two campaigns of the marketing manager — a draft, and one approved by
compliance and launched (its deliveries written with every send-time check; the worker
sends them). Everything goes through the services, as the marketing manager, the RM and
the compliance officer would; everything is found again by name, so a second run adds
nothing."""

from decimal import Decimal

from django.utils import timezone

from bankcrm.audit import SYSTEM, audit_context
from bankcrm.demo import DEMO_LABEL
from customers.models import Customer, Product
from marketing import services
from marketing.models import Campaign, Journey, Segment


def _as(actor, service, **kwargs):
    """A marketing service run as `actor`, its writes in the trail by that user and labelled
    `demo` like the rest of the seed (the service's own acts() would drop the label)."""
    with audit_context(actor=actor, label=DEMO_LABEL):
        return service.__wrapped__(actor=actor, context=SYSTEM, **kwargs)


JOURNEYS = [
    # name, trigger, days ahead, channel, Chinese text, English text
    ("生日祝福", "birthday", 0, "sms", "{name}您好，祝您生日快乐！感谢您一直以来对本行的支持。",
     "Happy birthday, {name}! Thank you for banking with us."),
    ("定期存款到期续存提醒", "maturity", 7, "sms",
     "{name}您好，您的定期存款或理财产品将于近日到期，欢迎到网点或手机银行办理续存。",
     "{name}, a deposit or wealth product of yours matures soon: renew it in the app or at a "
     "branch."),
    ("身份证件到期提醒", "kyc_expiry", 30, "sms",
     "{name}您好，您在本行登记的身份证件即将到期，请携带新证件到网点更新信息。",
     "{name}, the ID you registered with us expires soon: please bring the new one to a "
     "branch."),
    ("风险测评到期提醒", "risk_expiry", 30, "app",
     "{name}您好，您的风险承受能力测评即将到期，请在手机银行重新测评。",
     "{name}, your risk assessment expires soon: take the questionnaire again in the app."),
    ("沉睡客户唤醒", "dormant", 180, "sms",
     "{name}您好，好久不见！手机银行新增多项便民服务，欢迎回来体验。",
     "{name}, it has been a while: the app has new services for you."),
]  # fmt: skip

DYNAMIC = "王经理、李经理名下有短信营销授权的个人客户"
STATIC = "财富沙龙邀请名单"
DRAFT = "稳健增利一年期理财推介（草稿）"
LAUNCHED = "沪深300指数基金定投推广"
DRAFT_PRODUCT, LAUNCHED_PRODUCT = "WM-R3-1Y", "FD-CSI300"


def seed_journeys() -> int:
    created = 0
    for name, trigger, days, channel, body, body_en in JOURNEYS:
        _journey, new = Journey.objects.get_or_create(
            name=name, defaults={"trigger": trigger, "days_ahead": days, "channel": channel,
                                 "body": body, "body_en": body_en},
        )  # fmt: skip
        created += new
    return created


def _segment(owner, name: str, kind: str, conditions=None) -> tuple[Segment, bool]:
    found = Segment.objects.filter(owner=owner, name=name).first()
    if found is not None:
        return found, False
    segment = _as(owner, services.segment_create, name=name, kind=kind, conditions=conditions)
    return segment, True


def seed_segments(users: dict) -> tuple[int, Segment | None]:
    """A dynamic segment of the marketing manager over the demo RMs' books (individuals
    with an SMS consent, active, with a transaction in 90 days), its snapshot, and the
    demo RM's static list of a dozen of their customers."""
    marketer, rm, rm2 = users.get("marketing"), users.get("rm"), users.get("rm2")
    if marketer is None or rm is None or rm2 is None:
        return 0, None
    conditions = {"op": "and", "children": [
        {"field": "rm", "op": "in", "value": [str(rm.pk), str(rm2.pk)]},
        {"field": "kind", "op": "in", "value": ["individual"]},
        {"field": "lifecycle", "op": "in", "value": ["active"]},
        {"field": "consent", "op": "in", "value": ["sms"]},
        {"field": "last_activity", "op": "within", "value": 90},
    ]}  # fmt: skip
    dynamic, new_dynamic = _segment(marketer, DYNAMIC, Segment.Kind.DYNAMIC, conditions)
    created = int(new_dynamic)
    if new_dynamic:
        services.segment_count(segment=dynamic)
        _as(marketer, services.segment_freeze, segment=dynamic)
        created += 1
    static, new_static = _segment(rm, STATIC, Segment.Kind.STATIC)
    if new_static:
        cifs = list(
            Customer.objects.filter(primary_rm=rm, tier__in=["affluent", "wealth", "private"])
            .order_by("cif").values_list("cif", flat=True)[:12]
        )  # fmt: skip
        _as(rm, services.segment_add_cifs, segment=static, cifs=cifs)
        services.segment_count(segment=static)
        created += 1
    return created, dynamic


def _draft(name: str, segment: Segment, product: Product | None, text: str, text_b: str = "",
           email: tuple[str, str] | None = None):  # fmt: skip
    """SMS texts (A, and B for an A/B split), and an e-mail of its own (subject, text)."""
    texts = {("sms", "A", "zh-hans"): text,
             ("sms", "A", "en"): "Dear {name}, {product} is now on sale."}  # fmt: skip
    subjects, channels = {}, ["sms"]
    variants = [("A", 100)]
    if text_b:
        texts[("sms", "B", "zh-hans")] = text_b
        variants = [("A", 50), ("B", 50)]
    if email:
        channels.append("email")
        subjects[("email", "zh-hans")], texts[("email", "A", "zh-hans")] = email
    return services.CampaignDraft(
        name=name, segment=segment, channels=channels, product=product, control_percent=10,
        variants=variants, texts=texts, subjects=subjects, goal=Campaign.Goal.PRODUCT_BOUGHT,
        goal_days=30, costs={"sms": Decimal("0.05"), "email": Decimal("0.01")},
    )  # fmt: skip


def seed_campaigns(users: dict, segment: Segment | None) -> int:
    """A draft, and a launched campaign with an A/B split and a 10% control group, both by
    the marketing manager; compliance approved the launched one. Products of the demo
    catalogue with a risk disclosure; skipped if the catalogue lacks them."""
    marketer, compliance = users.get("marketing"), users.get("compliance")
    if segment is None or compliance is None:
        return 0
    products = {p.code: p for p in Product.objects.filter(
        code__in=[DRAFT_PRODUCT, LAUNCHED_PRODUCT])}  # fmt: skip
    day = timezone.localdate()
    created = 0
    existing = set(
        Campaign.objects.filter(name__in=[DRAFT, LAUNCHED]).values_list("name", flat=True)
    )
    draft_product = products.get(DRAFT_PRODUCT)
    if DRAFT not in existing:
        _as(marketer, services.campaign_save, draft=_draft(
            DRAFT, segment, draft_product if draft_product and draft_product.is_on_sale(day)
            else None, "{name}您好，{product}正在发售，业绩比较基准稳健，欢迎咨询您的客户经理。",
            email=("{product}正在发售", "尊敬的{name}：\n{product}现已发售。产品说明书、风险揭示书"
                   "和历史业绩见手机银行“理财”频道，您的客户经理也可为您详细介绍。"),
        ))  # fmt: skip
        created += 1
    product = products.get(LAUNCHED_PRODUCT)
    if LAUNCHED not in existing and product is not None and product.is_on_sale(day):
        campaign = _as(marketer, services.campaign_save, draft=_draft(
            LAUNCHED, segment, product,
            "{name}您好，{product}支持每月定投，100元起投，分散入市时点。",
            "{name}您好，长期投资选{product}，一键开通定投，省心省力。",
        ))  # fmt: skip
        _as(marketer, services.campaign_submit, campaign=campaign)
        _as(compliance, services.campaign_approve, campaign=campaign)
        _as(marketer, services.campaign_launch, campaign=campaign)
        created += 1
    return created


def seed(demo) -> None:
    demo.add("journeys", seed_journeys())
    segments, dynamic = seed_segments(demo.users)
    demo.add("segments", segments)
    demo.add("campaigns", seed_campaigns(demo.users, dynamic))
