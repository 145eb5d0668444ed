"""Training and scoring: LightGBM with a logistic-regression baseline beside it.

Nothing here knows a data set's column names. A labelled table (a CSV a bank exports, or
the CRM's own feature rows) becomes a matrix as follows:
- a column whose values all read as numbers is numeric, any other categorical (its
  categories ordered by frequency, those seen fewer than MIN_CATEGORY_ROWS times merged into
  one "other"); empty, "NA", "null", "?" are missing;
- dropped, each with the reason recorded on the model version: the label, the id column
  named with --id, columns whose values are all different (an identifier, or free text),
  categorical columns with too many categories, constant columns, columns named with
  --exclude (known only after the fact, like a call's duration), and columns that alone
  predict the label almost perfectly (ROC AUC >= LEAK_AUC on the training part: most
  likely a leak, such as another model's output; --keep-leaky keeps them);
- the label has two values: 0/1, or two strings of which the rarer is positive unless
  --positive names it.
The hold-out is the latest rows when a time column is given (the CRM's own history always
has one: the as-of date), or a stratified random fifth. LightGBM stops early on a part of
the training rows; the baseline standardises numeric columns (median-imputed, with a
missing flag) and one-hot encodes categories. Both are reported on the same held-out rows:
ROC AUC, PR AUC (average precision), Brier score and a calibration table.
"""

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split

MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
MIN_CATEGORY_ROWS = 10
MAX_CATEGORIES = 200
LEAK_AUC = 0.99
TEST_SHARE = 0.2
SEED = 20
OTHER = "__other__"

LGB_PARAMS = {
    "objective": "binary",
    # Small trees, few of them: the nightly run computes every customer's contributions
    # (TreeSHAP, cost ~ trees x leaves x depth^2), 600 trees of 31 leaves took 2 ms a row.
    "learning_rate": 0.1,
    "num_leaves": 7,
    "max_depth": 4,
    "min_child_samples": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "cat_smooth": 10,
    "verbose": -1,
    "num_threads": 1,  # 2 threads were 8x slower on a shared 2-core machine (OpenMP waits)
    "seed": SEED,
    "deterministic": True,
    "force_row_wise": True,
}
MAX_ROUNDS = 300
EARLY_STOP = 30


class DataError(ValueError):
    """The table cannot be trained on (said in words for the command's user)."""


@dataclass
class Column:
    name: str
    kind: str  # "numeric" | "categorical"
    categories: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "categories": self.categories}


@dataclass
class Table:
    X: np.ndarray  # float64; categorical columns hold category codes, NaN = missing
    y: np.ndarray  # float64 0/1
    columns: list[Column]
    dropped: dict[str, str] = field(default_factory=dict)
    order: np.ndarray | None = None  # sortable time of each row, for a time-based hold-out
    label_detail: str = ""

    @property
    def categorical(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.kind == "categorical"]


# ---- reading a labelled CSV ---------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_csv_columns(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """Header and columns of a CSV whose delimiter is found by sniffing (, ; tab |)."""
    raw = Path(path).read_bytes()
    text = raw.decode("utf-8-sig")
    try:
        dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
    except csv.Error as exc:
        raise DataError(f"cannot tell the CSV's delimiter: {exc}") from exc
    rows = list(csv.reader(io.StringIO(text), dialect))
    if len(rows) < 2:
        raise DataError("the file has no data rows")
    header = [h.strip() for h in rows[0]]
    width = len(header)
    body = [r for r in rows[1:] if any(v.strip() for v in r)]
    if any(len(r) != width for r in body):
        raise DataError("rows do not all have as many fields as the header")
    return header, [[r[i].strip() for r in body] for i in range(width)]


def parse_label(values: list[str], positive: str | None) -> tuple[np.ndarray, str]:
    distinct = Counter(v for v in values if v.lower() not in MISSING)
    if len(distinct) != 2:
        raise DataError(f"the label must have two values, it has {len(distinct)}")
    if positive is None:
        if set(distinct) == {"0", "1"}:
            positive = "1"
        elif {v.lower() for v in distinct} in ({"no", "yes"}, {"false", "true"}):
            positive = next(v for v in distinct if v.lower() in ("yes", "true"))
        else:
            positive = min(distinct, key=lambda v: (distinct[v], v))  # the rarer
    elif positive not in distinct:
        raise DataError(f"the label has no value {positive!r}")
    y = np.array([1.0 if v == positive else 0.0 for v in values])
    if any(v.lower() in MISSING for v in values):
        raise DataError("some rows have no label")
    return y, f"= {positive}"


