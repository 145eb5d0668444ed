"""Marketing pages: the segment builder (htmx: each change re-renders the builder with the
live count, a masked sample and the conditions in words), campaigns from draft to done
with their progress and results, and the customers' opt-out page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.html import json_script
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bankcrm.audit import AuditContext
from bankcrm.exports import csv_download
from customers.access import products_for_user
from marketing import access, selectors, sending, services
from marketing.forms import (
    CampaignForm,
    CifListForm,
    ConditionForm,
    GroupForm,
    PathForm,
    SegmentForm,
)
from marketing.models import Campaign, ProhibitedPhrase, Segment
from marketing.segments import explain, tree_add, tree_remove, tree_rows


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@login_required
@require_GET
def index(request):
    access.require(access.can_use_marketing(request.user))
    segments = access.segments_for_user(request.user).select_related("owner")[:50]
    campaigns = access.campaigns_for_user(request.user).select_related("segment", "created_by")[:50]
    return render(
        request,
        "marketing/index.html",
        {
            "segments": segments,
            "campaigns": campaigns,
            "can_build": access.can_build(request.user),
        },
    )


# ---- segments ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def segment_create(request):
    access.require(access.can_build(request.user))
    form = SegmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        segment = services.segment_create(
            actor=request.user, context=AuditContext.of(request), **form.cleaned_data
        )
        return redirect("marketing:segment-detail", pk=segment.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "marketing/segment_form.html", {"form": form}, status=status)


def _builder(request, segment: Segment, *, condition_form=None, error="", status=200):
    """The builder: the conditions as rows, the live count (timed and kept), a masked
    sample and the explanation; the fragment alone for htmx."""
    count, took = services.segment_count(segment=segment)
    context = {
        "segment": segment,
        "rows": tree_rows(segment.conditions) if segment.kind == Segment.Kind.DYNAMIC else [],
        "explanation": explain(segment.conditions or {"op": "and", "children": []})
        if segment.kind == Segment.Kind.DYNAMIC
        else "",
        "count": count,
        "took": took,
        "sample": services.segment_sample(segment),
        "condition_form": condition_form
        or ConditionForm(initial={"field": request.GET.get("field")}),
        "cif_form": CifListForm(),
        "can_edit": access.can_edit_segment(request.user, segment),
        "can_freeze": access.can_freeze_segment(request.user, segment),
        "can_build": access.can_build(request.user),
        "error": error,
    }
    template = "marketing/_builder.html" if request.htmx else "marketing/segment_detail.html"
    return render(request, template, context, status=status)


@login_required
@require_GET
def segment_detail(request, pk):
    segment = access.segment_for_user(request.user, pk)
    if request.htmx and request.GET.get("field") is not None:  # the condition form, per field
        form = ConditionForm(
            initial={"field": request.GET.get("field"), "path": request.GET.get("path", "")}
        )
        return render(
            request, "marketing/_condition_form.html", {"segment": segment, "condition_form": form}
        )
    return _builder(request, segment)


def _editable(request, pk) -> Segment:
    segment = access.segment_for_user(request.user, pk)
    access.require(access.can_edit_segment(request.user, segment))
    return segment


def _after_change(request, segment, *, error="", form=None):
    if request.htmx:
        return _builder(
            request, segment, condition_form=form, error=error, status=400 if error else 200
        )
    if error:
        messages.error(request, error)
    return redirect("marketing:segment-detail", pk=segment.pk)


def _set_conditions(request, segment, tree, *, form=None):
    try:
        services.segment_set_conditions(
            actor=request.user, context=AuditContext.of(request), segment=segment, conditions=tree
        )
    except ValidationError as exc:
        segment.refresh_from_db()
        return _after_change(request, segment, error=_errors(exc), form=form)
    return _after_change(request, segment)


@login_required
@require_POST
def segment_condition_add(request, pk):
    segment = _editable(request, pk)
    form = ConditionForm(request.POST)
    if not form.is_valid():
        error = " ".join(e for errors in form.errors.values() for e in errors)
        return _after_change(request, segment, error=error, form=form)
    try:
        tree = tree_add(
            segment.conditions, form.cleaned_data["path"], form.cleaned_data["condition"]
        )
    except ValidationError as exc:
        return _after_change(request, segment, error=_errors(exc), form=form)
    return _set_conditions(request, segment, tree)


@login_required
@require_POST
def segment_group_add(request, pk):
    segment = _editable(request, pk)
    form = GroupForm(request.POST)
    if not form.is_valid():
        return _after_change(request, segment, error=_("Choose a kind of group."))
    try:
        tree = tree_add(
            segment.conditions,
            form.cleaned_data["path"],
            {"op": form.cleaned_data["op"], "children": []},
        )
    except ValidationError as exc:
        return _after_change(request, segment, error=_errors(exc))
    return _set_conditions(request, segment, tree)


@login_required
@require_POST
def segment_node_remove(request, pk):
    segment = _editable(request, pk)
    form = PathForm(request.POST)
    if not form.is_valid():
        return _after_change(request, segment, error=_("That condition no longer exists."))
    try:
        tree = tree_remove(segment.conditions, form.cleaned_data["path"])
    except ValidationError as exc:
        return _after_change(request, segment, error=_errors(exc))
    return _set_conditions(request, segment, tree)


@login_required
@require_POST
def segment_add_cifs(request, pk):
    segment = _editable(request, pk)
    form = CifListForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(
            request, " ".join(form.non_field_errors()) or _("Give a file or a list of CIFs.")
        )
        return redirect("marketing:segment-detail", pk=segment.pk)
    try:
        added, missing = services.segment_add_cifs(
            actor=request.user,
            context=AuditContext.of(request),
            segment=segment,
            cifs=services.parse_cifs(form.cleaned_data["text"]),
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            _("%(added)s added; %(missing)s not found in your customers.")
            % {"added": added, "missing": missing},
        )
    return redirect("marketing:segment-detail", pk=segment.pk)


@login_required
@require_POST
def segment_freeze(request, pk):
    segment = access.segment_for_user(request.user, pk)
    access.require(access.can_freeze_segment(request.user, segment))
    snapshot = services.segment_freeze(
        actor=request.user, context=AuditContext.of(request), segment=segment
    )
    messages.success(request, _("Snapshot of %(n)s customers kept.") % {"n": snapshot.last_count})
    return redirect("marketing:segment-detail", pk=snapshot.pk)


@login_required
@require_GET
def segment_export(request, pk):
    segment = access.segment_for_user(request.user, pk)
    access.require(access.can_export_segment(request.user, segment))
    rows = services.segment_export_rows(
        actor=request.user, context=AuditContext.of(request), segment=segment
    )
    header = [_("CIF number"), _("Name"), _("Mobile"), _("Value tier"), _("Branch")]
    return csv_download(header, rows, name=f"segment-{segment.pk}")


# ---- campaigns --------------------------------------------------------------------------


def _products(user):
    """What a campaign may sell: the catalogue products the user sees that are on sale."""
    return products_for_user(user).on_sale().order_by("code")


@login_required
@require_http_methods(["GET", "POST"])
def campaign_create(request):
    access.require(access.can_build(request.user))
    segments = access.segments_for_user(request.user)
    initial = {"segment": request.GET.get("segment")} if request.GET.get("segment") else None
    form = CampaignForm(
        request.POST or None, segments=segments, products=_products(request.user), initial=initial
    )
    if request.method == "POST" and form.is_valid():
        campaign = services.campaign_save(
            actor=request.user, context=AuditContext.of(request), draft=form.draft()
        )
        return redirect("marketing:campaign-detail", pk=campaign.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "marketing/campaign_form.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request, pk):
    campaign = access.campaign_for_user(request.user, pk)
    access.require(access.can_edit_campaign(request.user, campaign) and campaign.is_editable)
    segments = access.segments_for_user(request.user)
    form = CampaignForm(
        request.POST or None,
        segments=segments,
        products=_products(request.user),
        initial=CampaignForm.initial_from(campaign),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_save(
                actor=request.user,
                context=AuditContext.of(request),
                draft=form.draft(),
                campaign=campaign,
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        return redirect("marketing:campaign-detail", pk=campaign.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "marketing/campaign_form.html", {"form": form, "campaign": campaign}, status=status
    )


def _preview(campaign: Campaign, disclosure, *, phrases=()) -> list[tuple]:
    """Each channel's messages as the customer would read them (sending.preview)."""
    messages = [
        (step.channel, m.variant.code if m.variant else "A", m.language, m.subject, m.body)
        for step in campaign.steps.prefetch_related("messages__variant")
        for m in step.messages.all()
    ]
    version = disclosure.version if disclosure else None
    return sending.preview(campaign, messages, version=version, phrases=phrases)


