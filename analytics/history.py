"""Training rows from the CRM's own history: feature rows at several past as-of dates,
each labelled with what happened after it (analytics.features), stacked, with the as-of
date as the time of each row so the hold-out is the latest date."""

from datetime import date, timedelta

import numpy as np

from analytics.features import FEATURE_LABELS, build_features, build_labels, horizon_days
from analytics.training import Column, DataError, Table

SNAPSHOTS = 4
STEP_DAYS = 30


def crm_table(name: str, *, today: date, snapshots: int = SNAPSHOTS, step: int = STEP_DAYS):
    """(Table, (first as-of date, last)) for the model `name` (a label of
    analytics.features: churn, potential, propensity_<kind>)."""
    last = today - timedelta(days=horizon_days(name) + 1)
    dates = [last - timedelta(days=step * k) for k in reversed(range(snapshots))]
    parts, labels, times = [], [], []
    for as_of in dates:
        frame = build_features(as_of)
        y, eligible = build_labels(name, frame)
        parts.append(frame.X[eligible])
        labels.append(y[eligible])
        times.extend([as_of.isoformat()] * int(eligible.sum()))
    X, y = np.vstack(parts), np.concatenate(labels)
    if len(y) == 0 or y.sum() == 0 or y.sum() == len(y):
        raise DataError(f"the CRM's history gives no usable {name} labels up to {last}")
    columns = [Column(n, "numeric") for n in FEATURE_LABELS]
    table = Table(X, y, columns, {}, np.array(times, dtype=object), f"{name} (CRM history)")
    return table, (dates[0], dates[-1])
