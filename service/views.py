import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Min, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bankcrm import registry
from bankcrm.models import User
from bankcrm.roles import Role
from customers.access import customer_for_intake, customer_for_user
from service import access, selectors, services
from service.forms import (
    ApprovalForm,
    ArticleLinkForm,
    AssignForm,
    KnowledgeSearchForm,
    MacroForm,
    MoveForm,
    ReopenForm,
    ReplyForm,
    ResolveForm,
    StatusForm,
    SurveyForm,
    TakeNextForm,
    TicketForm,
)
from service.models import KnowledgeArticle, SlaMilestone, Ticket
from service.services import TicketStateError

PAGE_SIZE = 50
# What the queue and supervisor pages read of a customer: the name, nothing more.
ROW_FIELDS = (
    "pk", "number", "subject", "priority", "status", "category", "due_at", "created_at",
    "escalation_level", "approval", "paused_at", "queue__name", "queue__code",
    "customer__name", "assignee__username", "assignee__first_name", "assignee__last_name",
)  # fmt: skip


def _rows(qs):
    return qs.select_related("customer", "queue", "assignee").only(*ROW_FIELDS).by_urgency()


# ---- queues -------------------------------------------------------------------------------


class CappedPaginator(Paginator):
    """Counts up to COUNT_CAP rows: a queue of 30,000 open tickets is worked by taking the
    next, not by paging to its end, and counting them all was most of the page's time."""

    COUNT_CAP = 1000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.COUNT_CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.COUNT_CAP


def _queue_page(request, *, tickets, title, queue=None, mine=False):
    page = CappedPaginator(_rows(tickets), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "title": title,
        "queue": queue,
        "mine": mine,
        "queues": access.queues_for_user(request.user).order_by("code"),
        "now": timezone.now(),
        "refresh_url": request.get_full_path(),
    }
    if request.htmx:
        return render(request, "service/_queue_table.html", context)
    return render(request, "service/queue.html", context)


@login_required
@require_GET
def my_tickets(request):
    access.require(access.is_desk_user(request.user))
    tickets = access.tickets_for_user(request.user).open().filter(assignee=request.user)
    return _queue_page(request, tickets=tickets, title=_("My tickets"), mine=True)


@login_required
@require_GET
def team_queue(request, code):
    access.require(access.is_desk_user(request.user))
    queue = access.queue_for_user(request.user, code)
    tickets = access.tickets_for_user(request.user).open().filter(queue=queue)
    return _queue_page(request, tickets=tickets, title=queue.name, queue=queue)


@login_required
@require_POST
def take_next(request):
    access.require(access.is_desk_user(request.user))
    form = TakeNextForm(request.POST)
    if not form.is_valid():
        raise Http404  # not the code of any queue
    queue = None
    if code := form.cleaned_data["queue"]:
        queue = access.queue_for_user(request.user, code)
    ticket = services.ticket_claim_next(agent=request.user, queue=queue)
    if ticket is None:
        messages.info(request, _("Nothing is waiting to be taken."))
        return redirect("service:queue", code=queue.code) if queue else redirect("service:mine")
    messages.success(request, _("Ticket %(number)s is yours.") % {"number": ticket.number})
    return redirect("service:ticket-detail", pk=ticket.pk)


