from datetime import timedelta

import pytest
from django.utils import timezone

from bankcrm.audit import SYSTEM
from bankcrm.roles import Role
from customers.models import Consent
from marketing import services
from marketing.models import Segment
from tests import factories


@pytest.fixture
def marketer(marketing_manager):
    return marketing_manager


@pytest.fixture
def second_marketer(branch):
    return factories.user(Role.MARKETING_MANAGER, branch=branch, username="marketer2")


def consent(customer, channel="all", granted=True, source="branch form", at=None):
    return Consent.objects.create(
        customer=customer,
        purpose=Consent.Purpose.MARKETING,
        channel=channel,
        granted=granted,
        source=source,
        recorded_at=at or timezone.now() - timedelta(days=1),
    )


def segment(owner, conditions=None, **fields):
    return services.segment_create(
        actor=owner,
        context=SYSTEM,
        name=fields.pop("name", "测试客群"),
        kind=fields.pop("kind", Segment.Kind.DYNAMIC),
        conditions=conditions,
    )


def cond(field, op, value=None, days=None):
    out = {"field": field, "op": op}
    if value is not None:
        out["value"] = value
    if days is not None:
        out["days"] = days
    return out


def tree(*children, op="and"):
    return {"op": op, "children": list(children)}
