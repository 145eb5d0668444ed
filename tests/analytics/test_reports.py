"""Reports: generated in each format from the snapshots and opened back (openpyxl reads the
workbook; the PDF's text is taken out of its page streams), stored encrypted, downloadable
by the recipients' roles within their branch, each download an audited export; the
scheduled runs made once; compliance's monthly data-usage report from the access log."""

import base64
import csv
import io
import re
import zlib
from datetime import date, datetime, time

import pytest
from django.db import connection
from django.urls import reverse
from openpyxl import load_workbook

from analytics.features import SHANGHAI
from analytics.kpi import kpi_snapshot
from analytics.models import ReportDefinition, ReportRun
from analytics.reports import report_generate, reports_generate_waiting, reports_schedule_due
from bankcrm.audit import SYSTEM, access_row, record_access
from bankcrm.models import AccessLog
from bankcrm.roles import Role
from tests import factories
from tests.analytics.kpi_world import D, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(branch, other_branch, rm, other_rm, marketing_manager):
    approver = factories.user(Role.MARKETING_MANAGER, branch=branch, username="approver")
    w = build(branch, other_branch, rm, other_rm, marketing_manager, approver)
    kpi_snapshot(D)
    return w


def definition(fmt, *, branch=None, dashboard="book", roles=(Role.BRANCH_MANAGER,), **extra):
    return ReportDefinition.objects.create(
        name="月度经营报表", dashboard=dashboard, branch=branch, format=fmt,
        recipient_roles=list(roles), **extra,
    )  # fmt: skip


def generated(d: ReportDefinition) -> tuple[ReportRun, bytes]:
    run = ReportRun.objects.create(definition=d, period="2025-03", as_of=D)
    assert report_generate(run.pk)
    run.refresh_from_db()
    assert run.status == ReportRun.Status.DONE, run.failure
    return run, base64.b64decode(run.content)