@login_required
@require_POST
def campaign_preview(request):
    """The campaign form's live preview (htmx, as the form changes): each chosen channel's
    texts personalised, with the product's disclosure line and the prohibited phrases
    they contain, before anything is saved."""
    access.require(access.can_build(request.user))
    form = CampaignForm(
        request.POST, segments=access.segments_for_user(request.user),
        products=_products(request.user),
    )  # fmt: skip
    form.is_valid()  # what passed validation is previewed; the rest waits for the save
    product = form.cleaned_data.get("product")
    disclosure = services.risk_disclosure_in_force(product)
    unsaved = Campaign(product=product, **services.product_record(product))
    preview = sending.preview(
        unsaved, form.messages(), version=disclosure.version if disclosure else None,
        phrases=ProhibitedPhrase.active(),
    )  # fmt: skip
    return render(request, "marketing/_preview.html", {"preview": preview, "live": True})


@login_required
@require_GET
def campaign_detail(request, pk):
    campaign = access.campaign_for_user(
        request.user, pk, related=("segment", "created_by", "approved_by", "product")
    )
    user = request.user
    # Recorded at approval and at launch; before that, the one that would be attached now.
    disclosure = (
        services.risk_disclosure_recorded(campaign)
        if campaign.risk_disclosure_document_id
        else services.risk_disclosure_in_force(campaign.product)
    )
    unsettled = campaign.status in (Campaign.Status.DRAFT, Campaign.Status.PENDING_APPROVAL)
    figures = selectors.campaign_figures(campaign)
    context = {
        "campaign": campaign,
        "disclosure": disclosure,
        "figures": figures,
        # The results chart's numbers, for static/js/dashboards.js (no inline script, CSP).
        "chart_data": json_script(figures.chart(), "dashboard-data"),
        # Before approval, the preview marks prohibited phrases where they are.
        "preview": _preview(
            campaign, disclosure, phrases=ProhibitedPhrase.active() if unsettled else ()
        ),
        "problems": services.campaign_problems(campaign) if unsettled else [],
        "can_edit": access.can_edit_campaign(user, campaign),
        "can_approve": access.can_approve(user, campaign),
        "can_launch": access.can_launch(user, campaign),
    }
    return render(request, "marketing/campaign_detail.html", context)


