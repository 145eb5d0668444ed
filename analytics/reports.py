"""Reports: a dashboard's figures (analytics.dashboards, from the snapshots) or the audit
trail's customer-data usage, as CSV, Excel or PDF, kept encrypted in the ReportRun row.

- A run is a row first (`pending`): beat writes the day's runs of the definitions due
  (daily; weekly on Mondays; monthly on the 1st, covering the month before), a user asks
  for one on the reports page; `(definition, period)` is unique, so beat firing twice makes
  one run. On demand, a definition has at most one run waiting or generating (a partial
  unique index) and a user asks for at most REQUESTS_PER_HOUR an hour. A worker generates
  it on commit, and the morning sweep generates whatever is
  still waiting; the run is claimed by `UPDATE … WHERE status = 'pending'`, so two workers
  never both generate it. A run left `running` by a worker that died is taken again once
  it is STALE (by the sweep or a retried task).
- The file: CSV (UTF-8 with a BOM, cells made spreadsheet-safe), Excel via openpyxl (a
  sheet per table, Chinese headers, number formats #,##0.00 and 0.0%), PDF via reportlab
  with the built-in CID font STSong-Light (Chinese without a font file). The bytes are
  base64 inside a bankcrm.crypto token (versioned keys, rotated with the rest).
- Recipients are roles (ReportDefinition.recipient_roles), each within their scope
  (analytics.access.can_download_report); the reports page lists the runs they may take,
  and each download is an audited export. When a run is ready, every active user who may
  download it gets a staff notification (bankcrm.services.notify_staff) linking to the
  reports page, once per run. A run that fails keeps the error for the administrators (in
  the admin, and the log) and tells them, once per run; recipients read only that it could
  not be generated.
- The data-usage report (for compliance, monthly): who read, revealed, exported and
  searched what in the month, from the access log: per person, action and kind of object,
  the count and the customers concerned.
"""

import base64
import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from xml.sax.saxutils import escape

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from analytics.access import DashboardScope, can_download_report
from analytics.dashboards import Filters, book_dashboard
from analytics.kpi_models import ReportDefinition, ReportRun
from bankcrm.audit import AuditContext
from bankcrm.exports import spreadsheet_safe
from bankcrm.models import AccessLog, User
from bankcrm.outbox import enqueue_on_commit
from bankcrm.roles import Role
from bankcrm.services import notify_staff

logger = logging.getLogger(__name__)

MONEY, PERCENT, INTEGER, TEXT = "money", "percent", "integer", "text"
EXCEL_FORMATS = {MONEY: "#,##0.00", PERCENT: "0.0%", INTEGER: "#,##0", TEXT: "@"}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@dataclass
class Section:
    title: str
    columns: list[tuple[str, str]]  # (header, kind)
    rows: list[list] = field(default_factory=list)


# ---- the figures ----------------------------------------------------------------------------


def _book_sections(definition: ReportDefinition) -> list[Section]:
    scope = DashboardScope(branch_id=definition.branch_id)
    book = book_dashboard(None, scope, Filters(months=definition.months, tier=definition.tier))
    if definition.dashboard == ReportDefinition.Dashboard.SERVICE:
        return [Section(_("Service: SLA compliance and satisfaction"), [
            (_("Queue"), TEXT), (_("Tickets opened"), INTEGER), (_("Tickets resolved"), INTEGER),
            (_("Resolved within the target"), PERCENT), (_("Satisfaction (1–5)"), MONEY),
        ], [[s["queue_name"], s["opened"], s["closed"], s["sla"], s["csat"]]
            for s in book.service])]  # fmt: skip
    if definition.dashboard == ReportDefinition.Dashboard.CAMPAIGNS:
        return [Section(_("Campaign return"), [
            (_("Campaign"), TEXT), (_("Sent"), INTEGER), (_("Converted"), INTEGER),
            (_("Cost"), MONEY), (_("Revenue"), MONEY), (_("ROI"), PERCENT),
        ], [[c["campaign_name"], c["sent"], c["converted"], c["cost"], c["revenue"], c["roi"]]
            for c in book.campaigns])]  # fmt: skip
    trend = Section(_("Deposits, loans and AUM by month (CNY)"), [
        (_("Month"), TEXT), (_("Deposits"), MONEY), (_("Loans"), MONEY), (_("AUM"), MONEY),
        (_("AUM, daily average of the month"), MONEY), (_("Customers"), INTEGER),
        (_("New customers"), INTEGER), (_("30-day retention"), PERCENT),
        (_("Products per customer"), MONEY),
    ], [[p.label, p.deposits, p.loans, p.aum, p.aum_avg, p.customers, p.new, p.retention,
         p.cross_sell] for p in book.points])  # fmt: skip
    growth = Section(_("Growth"), [
        (_("Measure"), TEXT), (_("Latest"), MONEY), (_("month on month"), PERCENT),
        (_("year on year"), PERCENT),
    ], [[label, book.growth[key]["value"], book.growth[key]["mom"], book.growth[key]["yoy"]]
        for key, label in (("deposits", _("Deposits")), ("loans", _("Loans")),
                           ("aum", _("AUM")), ("customers", _("Customers")))]
        if book.as_of else [])  # fmt: skip
    tiers = Section(_("By value tier"), [
        (_("Value tier"), TEXT), (_("Customers"), INTEGER), (_("Deposits"), MONEY),
        (_("AUM"), MONEY), (_("Loans"), MONEY),
    ], [[str(dict(_tier_choices()).get(r["tier"], r["tier"])), r["customers"],
         r["deposits"], r["aum"], r["loans"]] for r in book.by_tier])  # fmt: skip
    branches = Section(_("By branch"), [
        (_("Branch"), TEXT), (_("Deposits"), MONEY), (_("AUM"), MONEY), (_("Loans"), MONEY),
    ], [[r["name"], r["deposits"], r["aum"], r["loans"]] for r in book.by_branch])  # fmt: skip
    return [growth, trend, tiers, branches]


