"""Real browser: an agent takes the next ticket, replies with a canned reply and resolves
it; a supervisor approves a complaint's resolution."""

import pytest

from service import services
from service.models import Macro, Notification, Ticket
from tests.browser.test_login_flows import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_takes_next_replies_with_a_canned_reply_and_resolves(
    page, screenshot, desk, agent, customer
):
    services.ticket_open(actor=agent, customer=customer, subject="开具存款证明", channel="branch")
    urgent = services.ticket_open(
        actor=agent, customer=customer, subject="信用卡被盗刷", channel="phone"
    )
    Macro.objects.create(title="确认受理", body="{name}您好，您的请求 {number} 由{agent}处理。")

    sign_in(page, "agent")
    page.goto("/service/queues/card-fraud/")
    page.wait_for_selector("[data-testid=queue-table] >> text=信用卡被盗刷")
    screenshot(page, "service-queue-zh-hans")
    page.click("[data-testid=take-next]")
    page.wait_for_selector("[data-testid=ticket-header]")
    assert page.inner_text("[data-testid=ticket-number]") == urgent.number  # P1 first
    assert page.inner_text("[data-testid=assignee]") == agent.display_name

    page.click("[data-testid=macro-form] button[type=submit]")
    expected = f"李娜您好，您的请求 {urgent.number} 由{agent.display_name}处理。"
    page.wait_for_function(
        "text => document.querySelector('[data-testid=reply-body]').value === text", arg=expected
    )
    screenshot(page, "service-ticket-canned-reply")
    page.click("[data-testid=send-reply]")
    page.wait_for_selector(f"[data-testid=history] >> text={expected}")

    resolve = page.locator("[data-testid=resolve-form]")
    resolve.locator("textarea[name=resolution]").fill("已冻结卡片并发起争议交易")
    resolve.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=close]")
    urgent.refresh_from_db()
    assert urgent.status == "resolved" and urgent.responded_at is not None
    assert Notification.objects.filter(ticket=urgent, body=expected).exists()


def test_supervisor_approves_a_complaint(page, screenshot, desk, agent, supervisor, customer):
    complaint = services.ticket_open(
        actor=agent,
        customer=customer,
        subject="投诉：排队两小时",
        channel="branch",
        category="complaint",
    )
    services.ticket_resolve(actor=agent, ticket=complaint, resolution="已致歉并退还手续费")

    sign_in(page, "supervisor")
    page.goto("/service/supervisor/")
    page.wait_for_selector(f"[data-testid=approvals] >> text={complaint.number}")
    screenshot(page, "service-supervisor-zh-hans")
    page.click(f"[data-testid=approvals] a:has-text('{complaint.number}')")
    form = page.locator("[data-testid=approval-form]")
    form.locator("input[value=approve]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=close]")
    complaint.refresh_from_db()
    assert complaint.status == "resolved" and complaint.approved_by == supervisor
    assert Ticket.objects.get(pk=complaint.pk).approval == "approved"