def _encode(name: str, values: list[str], n: int) -> tuple[Column | None, np.ndarray | None, str]:
    """A column's kind and values, or None and why it is left out."""
    present = [v for v in values if v.lower() not in MISSING]
    distinct = set(present)
    if len(distinct) <= 1:
        return None, None, "constant"
    numbers = [_number(v) for v in present]
    if all(x is not None for x in numbers):
        column = np.array([_number(v) if v.lower() not in MISSING else np.nan for v in values])
        integral = all(float(x).is_integer() for x in numbers)
        if integral and len(distinct) == len(present) and n > 50:
            return None, None, "identifier (every value different)"
        return Column(name, "numeric"), column, ""
    if len(distinct) == len(present) and n > 50:
        return None, None, "identifier or free text (every value different)"
    counts = Counter(v if v.lower() not in MISSING else "" for v in values)
    kept = [v for v, c in counts.most_common() if c >= MIN_CATEGORY_ROWS]
    if len(kept) > MAX_CATEGORIES:
        return None, None, f"more than {MAX_CATEGORIES} categories"
    if len(kept) < len(counts):
        kept.append(OTHER)
    if len(kept) <= 1:
        return None, None, "constant (after merging rare values)"
    return Column(name, "categorical", kept), encode_categories(values, kept), ""


def encode_categories(values, categories: list[str]) -> np.ndarray:
    codes = {c: float(i) for i, c in enumerate(categories)}
    other = codes.get(OTHER, np.nan)
    return np.array(
        [codes.get(v if v.lower() not in MISSING else "", other) for v in values], dtype=float
    )


def table_from_csv(
    path, *, label: str, id_column: str | None = None, exclude=(), positive: str | None = None,
    time_column: str | None = None,
) -> Table:  # fmt: skip
    header, columns = read_csv_columns(path)
    names = {h: i for i, h in enumerate(header)}
    for wanted in (label, id_column, time_column, *exclude):
        if wanted is not None and wanted not in names:
            raise DataError(f"no column {wanted!r} in the file")
    y, label_detail = parse_label(columns[names[label]], positive)
    n = len(y)
    dropped = {label: "label"}
    if id_column:
        dropped[id_column] = "identifier (--id)"
    for name in exclude:
        dropped[name] = "excluded (--exclude)"
    order = None
    if time_column:
        order = np.array(columns[names[time_column]], dtype=object)
        dropped[time_column] = "time of the row (hold-out)"
    kept, matrix = [], []
    for name, values in zip(header, columns, strict=True):
        if name in dropped:
            continue
        column, encoded, why = _encode(name, values, n)
        if column is None:
            dropped[name] = why
            continue
        kept.append(column)
        matrix.append(encoded)
    if not kept:
        raise DataError("no column is left to learn from")
    return Table(np.column_stack(matrix), y, kept, dropped, order, f"{label} {label_detail}")


# ---- splitting, leak check --------------------------------------------------------------


def split(table: Table) -> tuple[np.ndarray, np.ndarray, str]:
    """Train and test row indexes and how they were chosen."""
    n = len(table.y)
    if table.order is not None:
        ranked = np.argsort(table.order, kind="stable")
        times = table.order[ranked]
        # Rows of the same time stay on one side: cut at the change of time nearest to
        # the last fifth.
        changes = [i for i in range(1, n) if times[i] != times[i - 1]]
        if not changes:
            raise DataError("the time column has one value: no later rows to hold out")
        cut = min(changes, key=lambda i: abs(i - n * (1 - TEST_SHARE)))
        train, test = ranked[:cut], ranked[cut:]
        return train, test, f"time-based: rows from {times[cut]} on"
    if min(table.y.sum(), n - table.y.sum()) < 10:
        raise DataError("fewer than 10 rows of one label value: too few to hold any out")
    train, test = train_test_split(
        np.arange(n), test_size=TEST_SHARE, stratify=table.y, random_state=SEED
    )
    return np.sort(train), np.sort(test), f"stratified random {int(TEST_SHARE * 100)}%"