def _tier_choices():
    from customers.models import Customer

    return Customer.Tier.choices


def usage_period(as_of: date) -> tuple[date, date]:
    """The calendar month before `as_of`'s (first day, first day of the next)."""
    end = as_of.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


def _usage_sections(as_of: date) -> list[Section]:
    first, end = usage_period(as_of)
    tz = timezone.get_default_timezone()
    start_at = datetime.combine(first, time.min, tzinfo=tz)
    end_at = datetime.combine(end, time.min, tzinfo=tz)
    rows = (
        AccessLog.objects.filter(at__gte=start_at, at__lt=end_at)
        .values("actor__username", "actor__first_name", "actor__last_name", "action",
                "object_type")
        .annotate(n=Count("pk"), customers=Count("customer_id", distinct=True))
        .order_by("actor__username", "action", "object_type")
    )  # fmt: skip
    actions = dict(AccessLog.Action.choices)
    return [Section(
        _("Customer-data usage, %(first)s to %(last)s") % {
            "first": first.isoformat(), "last": (end - timedelta(days=1)).isoformat()},
        [(_("Username"), TEXT), (_("Name"), TEXT), (_("Action"), TEXT), (_("Object type"), TEXT),
         (_("Times"), INTEGER), (_("Customers"), INTEGER)],
        [[r["actor__username"], f"{r['actor__last_name']}{r['actor__first_name']}",
          str(actions.get(r["action"], r["action"])), r["object_type"], r["n"], r["customers"]]
         for r in rows],
    )]  # fmt: skip


def report_sections(definition: ReportDefinition, as_of: date) -> list[Section]:
    if definition.dashboard == ReportDefinition.Dashboard.DATA_USAGE:
        return _usage_sections(as_of)
    return _book_sections(definition)


# ---- the formats ----------------------------------------------------------------------------


def _cell(value, kind: str):
    if value is None:
        return ""
    if kind == PERCENT:
        return round(float(value), 4)
    if kind == MONEY:
        return round(float(value), 2)
    return spreadsheet_safe(value) if isinstance(value, str) else value


