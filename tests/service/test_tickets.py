"""Opening and working tickets through the services: numbers, routing, clocks in business
hours, pauses, complaint approval, surveys, and what the customer is told."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction

from service import services, sla
from service.models import Notification, Survey, Ticket, TicketEvent
from service.services import TicketStateError

pytestmark = pytest.mark.django_db

# Tuesday 29 September 2026, 10:00 in Shanghai: the day before the National Day week.
TUESDAY_10 = datetime(2026, 9, 29, 2, tzinfo=UTC)


def open_ticket(agent, customer, **kwargs):
    kwargs.setdefault("subject", "手机银行无法登录")
    kwargs.setdefault("channel", Ticket.Channel.PHONE)
    return services.ticket_open(actor=agent, customer=customer, **kwargs)


@time_machine.travel(TUESDAY_10, tick=False)
def test_a_ticket_gets_a_yearly_number_the_default_queue_and_business_hour_clocks(
    desk, agent, customer
):
    first = open_ticket(agent, customer)
    second = open_ticket(agent, customer)
    assert first.number == "SR-2026-000001" and second.number == "SR-2026-000002"
    assert first.queue == desk["general"] and first.priority == "P3"
    # 4 working hours from Tuesday 10:00 (lunch 12–13): 15:00 the same day.
    assert first.response_due_at == datetime(2026, 9, 29, 7, tzinfo=UTC)
    # 16 working hours: Tuesday 7 h left, Wednesday 8 h, the holiday week closed, Thursday
    # 8 October one more hour: 10:00.
    assert first.resolve_due_at == datetime(2026, 10, 8, 2, tzinfo=UTC)
    assert first.due_at == first.response_due_at
    # The 80% warning comes first; the sweep looks at it then.
    assert first.sla_check_at == first.response_warn_at < first.response_due_at
    assert [e.kind for e in first.events.all()] == [TicketEvent.Kind.CREATED]


@time_machine.travel(TUESDAY_10, tick=False)
def test_routing_rules_match_chinese_and_english_keywords_and_confirm_with_the_number(
    desk, agent, customer
):
    chinese = open_ticket(agent, customer, subject="信用卡被盗刷了")
    english = open_ticket(agent, customer, subject="Card FRAUD reported", channel="email")
    for ticket in (chinese, english):
        assert (ticket.priority, ticket.category, ticket.queue) == (
            "P1",
            "card_fraud",
            desk["fraud"],
        )
        # P1 runs 24×7: 15 minutes, whatever the office hours.
        assert ticket.response_due_at == TUESDAY_10 + timedelta(minutes=15)
        assert ticket.events.filter(kind=TicketEvent.Kind.ROUTED, new="盗刷").exists()
    sms = Notification.objects.get(ticket=chinese)
    assert sms.channel == "sms"
    assert sms.body == f"【bankcrm】李娜您好，已受理，编号 {chinese.number}。"
    assert sms.customer_id == customer.pk and not sms.user_id
    # Written by e-mail, answered by e-mail.
    assert Notification.objects.get(ticket=english).channel == "email"
    # An explicit choice beats the rule.
    chosen = open_ticket(agent, customer, subject="盗刷?", priority="P3", queue=desk["general"])
    assert (chosen.priority, chosen.queue) == ("P3", desk["general"])


def test_an_unmatched_ticket_gets_the_default_confirmation(desk, agent, customer):
    ticket = open_ticket(agent, customer)
    text = Notification.objects.get(ticket=ticket).body
    assert ticket.number in text and "李娜" in text


def test_a_reply_stops_the_first_response_clock_and_goes_to_the_customer(desk, agent, customer):
    with time_machine.travel(TUESDAY_10, tick=False):
        ticket = open_ticket(agent, customer)
    with time_machine.travel(TUESDAY_10 + timedelta(hours=1), tick=False):
        services.ticket_reply(actor=agent, ticket=ticket, body="您好，正在处理。")
    ticket.refresh_from_db()
    assert ticket.status == "in_progress" and ticket.assignee == agent
    assert ticket.responded_at == TUESDAY_10 + timedelta(hours=1)
    assert ticket.response_warn_at is None
    assert ticket.due_at == ticket.resolve_due_at
    assert ticket.escalate_at == ticket.resolve_due_at  # the next breach is the resolution's
    assert Notification.objects.filter(ticket=ticket, body="您好，正在处理。").count() == 1
    # A note stays inside.
    services.ticket_reply(actor=agent, ticket=ticket, body="客户情绪激动", internal=True)
    assert not Notification.objects.filter(body="客户情绪激动").exists()
    assert ticket.events.filter(kind="note", body="客户情绪激动").exists()


def test_waiting_for_the_customer_stops_the_clocks_for_the_working_time_it_takes(
    desk, agent, customer
):
    with time_machine.travel(TUESDAY_10, tick=False):
        ticket = open_ticket(agent, customer)
        services.ticket_assign(actor=agent, ticket=ticket, assignee=agent)
        due_before = Ticket.objects.get(pk=ticket.pk).resolve_due_at
    # Paused Tuesday 11:00, resumed Thursday 8 October 10:00: working time in between is
    # Tuesday 11–12 and 13–18 (6 h), Wednesday (8 h) and Thursday 9–10 (1 h) = 15 h.
    with time_machine.travel(TUESDAY_10 + timedelta(hours=1), tick=False):
        services.ticket_transition(actor=agent, ticket=ticket, to="pending_customer")
    paused = Ticket.objects.get(pk=ticket.pk)
    assert paused.paused_at is not None and paused.sla_check_at is None
    assert paused.responded_at is not None  # asking the customer is a response
    with time_machine.travel(datetime(2026, 10, 8, 2, tzinfo=UTC), tick=False):
        services.ticket_transition(actor=agent, ticket=ticket, to="in_progress")
    resumed = Ticket.objects.get(pk=ticket.pk)
    assert resumed.paused_at is None
    hours = sla.ticket_hours(resumed)
    assert hours.between(due_before, resumed.resolve_due_at) == timedelta(hours=15)
    assert resumed.sla_check_at is not None


def test_two_clicks_on_the_same_transition_change_it_once(desk, agent, customer):
    ticket = open_ticket(agent, customer)
    services.ticket_transition(actor=agent, ticket=ticket, to="in_progress")
    with pytest.raises(TicketStateError):
        services.ticket_transition(actor=agent, ticket=ticket, to="in_progress")
    assert ticket.events.filter(kind="status", new="in_progress").count() == 1


def test_a_complaint_is_resolved_only_after_a_supervisor_approves(
    desk, agent, supervisor, customer
):
    ticket = open_ticket(agent, customer, subject="投诉：排队太久", category="complaint")
    assert ticket.response_due_at - ticket.created_at <= timedelta(hours=26)  # its own policy
    services.ticket_resolve(actor=agent, ticket=ticket, resolution="已致歉并赠送积分")
    ticket.refresh_from_db()
    assert ticket.status != "resolved" and ticket.approval == "requested"
    # The database refuses a resolved complaint without approval, whatever the path.
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(status="resolved")
    services.ticket_approve(actor=supervisor, ticket=ticket, approve=False, note="补偿不足")
    ticket.refresh_from_db()
    assert ticket.approval == "rejected" and ticket.is_open
    services.ticket_resolve(actor=agent, ticket=ticket, resolution="退还手续费并致歉")
    services.ticket_approve(actor=supervisor, ticket=ticket, approve=True)
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.approved_by == supervisor
    assert ticket.sla_check_at is None and ticket.resolved_at is not None
    told = Notification.objects.filter(ticket=ticket, key__contains=":resolved:")
    expected = f"【bankcrm】您的服务请求 {ticket.number} 已处理完毕。退还手续费并致歉"
    assert [n.body for n in told] == [expected]


def test_closing_sends_one_survey_whose_single_answer_feeds_the_ticket(desk, agent, customer):
    ticket = open_ticket(agent, customer)
    services.ticket_resolve(actor=agent, ticket=ticket, resolution="已处理")
    services.ticket_transition(actor=agent, ticket=ticket, to="closed")
    survey = Survey.objects.get(ticket=ticket)
    message = Notification.objects.get(ticket=ticket, key=f"ticket:{ticket.pk}:survey")
    token = message.body.rsplit("/s/", 1)[1].rstrip("/")
    assert survey.token_hash == services.survey_token_hash(token)
    assert token not in str(Survey.objects.values().get())  # only its hash is kept
    found = services.survey_for_token(token)
    assert services.survey_answer(survey=found, score=4, comment="还不错")
    assert not services.survey_answer(survey=found, score=1, comment="改主意了")
    ticket.refresh_from_db()
    assert ticket.satisfaction == 4 and ticket.status == "closed"
    assert ticket.events.filter(kind="survey", new="4").count() == 1
    # Reopened and closed again: still one survey.
    services.ticket_reopen(actor=agent, ticket=ticket, reason="客户再次来电")
    services.ticket_resolve(actor=agent, ticket=ticket, resolution="再次处理")
    services.ticket_transition(actor=agent, ticket=ticket, to="closed")
    assert Survey.objects.filter(ticket=ticket).count() == 1


def test_a_reopened_ticket_continues_its_clock_where_it_stood(desk, agent, customer):
    with time_machine.travel(TUESDAY_10, tick=False):
        ticket = open_ticket(agent, customer)
        services.ticket_resolve(actor=agent, ticket=ticket, resolution="已处理")
    resolved = Ticket.objects.get(pk=ticket.pk)
    assert resolved.sla_check_at is None
    with time_machine.travel(datetime(2026, 10, 8, 2, tzinfo=UTC), tick=False):
        services.ticket_reopen(actor=agent, ticket=ticket, reason="问题未解决")
    reopened = Ticket.objects.get(pk=ticket.pk)
    assert reopened.status == "in_progress" and reopened.resolved_at is None
    # Resolved at once, so all 16 working hours remain from Thursday 8 October 10:00:
    # Thursday 7 h, Friday 8 h, and the make-up Saturday 10 October 9–10.
    assert reopened.resolve_due_at == datetime(2026, 10, 10, 2, tzinfo=UTC)


def test_a_new_priority_restarts_the_clocks_under_its_policy(desk, agent, supervisor, customer):
    ticket = open_ticket(agent, customer)
    services.ticket_move(actor=supervisor, ticket=ticket, priority="P1", queue=desk["fraud"])
    ticket.refresh_from_db()
    assert ticket.priority == "P1" and ticket.queue == desk["fraud"]
    assert ticket.resolve_due_at == ticket.created_at + timedelta(hours=4)
    assert {e.kind for e in ticket.events.all()} >= {"priority", "queue"}


def test_the_history_names_an_approval_request_without_a_from_label(desk, agent, customer):
    from django.utils import translation

    complaint = open_ticket(agent, customer, subject="投诉", category="complaint")
    services.ticket_resolve(actor=agent, ticket=complaint, resolution="已致歉")
    event = complaint.events.get(kind="approval")
    with translation.override("zh-hans"):
        assert (event.old_label, event.new_label) == ("", "待主管审批")