# ---- tickets ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def ticket_create(request):
    access.require(access.is_desk_user(request.user))
    customer = None
    if request.GET.get("customer"):
        customer = customer_for_user(
            request.user, request.GET["customer"], defer=("national_id", "email", "address")
        )
    form = TicketForm(
        request.POST or None, customer=customer,
        lookup=functools.partial(customer_for_intake, request),
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ticket = services.ticket_open(
            actor=request.user,
            customer=form.customer,
            subject=data["subject"],
            description=data["description"],
            channel=data["channel"],
            category=data["category"],
            priority=data["priority"] or None,
            queue=data["queue"],
        )
        messages.success(request, _("Ticket %(number)s opened.") % {"number": ticket.number})
        return redirect("service:ticket-detail", pk=ticket.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "service/ticket_form.html", {"form": form, "customer": customer}, status=status
    )


def _detail_context(request, ticket, **forms):
    user = request.user
    can_work = access.can_work(user, ticket)
    context = {
        "ticket": ticket,
        # The description's and the survey comment's sentiment (bankcrm.registry), one query.
        "sentiments": registry.text_annotations([("ticket", ticket.pk), ("survey", ticket.pk)]),
        "now": timezone.now(),
        "events": ticket.events.select_related("actor").order_by("at", "pk"),
        "articles": ticket.articles.order_by("title"),
        "can_work": can_work,
        "can_supervise": access.can_supervise(user),
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "resolve_form": forms.get("resolve_form") or ResolveForm(),
        "approval_form": forms.get("approval_form") or ApprovalForm(),
        "reopen_form": forms.get("reopen_form") or ReopenForm(),
    }
    if can_work:
        from service.models import Macro

        context["macros"] = Macro.objects.filter(is_active=True).filter(
            Q(category="") | Q(category=ticket.category)
        )
    if access.can_supervise(user):
        context["assign_form"] = forms.get("assign_form") or AssignForm(
            candidates=_assignees(ticket), initial={"assignee": ticket.assignee_id}
        )
        context["move_form"] = forms.get("move_form") or MoveForm(
            initial={"queue": ticket.queue_id, "priority": ticket.priority}
        )
    return context


def _assignees(ticket):
    users = User.objects.filter(is_active=True, groups__name=Role.SERVICE_AGENT)
    if ticket.queue_id:
        users = users.filter(service_queues=ticket.queue_id)
    return users.distinct().order_by("username")


@login_required
@require_GET
def ticket_detail(request, pk):
    ticket = access.ticket_read_by_user(request, pk)
    return render(request, "service/ticket_detail.html", _detail_context(request, ticket))


def _work(request, pk) -> Ticket:
    ticket = access.ticket_for_user(request.user, pk)
    access.require(access.can_work(request.user, ticket))
    return ticket


def _done(request, ticket, message=None):
    if message:
        messages.success(request, message)
    return redirect("service:ticket-detail", pk=ticket.pk)


def _invalid(request, ticket, **forms):
    return render(
        request, "service/ticket_detail.html", _detail_context(request, ticket, **forms),
        status=400,
    )  # fmt: skip


def _refused(request, ticket, exc):
    messages.error(request, str(exc))
    return redirect("service:ticket-detail", pk=ticket.pk)


@login_required
@require_POST
def ticket_reply(request, pk):
    ticket = _work(request, pk)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _invalid(request, ticket, reply_form=form)
    try:
        services.ticket_reply(actor=request.user, ticket=ticket, **form.cleaned_data)
    except TicketStateError as exc:
        return _refused(request, ticket, exc)
    note = form.cleaned_data["internal"]
    return _done(request, ticket, _("Note added.") if note else _("Reply sent to the customer."))


@login_required
@require_POST
def ticket_status(request, pk):
    ticket = _work(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _refused(request, ticket, _("Choose a valid status."))
    try:
        services.ticket_transition(
            actor=request.user, ticket=ticket, to=form.cleaned_data["to"],
            note=form.cleaned_data["note"],
        )  # fmt: skip
    except TicketStateError as exc:
        return _refused(request, ticket, exc)
    return _done(request, ticket, _("Status changed."))


@login_required
@require_POST
def ticket_resolve(request, pk):
    ticket = _work(request, pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return _invalid(request, ticket, resolve_form=form)
    try:
        ticket = services.ticket_resolve(
            actor=request.user, ticket=ticket, resolution=form.cleaned_data["resolution"]
        )
    except TicketStateError as exc:
        return _refused(request, ticket, exc)
    if ticket.approval == Ticket.Approval.REQUESTED:
        return _done(request, ticket, _("Sent to a supervisor for approval."))
    return _done(request, ticket, _("Resolved; the customer is told."))


@login_required
@require_POST
def ticket_approve(request, pk):
    ticket = access.ticket_for_user(request.user, pk)
    access.require(access.can_supervise(request.user))
    form = ApprovalForm(request.POST)
    if not form.is_valid():
        return _invalid(request, ticket, approval_form=form)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        services.ticket_approve(
            actor=request.user, ticket=ticket, approve=approve, note=form.cleaned_data["note"]
        )
    except TicketStateError as exc:
        return _refused(request, ticket, exc)
    return _done(request, ticket, _("Approved and resolved.") if approve else _("Sent back."))


@login_required
@require_POST
def ticket_reopen(request, pk):
    ticket = _work(request, pk)
    form = ReopenForm(request.POST)
    if not form.is_valid():
        return _invalid(request, ticket, reopen_form=form)
    try:
        services.ticket_reopen(
            actor=request.user, ticket=ticket, reason=form.cleaned_data["reason"]
        )
    except TicketStateError as exc:
        return _refused(request, ticket, exc)
    return _done(request, ticket, _("Reopened."))


@login_required
@require_POST
def ticket_take(request, pk):
    """An agent takes this ticket (from the team queue); a colleague's ticket is refused
    (checked by the service under the row lock)."""
    ticket = _work(request, pk)
    try:
        services.ticket_take(agent=request.user, ticket=ticket)
    except TicketStateError as exc:
        return _refused(request, ticket, exc)
    return _done(request, ticket, _("Ticket %(number)s is yours.") % {"number": ticket.number})


@login_required
@require_POST
def ticket_assign(request, pk):
    ticket = access.ticket_for_user(request.user, pk)
    access.require(access.can_supervise(request.user))
    form = AssignForm(request.POST, candidates=_assignees(ticket))
    if not form.is_valid():
        return _invalid(request, ticket, assign_form=form)
    try:
        services.ticket_assign(
            actor=request.user, ticket=ticket, assignee=form.cleaned_data["assignee"]
        )
    except TicketStateError as exc:
        return _refused(request, ticket, exc)
    return _done(request, ticket, _("Reassigned."))


@login_required
@require_POST
def ticket_move(request, pk):
    ticket = access.ticket_for_user(request.user, pk)
    access.require(access.can_supervise(request.user))
    form = MoveForm(request.POST)
    if not form.is_valid():
        return _invalid(request, ticket, move_form=form)
    try:
        services.ticket_move(
            actor=request.user, ticket=ticket, queue=form.cleaned_data["queue"],
            priority=form.cleaned_data["priority"] or None,
        )  # fmt: skip
    except TicketStateError as exc:
        return _refused(request, ticket, exc)
    return _done(request, ticket, _("Saved."))


@login_required
@require_GET
def macro_fill(request, pk):
    """htmx: the reply box filled with a canned reply for this ticket."""
    ticket = _work(request, pk)
    form = MacroForm(request.GET)
    if not form.is_valid():
        raise Http404
    body = form.cleaned_data["macro"].render(ticket=ticket, agent=request.user)
    reply_form = ReplyForm(initial={"body": body})
    return render(request, "service/_reply_body.html", {"reply_form": reply_form})


# ---- knowledge base -----------------------------------------------------------------------


@login_required
@require_GET
def kb_search(request):
    access.require(access.is_desk_user(request.user))
    template = "service/_kb_results.html" if request.htmx else "service/kb.html"
    form = KnowledgeSearchForm(request.GET)
    if not form.is_valid():
        context = {"query": "", "articles": [], "ticket": None, "form": form}
        return render(request, template, context, status=400)
    query = form.cleaned_data["q"]
    ticket = None
    if form.cleaned_data["ticket"] is not None:
        ticket = access.ticket_for_user(request.user, form.cleaned_data["ticket"])
    articles = services.articles_search(query) if query else []
    context = {"query": query, "articles": articles, "ticket": ticket, "form": form}
    return render(request, template, context)


@login_required
@require_GET
def kb_article(request, pk):
    access.require(access.is_desk_user(request.user))
    article = KnowledgeArticle.objects.filter(is_published=True, pk=pk).first()
    if article is None:
        raise Http404
    return render(request, "service/kb_article.html", {"article": article})


@login_required
@require_POST
def ticket_link_article(request, pk):
    ticket = _work(request, pk)
    form = ArticleLinkForm(request.POST)
    if not form.is_valid():
        raise Http404  # no published article has this id
    services.article_link(actor=request.user, ticket=ticket, article=form.cleaned_data["article"])
    return _done(request, ticket, _("Article linked."))


# ---- supervisor ---------------------------------------------------------------------------


@login_required
@require_GET
def supervisor(request):
    access.require(access.can_supervise(request.user))
    now = timezone.now()
    soon = now + timezone.timedelta(hours=1)
    scope = access.tickets_for_user(request.user)
    open_tickets = scope.open()
    backlog = (
        open_tickets.values("queue__code", "queue__name")
        .annotate(
            total=Count("pk"),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
            breached=Count("pk", filter=Q(due_at__lt=now, paused_at__isnull=True)),
            near=Count("pk", filter=Q(due_at__gte=now, due_at__lt=soon, paused_at__isnull=True)),
            p1=Count("pk", filter=Q(priority="P1")),
            oldest_due=Min("due_at"),
        )
        .order_by("queue__code")
    )
    load = selectors.agent_load(request.user, now=now)
    at_risk = _rows(open_tickets.filter(paused_at__isnull=True, due_at__lt=soon))[:PAGE_SIZE]
    approvals = _rows(scope.filter(approval=Ticket.Approval.REQUESTED))[:PAGE_SIZE]
    escalations = (
        SlaMilestone.objects.filter(kind__in=["level_1", "level_2"], ticket__status__in=[
            s for s in Ticket.Status.values if s not in Ticket.CLOSED_STATES
        ])
        .select_related("ticket", "notified")
        .order_by("-at")[:20]
    )  # fmt: skip
    context = {
        "now": now,
        "backlog": backlog,
        "load": load,
        "at_risk": at_risk,
        "approvals": approvals,
        "escalations": escalations,
        "sections": [s for p in registry.SUPERVISOR_SECTIONS if (s := p(request)) is not None],
    }
    template = "service/_supervisor_body.html" if request.htmx else "service/supervisor.html"
    return render(request, template, context)


# ---- satisfaction survey (public, by token) -----------------------------------------------


@require_http_methods(["GET", "POST"])
def survey(request, token):
    survey = services.survey_for_token(token)
    if survey is None:
        raise Http404
    if survey.answered_at is not None:
        return render(request, "service/survey.html", {"survey": survey, "answered": True})
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.survey_answer(survey=survey, **form.cleaned_data)
        return render(request, "service/survey.html", {"survey": survey, "thanks": True})
    status = 400 if request.method == "POST" else 200
    return render(request, "service/survey.html", {"survey": survey, "form": form}, status=status)