def single_column_auc(x: np.ndarray, y: np.ndarray, categorical: bool) -> float:
    if categorical:
        codes = np.nan_to_num(x, nan=-1).astype(int) + 1
        pos = np.bincount(codes, weights=y)
        count = np.bincount(codes)
        score = (pos / np.maximum(count, 1))[codes]
    else:
        score = np.where(np.isnan(x), np.nanmedian(x) if np.isfinite(x).any() else 0, x)
    if len(np.unique(score)) < 2:
        return 0.5
    auc = roc_auc_score(y, score)
    return max(auc, 1 - auc)


def drop_leaks(table: Table, train: np.ndarray) -> Table:
    keep = []
    for i, column in enumerate(table.columns):
        auc = single_column_auc(table.X[train, i], table.y[train], column.kind == "categorical")
        if auc >= LEAK_AUC:
            table.dropped[column.name] = f"predicts the label alone (ROC AUC {auc:.3f}): a leak?"
        else:
            keep.append(i)
    if not keep:
        raise DataError("every column predicts the label alone: nothing honest to learn from")
    table.X = table.X[:, keep]
    table.columns = [table.columns[i] for i in keep]
    return table


# ---- the two models ---------------------------------------------------------------------


def metrics(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    """ROC AUC, PR AUC, Brier score and a calibration table (deciles of the prediction:
    mean predicted, observed rate, rows)."""
    out = {
        "rows": len(y),
        "positives": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if y.sum() else float("nan"),
        "brier": float(brier_score_loss(y, p)),
    }
    order = np.argsort(p, kind="stable")
    table = []
    for part in np.array_split(order, min(bins, len(order))):
        if len(part):
            table.append([round(float(p[part].mean()), 4), round(float(y[part].mean()), 4),
                          len(part)])  # fmt: skip
    out["calibration"] = table
    return out


def _baseline_design(X: np.ndarray, columns: list[Column], spec: dict | None = None):
    """The baseline's inputs: numeric columns median-imputed with a missing flag, then
    standardised; categories one-hot. `spec` (from training) makes scoring repeat it."""
    fitting = spec is None
    spec = spec or {"parts": []}
    parts = []
    for i, column in enumerate(columns):
        x = X[:, i]
        if column.kind == "numeric":
            if fitting:
                med = float(np.nanmedian(x)) if np.isfinite(x).any() else 0.0
                spec["parts"].append({"kind": "numeric", "median": med,
                                      "flag": bool(np.isnan(x).any())})  # fmt: skip
            part = spec["parts"][i]
            filled = np.where(np.isnan(x), part["median"], x)
            parts.append(filled[:, None])
            if part["flag"]:
                parts.append(np.isnan(x).astype(float)[:, None])
        else:
            if fitting:
                spec["parts"].append({"kind": "categorical", "size": len(column.categories)})
            size = spec["parts"][i]["size"]
            onehot = np.zeros((len(x), size))
            codes = np.nan_to_num(x, nan=-1).astype(int)
            rows = np.flatnonzero(codes >= 0)
            onehot[rows, codes[rows]] = 1.0
            parts.append(onehot)
    design = np.hstack(parts)
    if fitting:
        spec["mean"] = design.mean(axis=0).tolist()
        spec["scale"] = [s if s > 0 else 1.0 for s in design.std(axis=0).tolist()]
    design = (design - np.array(spec["mean"])) / np.array(spec["scale"])
    return np.clip(design, -10, 10), spec


def baseline_predict(X: np.ndarray, columns: list[Column], baseline: dict) -> np.ndarray:
    design, _spec = _baseline_design(X, columns, baseline)
    z = design @ np.array(baseline["coef"]) + baseline["intercept"]
    return 1 / (1 + np.exp(-z))


@dataclass
class Trained:
    model_text: str
    baseline: dict
    metrics: dict
    baseline_metrics: dict
    params: dict
    rows_train: int
    rows_test: int
    positives_train: int
    positives_test: int
    holdout: str


def train(table: Table, *, check_leaks: bool = True) -> Trained:
    train_idx, test_idx, holdout = split(table)
    if check_leaks:
        table = drop_leaks(table, train_idx)
    X, y = table.X, table.y
    fit_idx, stop_idx = train_test_split(
        train_idx, test_size=0.15, stratify=y[train_idx], random_state=SEED
    )
    names = [f"f{i}" for i in range(len(table.columns))]  # LightGBM wants plain names
    dataset = lgb.Dataset(X[fit_idx], y[fit_idx], feature_name=names,
                          categorical_feature=table.categorical, free_raw_data=False)  # fmt: skip
    valid = lgb.Dataset(X[stop_idx], y[stop_idx], reference=dataset)
    booster = lgb.train(
        LGB_PARAMS, dataset, num_boost_round=MAX_ROUNDS, valid_sets=[valid],
        callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)],
    )  # fmt: skip
    rounds = booster.best_iteration or MAX_ROUNDS
    model_text = booster.model_to_string(num_iteration=rounds)
    p_test = booster.predict(X[test_idx], num_iteration=rounds)

    design, spec = _baseline_design(X[train_idx], table.columns)
    logistic = LogisticRegression(C=1.0, max_iter=2000)
    logistic.fit(design, y[train_idx])
    spec.update(coef=logistic.coef_[0].tolist(), intercept=float(logistic.intercept_[0]))
    p_base = baseline_predict(X[test_idx], table.columns, spec)
    return Trained(
        model_text=model_text,
        baseline=spec,
        metrics=metrics(y[test_idx], p_test),
        baseline_metrics=metrics(y[test_idx], p_base),
        params={**LGB_PARAMS, "rounds": int(rounds), "max_rounds": MAX_ROUNDS},
        rows_train=len(train_idx),
        rows_test=len(test_idx),
        positives_train=int(y[train_idx].sum()),
        positives_test=int(y[test_idx].sum()),
        holdout=holdout,
    )


