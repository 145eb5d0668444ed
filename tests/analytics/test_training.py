"""Training on any labelled CSV, and the rules of activation: a second person, and never a
model that does worse than its baseline."""

import csv
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import translation

from analytics.models import ModelVersion
from analytics.services import ActivationRefusedError
from compliance.models import DataChange
from tests.analytics.helpers import activate, synthetic_model

pytestmark = pytest.mark.django_db


def labelled_csv(path, rows=2000, seed=7):
    """Columns a bank might export, with names nothing in the code knows: an id, a constant,
    a leak (the label itself, reworded), a category that matters and numbers that matter
    together (an interaction a linear model cannot see)."""
    rng = np.random.default_rng(seed)
    a, b, noise = rng.normal(size=rows), rng.normal(size=rows), rng.normal(size=rows)
    group = rng.choice(["north", "south", "east"], size=rows)
    logit = 2.0 * a * b + np.where(group == "north", 1.2, -0.4) - 0.5
    y = rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle, delimiter=";")
        out.writerow(["kundennr", "alpha", "beta", "gamma", "region", "land", "verdict", "result"])
        for i in range(rows):
            verdict = "gone" if y[i] else "kept"
            out.writerow(
                [
                    100000 + i,
                    f"{a[i]:.4f}",
                    f"{b[i]:.4f}",
                    f"{noise[i]:.4f}",
                    group[i],
                    "CN",
                    verdict,
                    "left" if y[i] else "stayed",
                ]
            )
    return path


def test_csv_training_and_evaluation(tmp_path, compliance_officer, admin_user):
    path = labelled_csv(tmp_path / "export.csv")
    out = StringIO()
    call_command(
        "model_train",
        "attrition",
        "--csv",
        str(path),
        "--label",
        "result",
        "--by",
        admin_user.username,
        stdout=out,
    )
    version = ModelVersion.objects.get(name="attrition")
    assert version.status == "trained" and version.trained_by == admin_user
    assert version.label == "result = left"  # two strings: the rarer is positive
    assert {f["name"] for f in version.features} == {"alpha", "beta", "gamma", "region"}
    assert [f["kind"] for f in version.features if f["name"] == "region"] == ["categorical"]
    assert version.dropped["kundennr"].startswith("identifier")
    assert version.dropped["land"] == "constant"
    assert "predicts the label alone" in version.dropped["verdict"]
    assert version.rows_train + version.rows_test == 2000
    assert version.metrics["roc_auc"] > 0.75 > version.baseline_metrics["roc_auc"]
    assert len(version.metrics["calibration"]) == 10
    assert "ROC AUC" in out.getvalue() and "Brier" in out.getvalue()

    activate(version, compliance_officer)
    out = StringIO()
    call_command(
        "model_evaluate",
        "attrition",
        "--csv",
        str(labelled_csv(tmp_path / "new.csv", seed=8)),
        "--label",
        "result",
        stdout=out,
    )
    auc = float(out.getvalue().split("ROC AUC")[1].split()[0])
    assert auc > 0.75


def test_second_person_activates(rm, admin_user, compliance_officer):
    first = synthetic_model("churn", trainer=admin_user)
    with translation.override("en"), pytest.raises(ActivationRefusedError, match="second person"):
        activate(first, admin_user)
    # The database holds the rule too, whatever path writes.
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=first.pk).update(
            status="active", activated_by=admin_user, activated_at=first.trained_at
        )
    activate(first, compliance_officer)
    second = synthetic_model("churn", trainer=compliance_officer, seed=2)
    activate(second, admin_user)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("retired", "active")
    assert second.activated_by == admin_user
    changes = DataChange.objects.filter(
        table_name="analytics_modelversion", row_pk=str(second.pk), actor_id=admin_user.pk
    )
    assert changes.filter(op=DataChange.Op.UPDATE, changes__has_key="activated_by_id").exists()


def test_worse_than_baseline_is_refused(admin_user, compliance_officer):
    version = synthetic_model("churn", trainer=admin_user)
    ModelVersion.objects.filter(pk=version.pk).update(
        metrics={**version.metrics, "roc_auc": 0.61},
        baseline_metrics={**version.baseline_metrics, "roc_auc": 0.62},
    )
    with translation.override("en"), pytest.raises(ActivationRefusedError, match="baseline"):
        activate(version, compliance_officer)
    version.refresh_from_db()
    assert version.status == "trained" and version.activated_by is None