def render_csv(title: str, sections: list[Section]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_safe(title)])
    for section in sections:
        writer.writerow([])
        writer.writerow([spreadsheet_safe(section.title)])
        writer.writerow([header for header, _kind in section.columns])
        for row in section.rows:
            writer.writerow([_cell(v, k) for v, (_h, k) in zip(row, section.columns, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render_xlsx(title: str, sections: list[Section]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for i, section in enumerate(sections, start=1):
        # Sheet names: at most 31 characters, none of []:*?/\
        name = "".join(ch for ch in section.title if ch not in "[]:*?/\\")[:28] or f"{i}"
        sheet = book.create_sheet(f"{i} {name}"[:31])
        # The title holds the definition's and the branch's names, typed in the admin:
        # openpyxl stores a text starting with "=" as a formula, so it is made safe too.
        sheet.append([spreadsheet_safe(title)])
        sheet["A1"].font = Font(bold=True)
        sheet.append([spreadsheet_safe(section.title)])
        sheet.append([header for header, _kind in section.columns])
        for cell in sheet[3]:
            cell.font = Font(bold=True)
        for row in section.rows:
            sheet.append([_cell(v, k) for v, (_h, k) in zip(row, section.columns, strict=True)])
        for col, (_header, kind) in enumerate(section.columns, start=1):
            letter = sheet.cell(row=3, column=col).column_letter
            sheet.column_dimensions[letter].width = 14 if kind != TEXT else 22
            for (cell,) in sheet.iter_rows(min_row=4, min_col=col, max_col=col):
                if kind != TEXT:
                    cell.number_format = EXCEL_FORMATS[kind]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pdf_text(value, kind: str) -> str:
    if value is None or value == "":
        return "–"
    if kind == PERCENT:
        return f"{float(value) * 100:.1f}%"
    if kind == MONEY:
        return f"{float(value):,.2f}"
    if kind == INTEGER:
        return f"{int(value):,}"
    return str(value)


def render_pdf(title: str, sections: list[Section]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    styles = getSampleStyleSheet()
    heading = styles["Heading2"].clone("cjk-heading", fontName=font)
    body = styles["BodyText"].clone("cjk-body", fontName=font, fontSize=8, leading=10)
    # A Paragraph reads its text as markup (<a href>, <img>, &entities;): the title holds
    # names typed in the admin, so every Paragraph's text is escaped and printed as typed.
    story = [Paragraph(escape(title), styles["Title"].clone("cjk-title", fontName=font))]
    for section in sections:
        story.append(Paragraph(escape(section.title), heading))
        data = [[Paragraph(escape(h), body) for h, _k in section.columns]]
        data += [[_pdf_text(v, k) for v, (_h, k) in zip(row, section.columns, strict=True)]
                 for row in section.rows] or [["–"] * len(section.columns)]  # fmt: skip
        table = Table(data, repeatRows=1)
        table.setStyle(TableStyle([
            ("FONT", (0, 0), (-1, -1), font, 8),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ]))  # fmt: skip
        story += [table, Spacer(1, 12)]
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=landscape(A4), title=title, invariant=True).build(story)
    return out.getvalue()


RENDERERS = {"csv": render_csv, "xlsx": render_xlsx, "pdf": render_pdf}


# ---- runs -----------------------------------------------------------------------------------


def period_for(schedule: str, today: date) -> str | None:
    """The period a scheduled definition's run of `today` covers, or None if not due."""
    if schedule == ReportDefinition.Schedule.DAILY:
        return today.isoformat()
    if schedule == ReportDefinition.Schedule.WEEKLY and today.weekday() == 0:
        year, week, _day = today.isocalendar()
        return f"{year}-W{week:02d}"
    if schedule == ReportDefinition.Schedule.MONTHLY and today.day == 1:
        return (today - timedelta(days=1)).strftime("%Y-%m")
    return None


def reports_schedule_due(*, today: date) -> int:
    """The runs of every active definition due `today` (once each, whoever asks twice)."""
    made = 0
    for definition in ReportDefinition.objects.filter(is_active=True):
        period = period_for(definition.schedule, today)
        if period is None:
            continue
        with transaction.atomic():
            _run, created = ReportRun.objects.get_or_create(
                definition=definition, period=period, defaults={"as_of": today}
            )
        made += created
    return made


# On demand, one user asks for at most this many runs an hour (a report is seconds of a
# worker and a file kept in the database).
REQUESTS_PER_HOUR = 10


class ReportRequestRefusedError(Exception):
    """Why a report may not be asked for now, in words for the user."""


@transaction.atomic
def report_request(*, actor, context: AuditContext, definition: ReportDefinition) -> ReportRun:
    """A run on demand, as of today, generated once the request commits. Refused while an
    on-demand run of the definition waits or is being generated (a partial unique index
    decides, so two clicks make one run) and past REQUESTS_PER_HOUR of the user's in the
    last hour (counted under a lock on the user's row, so parallel requests queue)."""
    User.objects.select_for_update().filter(pk=actor.pk).first()
    since = timezone.now() - timedelta(hours=1)
    recent = ReportRun.objects.filter(requested_by=actor, created_at__gte=since).count()
    if recent >= REQUESTS_PER_HOUR:
        raise ReportRequestRefusedError(
            _("You have asked for %(limit)d reports in the last hour; please wait a while "
              "before asking for another.") % {"limit": REQUESTS_PER_HOUR}
        )  # fmt: skip
    now = timezone.localtime()
    try:
        with transaction.atomic():
            run = ReportRun.objects.create(
                definition=definition, as_of=now.date(), requested_by=actor,
                period=f"{now:%Y-%m-%d %H:%M:%S.%f} {actor.username}"[:40],
            )  # fmt: skip
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "")
        if constraint != "report_run_one_on_demand":
            raise
        raise ReportRequestRefusedError(
            _("This report is already being generated; it will be listed here when it is ready.")
        ) from None
    enqueue_on_commit("analytics.tasks.report_generate", run.pk)
    return run


# A run still generating this long after it was made has lost its worker (a report takes
# seconds): the task is not acknowledged late, so nothing else would ever finish it, and
# (definition, period) being unique, a scheduled period would never get its report.
STALE = timedelta(hours=6)


def _claimable():
    """Waiting runs, and those a worker took and died on."""
    return Q(status=ReportRun.Status.PENDING) | Q(
        status=ReportRun.Status.RUNNING, created_at__lt=timezone.now() - STALE
    )


def report_generate(run_id: int) -> bool:
    """Generates a waiting (or abandoned) run; False if someone else took it (or it is
    done)."""
    taken = ReportRun.objects.filter(_claimable(), pk=run_id).update(
        status=ReportRun.Status.RUNNING
    )
    if not taken:
        return False
    run = ReportRun.objects.select_related("definition", "definition__branch").get(pk=run_id)
    definition = run.definition
    try:
        # Reports are read by the bank's staff in Chinese (the default language).
        with translation.override("zh-hans"):
            title = f"{definition.name} · {run.period[:19]}"
            if definition.branch:
                title += f" · {definition.branch.name}"
            content = RENDERERS[definition.format](title, report_sections(definition, run.as_of))
    except Exception as exc:
        logger.exception("report run %s failed", run_id)
        _record_failure(run, f"{type(exc).__name__}: {exc}")
        return False
    run.content = base64.b64encode(content).decode()
    run.size = len(content)
    run.content_type = CONTENT_TYPES[definition.format]
    run.file_name = f"report-{definition.pk}-{run.pk}-{run.as_of:%Y%m%d}.{definition.format}"
    run.status = ReportRun.Status.DONE
    run.finished_at = timezone.now()
    with transaction.atomic():
        run.save(update_fields=["content", "size", "content_type", "file_name", "status",
                                "finished_at"])  # fmt: skip
        _tell_recipients(run, title)
    return True


def _record_failure(run: ReportRun, failure: str) -> None:
    """The technical text stays in the row (the admin shows it; recipients see only that
    the report could not be made) and the administrators are told, once per run."""
    with transaction.atomic():
        if not ReportRun.objects.filter(pk=run.pk, status=ReportRun.Status.RUNNING).update(
            status=ReportRun.Status.FAILED, failure=failure[:300], finished_at=timezone.now()
        ):
            return  # no longer ours (taken again as stale and finished by another worker)
        admins = User.objects.filter(
            Q(groups__name=Role.ADMIN) | Q(is_superuser=True), is_active=True
        ).distinct()
        with translation.override(settings.LANGUAGE_CODE):
            notify_staff(
                recipients=admins, kind="report_failed",
                title=_("Report could not be generated: %(report)s") % {
                    "report": run.definition.name},
                body=_("The run of %(period)s failed; the error is on the run's page.") % {
                    "period": run.period[:19]},
                link=reverse("admin:analytics_reportrun_change", args=[run.pk]),
                dedupe_key=f"report-run-failed:{run.pk}",
            )  # fmt: skip


def _tell_recipients(run: ReportRun, title: str) -> int:
    """A staff notification to each active user who may download the run (its recipient
    roles, within their scope), once per run whatever retries happen."""
    definition = run.definition
    candidates = User.objects.filter(
        is_active=True, groups__name__in=definition.recipient_roles
    ).distinct()
    recipients = [user for user in candidates if can_download_report(user, definition)]
    return notify_staff(
        recipients=recipients, kind="report", title=title,
        body=_("A report is ready to download."), link=reverse("analytics:reports"),
        dedupe_key=f"report-run:{run.pk}",
    )  # fmt: skip


def reports_generate_waiting(limit: int = 50) -> int:
    ids = list(
        ReportRun.objects.filter(_claimable())
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(report_generate(pk) for pk in ids)
