"""Real browser, end to end through the service desk: an agent takes the most urgent ticket
of their queues, fills the reply from a canned reply (htmx), sends it and resolves the
ticket; a supervisor approves a complaint's resolution from the supervisor view."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from service import services
from service.models import Macro, Notification, Ticket
from tests.browser.test_login_flows import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's expect() waits as long as the pages' default timeout (tests/browser/conftest).
expect.set_options(timeout=15_000)


def test_agent_takes_the_most_urgent_ticket_replies_with_a_canned_reply_and_resolves(
    page, screenshot, desk, agent, supervisor, customer
):
    agent.last_name, agent.first_name = "张", "伟"
    agent.save()
    # The agent already works on one ticket; three wait in the two queues. The one about a
    # card being fraudulently used (盗刷) is routed to card-fraud as P1 (15 minutes to first
    # response): the most urgent though neither the oldest nor in the default queue.
    mine = services.ticket_open(
        actor=agent, customer=customer, subject="修改预留手机号", channel="branch"
    )
    services.ticket_assign(actor=supervisor, ticket=mine, assignee=agent)
    oldest = services.ticket_open(
        actor=agent, customer=customer, subject="开具存款证明", channel="phone"
    )
    urgent = services.ticket_open(
        actor=agent, customer=customer, subject="信用卡被盗刷，请立即冻结", channel="phone"
    )
    services.ticket_open(actor=agent, customer=customer, subject="账单分期咨询", channel="app")
    assert (urgent.priority, urgent.queue, oldest.priority) == ("P1", desk["fraud"], "P3")

    macro = Macro.objects.create(
        title="盗刷受理", body="{name}您好，您的请求 {number} 已由{agent}受理，卡片已临时冻结。"
    )
    Macro.objects.create(title="补充材料", body="{name}您好，请补充身份证明。")
    Macro.objects.create(title="投诉致歉", body="{name}您好，非常抱歉。", category="complaint")

    sign_in(page, "agent")
    expect(page.get_by_test_id("home-title")).to_be_visible()
    page.click("nav a[href='/service/']")
    expect(page).to_have_url(re.compile(r"/service/$"))
    table = page.get_by_test_id("queue-table")
    expect(table.get_by_test_id("ticket-row")).to_have_count(1)
    expect(table.get_by_test_id("ticket-row")).to_contain_text(mine.number)
    screenshot(page, "01-agent-my-tickets")

    page.get_by_test_id("take-next").click()
    expect(page).to_have_url(re.compile(rf"/service/tickets/{urgent.pk}/$"))
    expect(page.get_by_test_id("ticket-number")).to_have_text(urgent.number)
    expect(page.get_by_test_id("assignee")).to_have_text("张伟")
    expect(page.get_by_role("alert")).to_contain_text(urgent.number)
    header = page.get_by_test_id("ticket-header")
    expect(header.locator(".badge.status-assigned")).to_be_visible()

    # Only the macros for any category or this ticket's (card_fraud) are offered.
    select = page.get_by_test_id("macro-select")
    expect(select.locator("option")).to_have_count(2)
    select.select_option(str(macro.pk))
    page.get_by_test_id("macro-form").locator("button[type=submit]").click()
    expected = f"李娜您好，您的请求 {urgent.number} 已由张伟受理，卡片已临时冻结。"
    expect(page.get_by_test_id("reply-body")).to_have_value(expected)
    assert page.url.endswith(f"/service/tickets/{urgent.pk}/")  # htmx, not a page load
    screenshot(page, "02-agent-ticket-canned-reply")

    page.get_by_test_id("send-reply").click()
    expect(page.get_by_test_id("history")).to_contain_text(expected)
    expect(header.locator(".badge.status-in_progress")).to_be_visible()
    expect(page.get_by_test_id("reply-body")).to_have_value("")

    resolve = page.get_by_test_id("resolve-form")
    resolve.locator("textarea[name=resolution]").fill("已冻结卡片并发起争议交易，新卡七日内寄出")
    resolve.locator("button[type=submit]").click()
    expect(header.locator(".badge.status-resolved")).to_be_visible()
    expect(page.get_by_test_id("history")).to_contain_text("已冻结卡片并发起争议交易")
    expect(page.get_by_test_id("close")).to_be_visible()
    expect(page.get_by_test_id("reply-form")).to_have_count(0)
    screenshot(page, "03-agent-ticket-resolved")

    urgent.refresh_from_db()
    assert urgent.status == Ticket.Status.RESOLVED and urgent.assignee == agent
    assert urgent.resolution == "已冻结卡片并发起争议交易，新卡七日内寄出"
    assert urgent.responded_at is not None and urgent.resolved_at is not None
    assert Notification.objects.filter(ticket=urgent, body=expected).count() == 1
    assert Notification.objects.filter(ticket=urgent, key__contains=":resolved:").exists()
    # Nothing else was taken.
    assert list(Ticket.objects.filter(assignee=agent).order_by("pk")) == [mine, urgent]


def test_take_next_gives_a_new_p1_fraud_before_an_overdue_p2_and_the_queue_says_why(
    page, screenshot, desk, agent, customer
):
    # A lost card (P2) has waited past its target for 40 minutes when a card fraud comes
    # in: routed as P1 with 15 minutes to first response. Take next gave the P2 before.
    lost = services.ticket_open(
        actor=agent, customer=customer, subject="银行卡丢失，申请挂失", channel="phone",
        category="card_lost", priority="P2", queue=desk["fraud"],
    )  # fmt: skip
    Ticket.objects.filter(pk=lost.pk).update(due_at=timezone.now() - timedelta(minutes=40))
    fraud = services.ticket_open(
        actor=agent, customer=customer, subject="信用卡被盗刷，请立即冻结", channel="phone"
    )
    assert (fraud.priority, fraud.queue) == ("P1", desk["fraud"])

    sign_in(page, "agent")
    expect(page.get_by_test_id("home-title")).to_be_visible()
    page.goto("/service/queues/card-fraud/")
    rows = page.get_by_test_id("queue-table").get_by_test_id("ticket-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(fraud.number)
    expect(rows.nth(0).get_by_test_id("why-here")).to_have_text(re.compile(r"P1 · 剩余 1\d"))
    expect(rows.nth(1)).to_contain_text(lost.number)
    expect(rows.nth(1).get_by_test_id("why-here")).to_have_text(re.compile(r"P2 · .*已超时 4\d"))
    expect(page.get_by_test_id("queue-order")).to_contain_text("P1 总在 P2 之前")
    screenshot(page, "07-agent-queue-p1-before-overdue-p2")

    page.get_by_test_id("take-next").click()
    expect(page).to_have_url(re.compile(rf"/service/tickets/{fraud.pk}/$"))
    expect(page.get_by_test_id("ticket-number")).to_have_text(fraud.number)
    expect(page.get_by_role("alert")).to_contain_text(fraud.number)
    fraud.refresh_from_db()
    lost.refresh_from_db()
    assert fraud.assignee == agent and lost.assignee is None


def test_supervisor_approves_a_complaint_from_the_supervisor_view(
    page, screenshot, desk, agent, supervisor, customer
):
    complaint = services.ticket_open(
        actor=agent,
        customer=customer,
        subject="投诉：网点排队两小时无人处理",
        channel="branch",
        category="complaint",
    )
    services.ticket_assign(actor=supervisor, ticket=complaint, assignee=agent)
    services.ticket_resolve(actor=agent, ticket=complaint, resolution="已致歉并退还手续费")
    complaint.refresh_from_db()
    assert complaint.status != Ticket.Status.RESOLVED
    assert complaint.approval == Ticket.Approval.REQUESTED

    sign_in(page, "supervisor")
    expect(page.get_by_test_id("home-title")).to_be_visible()
    page.click("nav a[href='/service/supervisor/']")
    approvals = page.get_by_test_id("approvals")
    expect(approvals).to_contain_text(complaint.number)
    expect(approvals).to_contain_text("投诉：网点排队两小时无人处理")
    screenshot(page, "04-supervisor-view")

    approvals.get_by_role("link", name=complaint.number).click()
    expect(page).to_have_url(re.compile(rf"/service/tickets/{complaint.pk}/$"))
    box = page.get_by_test_id("approval-box")
    expect(box).to_contain_text("已致歉并退还手续费")
    screenshot(page, "05-supervisor-complaint-awaiting-approval")

    form = page.get_by_test_id("approval-form")
    form.locator("input[name=decision][value=approve]").check()
    form.locator("input[name=note]").fill("处理得当，同意结案")
    form.locator("button[type=submit]").click()
    header = page.get_by_test_id("ticket-header")
    expect(header.locator(".badge.status-resolved")).to_be_visible()
    expect(page.get_by_test_id("approval-box")).to_have_count(0)
    expect(page.get_by_test_id("history")).to_contain_text("处理得当，同意结案")
    screenshot(page, "06-supervisor-complaint-approved")

    complaint.refresh_from_db()
    assert complaint.status == Ticket.Status.RESOLVED
    assert complaint.approval == Ticket.Approval.APPROVED
    assert complaint.approved_by == supervisor
    assert Notification.objects.filter(ticket=complaint, key__contains=":resolved:").exists()

    # The supervisor view no longer lists it as awaiting approval.
    page.click("nav a[href='/service/supervisor/']")
    expect(page.get_by_test_id("approvals")).not_to_contain_text(complaint.number)