def _unescape(match) -> bytes:
    """One escape of a PDF literal string: octal, \\n and friends, or the character."""
    code = match[1]
    if code[:1].isdigit():
        return bytes([int(code, 8)])
    return {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(code, code)


def pdf_text(pdf: bytes) -> str:
    """The text of the page streams (reportlab's /ASCII85Decode /FlateDecode), where the
    CID font's strings are UCS-2 (UTF-16BE) literals, escaped as PDF literal strings."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        stream = stream.strip()
        if stream.endswith(b"~>"):
            stream = zlib.decompress(base64.a85decode(stream[:-2]))
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", stream, re.S):
            raw = re.sub(rb"\\([0-7]{1,3}|.)", _unescape, literal)
            text = (
                raw.decode("utf-16-be", "replace") if len(raw) % 2 == 0 else raw.decode("latin-1")
            )
            out.append(text)
    return "\n".join(out)


def test_excel_has_chinese_headers_number_formats_and_the_figures(world):
    run, content = generated(definition("xlsx", branch=world.sh))
    # Stored encrypted: the column holds a token, not the workbook.
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM analytics_reportrun WHERE id = %s", [run.pk])
        assert cursor.fetchone()[0].startswith("v")
    book = load_workbook(io.BytesIO(content))
    trend = book[book.sheetnames[1]]
    assert [c.value for c in trend[3]][:4] == ["月份", "存款", "贷款", "管理资产"]
    last = list(trend[trend.max_row])
    assert last[0].value == "2025-03" and last[1].value == 12500
    assert last[1].number_format == "#,##0.00" and last[7].number_format == "0.0%"
    assert last[7].value == 0.5  # retention
    tiers = book[book.sheetnames[2]]
    assert [r[0].value for r in tiers.iter_rows(min_row=4)] == ["大众客户", "富裕客户"]


def test_csv_and_pdf_open_back(world):
    _run, content = generated(definition("csv", branch=world.sh))
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[rows.index(next(r for r in rows if r[:1] == ["月份"])) + 1][:2] == [
        "2025-03",
        "12500.0",
    ]
    _run, pdf = generated(definition("pdf", branch=world.sh))
    assert pdf.startswith(b"%PDF-") and b"STSong-Light" in pdf
    text = pdf_text(pdf)
    assert "存款" in text and "按价值层级" in text
    assert "12,500.00" in text


def test_service_and_campaign_reports(world):
    _run, content = generated(definition("csv", branch=world.sh, dashboard="service"))
    assert "KPI 队列,1,2,0.5,4.0" in content.decode("utf-8-sig")
    _run, content = generated(definition("csv", dashboard="campaigns", roles=[Role.ADMIN]))
    assert "春季理财,2,1,0.1,800.0,7999.0" in content.decode("utf-8-sig")


def test_downloads_are_for_recipients_in_scope_and_audited(world, client, login, branch_manager,
                                                          rm, admin_user):  # fmt: skip
    run, content = generated(definition("xlsx", branch=world.sh))
    url = reverse("analytics:report-download", args=[run.pk])
    login(branch_manager)
    response = client.get(url)
    assert response.status_code == 200 and response.content == content
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    log = AccessLog.objects.get(action=AccessLog.Action.EXPORT, object_type="analytics.reportrun")
    assert (log.actor, log.object_id, log.detail["format"]) == (branch_manager, str(run.pk), "xlsx")
    assert reverse("analytics:report-download", args=[run.pk]) in client.get(
        reverse("analytics:reports")).content.decode()  # fmt: skip
    for outsider in (world.bj_manager, rm, admin_user):  # another branch; not recipients
        login(outsider)
        assert client.get(url).status_code == 404
    assert AccessLog.objects.filter(action=AccessLog.Action.EXPORT).count() == 1


def test_on_demand_run_is_generated_on_commit(world, client, login, branch_manager,
                                              django_capture_on_commit_callbacks):  # fmt: skip
    d = definition("pdf", branch=world.sh)
    login(branch_manager)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("analytics:report-request", args=[d.pk]))
    assert response.status_code == 302 and len(callbacks) == 1
    run = ReportRun.objects.get(definition=d)
    assert (run.status, run.requested_by) == (ReportRun.Status.PENDING, branch_manager)
    assert reports_generate_waiting() == 1
    assert reports_generate_waiting() == 0  # taken once
    run.refresh_from_db()
    assert run.status == ReportRun.Status.DONE
    login(world.bj_manager)
    assert client.post(reverse("analytics:report-request", args=[d.pk])).status_code == 404


def test_scheduled_runs_are_made_once(world):
    monthly = definition("xlsx", branch=world.sh)
    weekly = definition("csv", branch=world.sh, schedule="weekly")
    definition("csv", branch=world.sh, schedule="on_demand")
    assert reports_schedule_due(today=date(2025, 4, 1)) == 1  # a Tuesday, the 1st
    assert reports_schedule_due(today=date(2025, 4, 1)) == 0
    assert ReportRun.objects.get().definition == monthly
    assert ReportRun.objects.get().period == "2025-03"
    assert reports_schedule_due(today=date(2025, 4, 7)) == 1  # a Monday
    assert ReportRun.objects.get(definition=weekly).period == "2025-W15"


def test_compliance_gets_the_month_of_data_usage(world, compliance_officer, branch_manager,
                                                 client, login):  # fmt: skip
    for action, customer in (("view", world.a), ("view", world.b), ("reveal", world.a),
                             ("export", None)):  # fmt: skip
        row = access_row(actor=branch_manager, context=SYSTEM, action=action,
                         object_type="customers.customer",
                         customer_id=customer.pk if customer else None)  # fmt: skip
        row.at = datetime.combine(date(2025, 3, 15), time(10), tzinfo=SHANGHAI)
        row.save(force_insert=True)
    record_access(
        actor=branch_manager,
        context=SYSTEM,
        action="view",
        object_type="customers.customer",
        customer_id=world.a.pk,
    )  # now: not March
    d = definition("csv", dashboard="data_usage", roles=[Role.COMPLIANCE_OFFICER])
    run = ReportRun.objects.create(definition=d, period="2025-03", as_of=date(2025, 4, 1))
    assert report_generate(run.pk)
    run.refresh_from_db()
    text = base64.b64decode(run.content).decode("utf-8-sig")
    lines = [line for line in text.splitlines() if line.startswith(branch_manager.username)]
    assert [line.split(",")[2:] for line in lines] == [
        ["导出", "customers.customer", "1", "0"],
        ["查看完整证件信息", "customers.customer", "1", "1"],
        ["查看客户", "customers.customer", "2", "2"],  # A and B, not today's read of A
    ]
    login(compliance_officer)
    assert client.get(reverse("analytics:report-download", args=[run.pk])).status_code == 200
    login(branch_manager)
    assert client.get(reverse("analytics:report-download", args=[run.pk])).status_code == 404


def test_a_ready_run_tells_its_recipients_once(world, branch_manager, rm):
    """The branch's manager (a recipient role, in scope) is told, with a link to the
    reports page; another branch's manager and an RM are not; a second generation of the
    same run tells nobody again."""
    from bankcrm.models import StaffNotification

    run, _content = generated(definition("csv", branch=world.sh))
    told = StaffNotification.objects.filter(kind="report")
    assert list(told.values_list("recipient", flat=True)) == [branch_manager.pk]
    assert told.get().link == reverse("analytics:reports")
    ReportRun.objects.filter(pk=run.pk).update(status=ReportRun.Status.PENDING)
    assert report_generate(run.pk)
    assert told.count() == 1


def test_excel_title_typed_in_the_admin_is_not_a_formula(world):
    """A definition's name is typed in the admin; in the workbook it is text, never a
    formula (bankcrm.exports.spreadsheet_safe, as for every other cell)."""
    d = definition("xlsx", branch=world.sh)
    ReportDefinition.objects.filter(pk=d.pk).update(name='=HYPERLINK("http://x","y")')
    d.refresh_from_db()
    _run, content = generated(d)
    book = load_workbook(io.BytesIO(content))
    for sheet in book.worksheets:
        assert sheet["A1"].data_type != "f"
        assert sheet["A1"].value.startswith("'=HYPERLINK")


def test_a_run_whose_worker_died_is_generated_by_the_sweep(world):
    """A run left `running` (the worker died mid-way) is not stuck for ever: the morning
    sweep takes it again once it is stale; one being generated now is left alone."""
    from datetime import timedelta

    from django.utils import timezone

    from analytics.reports import STALE

    d = definition("csv", branch=world.sh)
    abandoned = ReportRun.objects.create(
        definition=d, period="2025-02", as_of=D, status=ReportRun.Status.RUNNING,
        created_at=timezone.now() - STALE - timedelta(minutes=1),
    )  # fmt: skip
    busy = ReportRun.objects.create(
        definition=d, period="2025-03", as_of=D, status=ReportRun.Status.RUNNING
    )
    assert not report_generate(busy.pk)
    assert reports_generate_waiting() == 1
    abandoned.refresh_from_db()
    busy.refresh_from_db()
    assert abandoned.status == ReportRun.Status.DONE and abandoned.content
    assert busy.status == ReportRun.Status.RUNNING
    assert reports_generate_waiting() == 0  # done once


def test_reports_page_queries_do_not_grow_with_runs(world, client, login, branch_manager,
                                                     django_assert_max_num_queries):  # fmt: skip
    """The reports page lists definitions and runs with their report: constant queries."""
    d = definition("csv", branch=world.sh)
    other = definition("xlsx", branch=world.sh)
    login(branch_manager)
    url = reverse("analytics:reports")
    for i in range(2):
        ReportRun.objects.create(definition=d, period=f"2025-0{i + 1}", as_of=D)
    with django_assert_max_num_queries(30) as few:
        assert client.get(url).status_code == 200
    for i in range(12):
        ReportRun.objects.create(definition=other, period=f"2024-{i + 1:02d}", as_of=D,
                                 requested_by=branch_manager, status="done")  # fmt: skip
    with django_assert_max_num_queries(len(few)):
        assert client.get(url).status_code == 200


def test_pdf_title_typed_in_the_admin_is_text_not_markup(world):
    """reportlab's Paragraph reads markup: a definition named with & or <…> is printed as
    typed (it neither fails the run nor adds a link to the PDF)."""
    d = definition("pdf", branch=world.sh)
    ReportDefinition.objects.filter(pk=d.pk).update(name='存款 & 贷款 <a href="http://x">季度</a>')
    d.refresh_from_db()
    _run, pdf = generated(d)
    # (the text comes out in pieces, one per run of characters of one font)
    assert '存款 & 贷款 <a href="http://x">季度</a>' in pdf_text(pdf).replace("\n", "")
    assert b"/URI" not in pdf


def test_reports_page_lists_only_the_runs_in_scope(world, client, login, branch_manager):
    """The list and the download read runs through one access function: another branch's
    manager sees neither the run nor its link."""
    run, _content = generated(definition("csv", branch=world.sh))
    link = reverse("analytics:report-download", args=[run.pk])
    login(branch_manager)
    assert link in client.get(reverse("analytics:reports")).content.decode()
    login(world.bj_manager)
    assert link not in client.get(reverse("analytics:reports")).content.decode()


def failing_run(world) -> ReportRun:
    """A run whose generation fails: its definition names a format no renderer makes."""
    d = definition("csv", branch=world.sh)
    ReportDefinition.objects.filter(pk=d.pk).update(format="ods")
    run = ReportRun.objects.create(definition=d, period="2025-03", as_of=D)
    assert not report_generate(run.pk)
    run.refresh_from_db()
    return run


def test_a_failed_run_tells_recipients_plainly_and_keeps_the_error_for_admins(
    world, client, login, branch_manager, admin_user, caplog
):
    run = failing_run(world)
    assert (run.status, run.failure) == (ReportRun.Status.FAILED, "KeyError: 'ods'")
    assert f"report run {run.pk} failed" in caplog.text and "KeyError: 'ods'" in caplog.text
    login(branch_manager)
    page = client.get(reverse("analytics:reports")).content.decode()
    assert "无法生成；已通知管理员。" in page
    assert "KeyError" not in page
    login(admin_user)
    admin_page = client.get(reverse("admin:analytics_reportrun_change", args=[run.pk]))
    assert admin_page.status_code == 200
    assert "KeyError: &#x27;ods&#x27;" in admin_page.content.decode()


def test_a_failed_run_tells_the_administrators_once(world, branch_manager, admin_user):
    from bankcrm.models import StaffNotification

    other_admin = factories.user(Role.ADMIN, branch=world.bj, username="admin2")
    factories.user(Role.ADMIN, branch=world.bj, username="gone", is_active=False)
    run = failing_run(world)
    told = StaffNotification.objects.filter(kind="report_failed")
    assert set(told.values_list("recipient", flat=True)) == {admin_user.pk, other_admin.pk}
    message = told.get(recipient=admin_user)
    assert message.link == reverse("admin:analytics_reportrun_change", args=[run.pk])
    assert "KeyError" not in message.title + message.body
    assert not StaffNotification.objects.filter(recipient=branch_manager).exists()
    # Taken again (a stale run swept, a task retried) and failing again: nobody told twice.
    ReportRun.objects.filter(pk=run.pk).update(status=ReportRun.Status.PENDING)
    assert not report_generate(run.pk)
    assert told.count() == 2


def test_generate_now_twice_makes_one_run_until_it_is_done(world, client, login, branch_manager):
    d = definition("csv", branch=world.sh)
    url = reverse("analytics:report-request", args=[d.pk])
    login(branch_manager)
    assert "报表正在生成" in client.post(url, follow=True).content.decode()  # asked for
    assert "该报表已在生成中" in client.post(url, follow=True).content.decode()
    run = ReportRun.objects.get(definition=d)  # one, still waiting
    # Generating counts as waiting; another definition is not held up.
    ReportRun.objects.filter(pk=run.pk).update(status=ReportRun.Status.RUNNING)
    client.post(url)
    client.post(reverse("analytics:report-request", args=[definition("xlsx", branch=world.sh).pk]))
    assert ReportRun.objects.filter(definition=d).count() == 1
    assert ReportRun.objects.count() == 2
    ReportRun.objects.filter(pk=run.pk).update(status=ReportRun.Status.RUNNING)
    assert report_generate(run.pk) is False  # (not stale: nobody takes it)
    ReportRun.objects.filter(pk=run.pk).update(status=ReportRun.Status.DONE)
    client.post(url)
    assert ReportRun.objects.filter(definition=d).count() == 2


def test_one_waiting_run_a_definition_is_held_by_the_database(world, branch_manager):
    """Two requests that both passed the checks still make one run: the partial unique
    index refuses the second, whatever wrote it."""
    from django.db import IntegrityError, transaction

    d = definition("csv", branch=world.sh)
    ReportRun.objects.create(definition=d, period="a", as_of=D, requested_by=branch_manager)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportRun.objects.create(definition=d, period="b", as_of=D, requested_by=branch_manager)
    # Scheduled runs (nobody asked) are not held: one per period, as before.
    ReportRun.objects.create(definition=d, period="2025-03", as_of=D)


def test_generate_now_is_limited_per_user_and_hour(world, client, login, branch_manager):
    from datetime import timedelta

    from django.utils import timezone

    from analytics.reports import REQUESTS_PER_HOUR

    d = definition("csv", branch=world.sh)
    url = reverse("analytics:report-request", args=[d.pk])
    old = ReportRun.objects.create(definition=d, period="old", as_of=D, status="done",
                                   requested_by=branch_manager,
                                   created_at=timezone.now() - timedelta(minutes=61))  # fmt: skip
    login(branch_manager)
    for _i in range(REQUESTS_PER_HOUR):
        client.post(url)
        ReportRun.objects.filter(definition=d, status="pending").update(status="done")
    response = client.post(url, follow=True)
    assert "过去一小时内您已申请 10 份报表" in response.content.decode()
    mine = ReportRun.objects.filter(requested_by=branch_manager).exclude(pk=old.pk)
    assert mine.count() == REQUESTS_PER_HOUR
    # Someone else is not held by this user's count.
    other_manager = factories.user(Role.BRANCH_MANAGER, branch=world.sh, username="bm2")
    login(other_manager)
    client.post(url)
    assert ReportRun.objects.filter(requested_by=other_manager).count() == 1