def report(metrics_: dict, baseline: dict) -> str:
    """The metrics of both models as a small table, with the calibration of LightGBM."""
    lines = [f"{'':22}{'LightGBM':>10}{'logistic':>10}"]
    for key, title in (("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC"), ("brier", "Brier")):
        lines.append(f"{title:22}{metrics_[key]:>10.4f}{baseline[key]:>10.4f}")
    lines.append(f"{'rows (positives)':22}{metrics_['rows']:>10} ({metrics_['positives']})")
    lines.append("calibration (LightGBM, deciles): mean predicted / observed / rows")
    lines.extend(f"  {p:.4f}  {o:.4f}  {n}" for p, o, n in metrics_["calibration"])
    return "\n".join(lines)


# ---- scoring with a stored model --------------------------------------------------------

_BOOSTERS: dict[int, lgb.Booster] = {}


def booster_for(version) -> lgb.Booster:
    """The version's LightGBM model, parsed once per process."""
    booster = _BOOSTERS.get(version.pk)
    if booster is None:
        if len(_BOOSTERS) > 16:
            _BOOSTERS.clear()
        booster = _BOOSTERS[version.pk] = lgb.Booster(model_str=version.model_text)
    return booster


def columns_of(version) -> list[Column]:
    return [Column(f["name"], f["kind"], f.get("categories", [])) for f in version.features]


def matrix_from_csv_columns(version, header: list[str], columns: list[list[str]]) -> np.ndarray:
    """The version's input matrix from a CSV's columns (encoded as in training)."""
    names = {h: i for i, h in enumerate(header)}
    parts = []
    for column in columns_of(version):
        if column.name not in names:
            raise DataError(f"the file has no column {column.name!r}, which the model uses")
        values = columns[names[column.name]]
        if column.kind == "numeric":
            parts.append(np.array([
                _number(v) if v.lower() not in MISSING and _number(v) is not None else np.nan
                for v in values
            ]))  # fmt: skip
        else:
            parts.append(encode_categories(values, column.categories))
    return np.column_stack(parts)


def predict(version, X: np.ndarray) -> np.ndarray:
    return booster_for(version).predict(X)


def contributions(version, X: np.ndarray) -> np.ndarray:
    """Each feature's contribution to each row's score (log-odds; the bias column dropped)."""
    return booster_for(version).predict(X, pred_contrib=True)[:, :-1]


def predict_baseline(version, X: np.ndarray) -> np.ndarray:
    return baseline_predict(X, columns_of(version), version.baseline)