@login_required
@require_GET
def campaign_progress(request, pk):
    """The progress bar, polled by htmx while the campaign is sending."""
    campaign = access.campaign_for_user(request.user, pk, related=())
    figures = selectors.progress(campaign)
    return render(request, "marketing/_progress.html", {"campaign": campaign, "figures": figures})


def _campaign_action(request, pk, *, allowed, service, done: str):
    campaign = access.campaign_for_user(request.user, pk)
    access.require(allowed(request.user, campaign))
    try:
        won = service(actor=request.user, context=AuditContext.of(request), campaign=campaign)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("marketing:campaign-detail", pk=campaign.pk)
    if won is None or won is False:
        messages.warning(request, _("The campaign changed meanwhile; nothing was done."))
    else:
        messages.success(request, done)
    return redirect("marketing:campaign-detail", pk=campaign.pk)


def _campaign_action_view(*, allowed, service, done):
    """One POST view per transition: they differ only in who may, the service and the
    message (lazy: translated in the request's language)."""

    @login_required
    @require_POST
    def view(request, pk):
        return _campaign_action(request, pk, allowed=allowed, service=service, done=str(done))

    return view


campaign_submit = _campaign_action_view(
    allowed=access.can_edit_campaign, service=services.campaign_submit,
    done=gettext_lazy("Sent for approval."),
)  # fmt: skip
campaign_approve = _campaign_action_view(
    allowed=access.can_approve, service=services.campaign_approve, done=gettext_lazy("Approved.")
)
campaign_send_back = _campaign_action_view(
    allowed=access.can_approve, service=services.campaign_send_back,
    done=gettext_lazy("Sent back to its author."),
)  # fmt: skip
campaign_launch = _campaign_action_view(
    allowed=access.can_launch, service=services.campaign_launch,
    done=gettext_lazy("Launched: sending."),
)  # fmt: skip
campaign_cancel = _campaign_action_view(
    allowed=access.can_edit_campaign, service=services.campaign_cancel,
    done=gettext_lazy("Cancelled."),
)  # fmt: skip


# ---- the customers' opt-out page (public, by token) --------------------------------------


@require_http_methods(["GET", "POST"])
def opt_out(request, token):
    """GET asks (a link scanner opening it changes nothing); POST records the withdrawal."""
    delivery = sending.delivery_for_token(token)
    if delivery is None:
        raise Http404
    if request.method == "POST":
        services.opt_out_record(delivery=delivery, context=AuditContext.of(request))
        return render(request, "marketing/opt_out.html", {"done": True})
    return render(request, "marketing/opt_out.html", {"done": False})
