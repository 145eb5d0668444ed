"""Recording trained models and putting them to work.

A trained model becomes a new version of its name (`model_version_record`); it scores
customers only once a second person activates it (`model_version_activate`), which is
refused when LightGBM did worse than its logistic-regression baseline on the held-out rows.
Both are recorded by the data-change trail as the actor's (the model text is left out).
"""

from datetime import date

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.features import FEATURE_LABELS
from analytics.models import FeedbackFollowUp, ModelVersion
from analytics.training import Table, Trained
from bankcrm.audit import AuditContext, acting, acts


class ActivationRefusedError(Exception):
    """Why a version may not be activated, in words for the user."""


@acts
def model_version_record(
    *, actor, context: AuditContext, name: str, source: str, source_detail: str, table: Table,
    trained: Trained, window: tuple[date | None, date | None] = (None, None),
) -> ModelVersion:  # fmt: skip
    """Stores a trained model as the next version of `name` (not active)."""
    with transaction.atomic():
        with connection.cursor() as cursor:  # one version number per name at a time
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics.model:' || %s))",
                           [name])  # fmt: skip
        last = ModelVersion.objects.filter(name=name).aggregate(n=Max("version"))["n"] or 0
        features = []
        for column in table.columns:
            entry = column.as_json()
            if column.name in FEATURE_LABELS and source == ModelVersion.Source.CRM:
                entry["label"] = str(FEATURE_LABELS[column.name])
            features.append(entry)
        version = ModelVersion(
            name=name, version=last + 1, source=source, source_detail=source_detail[:200],
            label=table.label_detail[:120], features=features, dropped=table.dropped,
            holdout=trained.holdout[:120], window_start=window[0], window_end=window[1],
            rows_train=trained.rows_train, rows_test=trained.rows_test,
            positives_train=trained.positives_train, positives_test=trained.positives_test,
            metrics=trained.metrics, baseline_metrics=trained.baseline_metrics,
            params=trained.params, model_text=trained.model_text, baseline=trained.baseline,
            trained_by=actor,
        )  # fmt: skip
        version.save(force_insert=True)
    return version


def activation_refusal(version: ModelVersion, actor) -> str | None:
    """Why `actor` may not activate `version` now, or None."""
    if version.status != ModelVersion.Status.TRAINED:
        return _("Only a trained version that has not been active can be activated.")
    if version.trained_by_id == actor.pk:
        return _("A model is activated by a second person, not by the one who trained it.")
    if not version.beats_baseline:
        return _(
            "This model does worse than its logistic-regression baseline on the held-out "
            "rows (ROC AUC %(model).3f against %(baseline).3f): it cannot be activated."
        ) % {"model": version.metrics["roc_auc"], "baseline": version.baseline_metrics["roc_auc"]}
    return None


@acts
@transaction.atomic
def model_version_activate(*, actor, context: AuditContext, version_id: int) -> ModelVersion:
    """Makes the version the active one of its name (the one before is retired). The rules
    are checked on the locked row; raises ActivationRefusedError with the reason."""
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None:
        raise ActivationRefusedError(_("No such model version."))
    refusal = activation_refusal(version, actor)
    if refusal:
        raise ActivationRefusedError(refusal)
    now = timezone.now()
    ModelVersion.objects.filter(name=version.name, status=ModelVersion.Status.ACTIVE).update(
        status=ModelVersion.Status.RETIRED, retired_at=now
    )
    # A plain UPDATE guarded by the status read under the lock.
    ModelVersion.objects.filter(pk=version.pk, status=ModelVersion.Status.TRAINED).update(
        status=ModelVersion.Status.ACTIVE, activated_by=actor, activated_at=now
    )
    version.status, version.activated_by, version.activated_at = (
        ModelVersion.Status.ACTIVE, actor, now,
    )  # fmt: skip
    return version


def feedback_follow_up_done(
    *, actor, context: AuditContext, follow_up: FeedbackFollowUp, note: str = ""
) -> bool:
    """Marks the follow-up of a negative satisfaction comment done, by `actor` with what
    was done; False if someone marked it done first (the UPDATE is guarded by done_at)."""
    with transaction.atomic(), acting(actor=actor, context=context):
        return bool(
            FeedbackFollowUp.objects.filter(pk=follow_up.pk, done_at__isnull=True).update(
                done_at=timezone.now(), done_by=actor, note=note[:500]
            )
        )
