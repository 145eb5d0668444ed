from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from analytics import access, services
from analytics.models import ModelVersion, NightlyRun
from bankcrm.access import require
from bankcrm.audit import AuditContext


@login_required
@require_GET
def model_list(request):
    require(access.can_see_models(request.user))
    versions = (
        access.model_versions_for_user(request.user)
        .select_related("trained_by", "activated_by")
        .defer("features", "dropped", "params")
        .order_by("name", "-version")[:200]
    )
    runs = NightlyRun.objects.order_by("-day")[:7]
    return render(request, "analytics/models.html", {"versions": versions, "runs": runs})


@login_required
@require_GET
def model_detail(request, pk):
    version = access.model_version_for_user(request.user, pk)
    refusal = services.activation_refusal(version, request.user)
    others = (
        access.model_versions_for_user(request.user)
        .filter(name=version.name)
        .exclude(pk=version.pk)
        .only("pk", "name", "version", "status", "trained_at", "metrics", "baseline_metrics")
        .order_by("-version")[:20]
    )
    context = {
        "version": version,
        "others": others,
        "can_activate": access.can_activate(request.user, version) and refusal is None,
        "refusal": refusal if version.status == ModelVersion.Status.TRAINED else None,
        "metric_rows": [
            ("roc_auc", _("ROC AUC"), True),
            ("pr_auc", _("PR AUC (average precision)"), True),
            ("brier", _("Brier score"), False),
        ],
    }
    return render(request, "analytics/model_detail.html", context)


@login_required
@require_POST
def model_activate(request, pk):
    version = access.model_version_for_user(request.user, pk)
    require(access.can_activate(request.user, version))
    try:
        services.model_version_activate(
            actor=request.user, context=AuditContext.of(request), version_id=version.pk
        )
    except services.ActivationRefusedError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, _("%(model)s is now active.") % {"model": version})
    return redirect("analytics:model-detail", pk=version.pk)


@login_required
@require_POST
def follow_up_done(request, pk):
    follow_up = access.follow_up_for_user(request.user, pk)
    note = request.POST.get("note", "").strip()[:500]
    if services.feedback_follow_up_done(
        actor=request.user, context=AuditContext.of(request), follow_up=follow_up, note=note
    ):
        messages.success(request, _("Follow-up marked done."))
    else:
        messages.info(request, _("A colleague marked this follow-up done already."))
    return redirect("service:supervisor")
