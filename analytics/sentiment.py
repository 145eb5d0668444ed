"""Sentiment of customers' free text (CSAT comments, complaint texts, interaction notes),
Chinese and English: positive, neutral or negative, with a score.

The scorer is a logistic regression over TF-IDF features (sublinear term frequency, L2
norm): the text's words (analytics.words: jieba with the banking dictionary for Chinese),
word bigrams (不_满意, not_good) and character 1–3-grams (which carry Chinese sentiment
that segmentation splits, and English word stems). It ships in the repository
(analytics/data/sentiment_model.npz, about 1.4 MB: the vocabulary, idf, coefficients, the
neutral bands and English's lexicon share), so it runs where the bank's network is
closed; scoring is numpy over a dictionary lookup, no scikit-learn at run time.

The score is the probability that the text is positive. The labelled data are hotel
reviews (ChnSentiCorp, positive or negative) and banking phrases of our own
(analytics/data/sentiment_banking.csv: positive, neutral and negative, Chinese and
English) with a short list of sentiment words in both languages
(analytics/data/sentiment_lexicon.csv; the hotel reviews hold no English).
Neutral has no label in the hotel data, so it is defined honestly as a band of
scores around 0.5: neutral phrases enter training as half a positive and half a negative
example (pulling their score to the middle), and the band's ends are the pair that gives
the best macro-F1 on the training phrases' out-of-fold scores, for each language apart
(English, absent from the hotel reviews, scores lower overall). A text below the band is
negative, above it positive.

English text is scored with a lexicon beside the regression (analytics.lexicon: VADER's
lexicon and rules, with our banking words): the probability is blended with the lexicon's
compound, the lexicon's share (Scorer.lexicon_weight) chosen like the band, on the English
training phrases' scores (lexicon_weight_from). English phrases added after the model
(analytics/data/sentiment_banking_en.csv) take part in that choice only
(train(calibration=...)): they are not learned from, so the regression and the Chinese
band stay as they were trained.

`manage.py sentiment_train` rebuilds the model from the shared data set and prints the
held-out figures (docs/analytics.md); the model shipped is the one trained on the training
parts only, so `manage.py sentiment_score` on the held-out parts reproduces them.
"""

import csv
import functools
import hashlib
import io
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from analytics import lexicon
from analytics.text_models import FeedbackFollowUp, TextKind, TextSentiment
from analytics.words import DATA, normalise, words
from bankcrm.models import User
from bankcrm.roles import Role
from bankcrm.services import notify_staff
from customers.models import Interaction
from service.models import Survey, Ticket

MODEL_FILE = DATA / "sentiment_model.npz"
BANKING_PHRASES = DATA / "sentiment_banking.csv"
BANKING_PHRASES_EN = DATA / "sentiment_banking_en.csv"  # more English ones, split apart
LEXICON = DATA / "sentiment_lexicon.csv"  # words and short phrases (analytics.lexicon too)
NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
LABELS = (NEGATIVE, NEUTRAL, POSITIVE)
_HAN = re.compile(r"[\u3400-\u9fff]")


def features(text: str) -> list[str]:
    """What the model sees of a text: words, word bigrams and character 1–3-grams."""
    text = normalise(text)
    found = words(text)
    out = [f"w:{w}" for w in found]
    out += [f"b:{a}_{b}" for a, b in pairwise(found)]
    for n in (1, 2, 3):
        out += [f"c:{text[i : i + n]}" for i in range(len(text) - n + 1)]
    return out


def language(text: str) -> str:
    return "zh" if _HAN.search(text or "") else "en"


@dataclass(frozen=True)
class Scorer:
    vocabulary: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray
    intercept: float
    # The neutral band by language, (low, high): English text, which the hotel reviews do
    # not hold, scores lower overall, so each language has its own band.
    bands: dict[str, tuple[float, float]]
    version: str
    # English: the share of the lexicon's score (analytics.lexicon) in the probability.
    lexicon_weight: float = 0.0

    def probability(self, text: str) -> float:
        """The probability that `text` is positive: the logistic regression's output, for
        English text blended with the lexicon's compound read as a probability."""
        p = self.regression(text)
        if self.lexicon_weight and language(text) == "en":
            p = blend(p, lexicon.compound(text), self.lexicon_weight)
        return p

    def regression(self, text: str) -> float:
        """The logistic regression's probability that `text` is positive."""
        counts = Counter(i for f in features(text) if (i := self.vocabulary.get(f)) is not None)
        z = self.intercept
        if counts:
            index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
            x = tf * self.idf[index]
            z += float(x @ self.coef[index]) / float(np.sqrt(x @ x))
        return 1.0 / (1.0 + math.exp(-z))

    def label(self, probability: float, lang: str = "zh") -> str:
        low, high = self.bands[lang]
        if probability < low:
            return NEGATIVE
        if probability > high:
            return POSITIVE
        return NEUTRAL

    def score(self, text: str) -> tuple[str, float]:
        """(label, score): the score is the probability of positive, rounded to 4 places."""
        p = self.probability(text)
        return self.label(p, language(text)), round(p, 4)

    def describe_bands(self) -> str:
        return ", ".join(f"{lang} {low:.3f}–{high:.3f}" for lang, (low, high) in self.bands.items())

    def save(self, path: Path) -> None:
        terms = "\n".join(sorted(self.vocabulary, key=self.vocabulary.__getitem__))
        np.savez_compressed(
            path,
            terms=np.frombuffer(terms.encode(), dtype=np.uint8),
            idf=self.idf.astype(np.float32),
            coef=self.coef.astype(np.float32),
            scalars=np.array(
                [self.intercept, *self.bands["zh"], *self.bands["en"], self.lexicon_weight]
            ),
            version=np.frombuffer(self.version.encode(), dtype=np.uint8),
        )

    @classmethod
    def load(cls, path: Path) -> "Scorer":
        with np.load(path) as data:
            terms = data["terms"].tobytes().decode().split("\n")
            scalars = [float(v) for v in data["scalars"]]
            intercept, zh_low, zh_high, en_low, en_high = scalars[:5]
            return cls(
                vocabulary={t: i for i, t in enumerate(terms)},
                idf=data["idf"].astype(np.float64),
                coef=data["coef"].astype(np.float64),
                intercept=intercept,
                bands={"zh": (zh_low, zh_high), "en": (en_low, en_high)},
                version=data["version"].tobytes().decode(),
                lexicon_weight=scalars[5] if len(scalars) > 5 else 0.0,  # older files: none
            )


def blend(probability: float, compound: float, weight: float) -> float:
    """The regression's probability and the lexicon's compound (−1…1, read as (c + 1) / 2)
    weighed together."""
    return (1 - weight) * probability + weight * (compound + 1) / 2


@functools.cache
def scorer() -> Scorer:
    """The shipped model, loaded once per process."""
    return Scorer.load(MODEL_FILE)


def score_text(text: str) -> tuple[str, float]:
    return scorer().score(text)


# ---- labels of any file -------------------------------------------------------------------

_LABEL_WORDS = {
    "1": POSITIVE, "0": NEGATIVE, "-1": NEGATIVE, "2": POSITIVE,
    "pos": POSITIVE, "positive": POSITIVE, "neg": NEGATIVE, "negative": NEGATIVE,
    "neu": NEUTRAL, "neutral": NEUTRAL, "mixed": NEUTRAL,
    "正面": POSITIVE, "积极": POSITIVE, "好评": POSITIVE, "负面": NEGATIVE, "消极": NEGATIVE,
    "差评": NEGATIVE, "中性": NEUTRAL, "中评": NEUTRAL,
    "true": POSITIVE, "false": NEGATIVE, "yes": POSITIVE, "no": NEGATIVE,
}  # fmt: skip


class LabelError(ValueError):
    """A label column whose values are not a sentiment scheme this module knows."""


def label_mapping(values: Iterable[str]) -> dict[str, str]:
    """How a label column's values read as sentiment, detected from the values themselves:
    1/0 (or 1/0/-1, 2/1/0 for three classes), pos/neg, positive/negative/neutral, 正面/负面
    … Raises LabelError for values outside one scheme."""
    seen = {v.strip().lower() for v in values if v is not None and v.strip() != ""}
    if seen and seen <= {"0", "1", "2"} and "2" in seen:  # 0 negative, 1 neutral, 2 positive
        return {"0": NEGATIVE, "1": NEUTRAL, "2": POSITIVE}
    if seen and seen <= {"-1", "0", "1"} and "-1" in seen:
        return {"-1": NEGATIVE, "0": NEUTRAL, "1": POSITIVE}
    unknown = sorted(v for v in seen if v not in _LABEL_WORDS)
    if unknown or not seen:
        raise LabelError(
            "labels not understood: "
            + (", ".join(repr(v) for v in unknown[:5]) if unknown else "no values")
        )
    return {v: _LABEL_WORDS[v] for v in seen}


# ---- metrics ------------------------------------------------------------------------------


@dataclass
class Metrics:
    rows: int
    accuracy: float
    macro_f1: float
    labels: tuple[str, ...]
    confusion: list[list[int]]  # rows: true label, columns: predicted label (LABELS order)
    majority_label: str
    majority_accuracy: float
    majority_macro_f1: float

    def table(self) -> str:
        width = max(len(x) for x in LABELS) + 2
        lines = ["true \\ predicted".ljust(18) + "".join(x.rjust(width) for x in LABELS)]
        for name, row in zip(LABELS, self.confusion, strict=True):
            if name in self.labels:
                lines.append(name.ljust(18) + "".join(str(n).rjust(width) for n in row))
        return "\n".join(lines)


def _macro_f1(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p == label)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if p == label != t)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label != p)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


def metrics(truth: Sequence[str], predicted: Sequence[str]) -> Metrics:
    """Accuracy, macro-F1 over the labels the truth holds, the confusion table, and what
    always answering the most frequent true label would score (the majority baseline)."""
    labels = tuple(x for x in LABELS if x in set(truth))
    n = len(truth)
    right = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p)
    index = {x: i for i, x in enumerate(LABELS)}
    confusion = [[0] * len(LABELS) for _ in LABELS]
    for t, p in zip(truth, predicted, strict=True):
        confusion[index[t]][index[p]] += 1
    majority = Counter(truth).most_common(1)[0][0] if truth else NEUTRAL
    always = [majority] * n
    return Metrics(
        rows=n,
        accuracy=right / n if n else 0.0,
        macro_f1=_macro_f1(truth, predicted, labels),
        labels=labels,
        confusion=confusion,
        majority_label=majority,
        majority_accuracy=(Counter(truth)[majority] / n) if n else 0.0,
        majority_macro_f1=_macro_f1(truth, always, labels),
    )


# ---- training (manage.py sentiment_train) -------------------------------------------------


@dataclass
class Example:
    text: str
    label: str  # positive | negative | neutral
    source: str  # "hotel" | "banking" | "lexicon"


def read_examples(path: Path, *, source: str, text: str = "", label: str = "") -> list[Example]:
    """Rows of a labelled CSV; the text column is the one with the longest values unless
    named, the label column the other one."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return []
    columns = list(rows[0])
    text = text or max(columns, key=lambda c: sum(len(r[c] or "") for r in rows))
    label = label or next(c for c in columns if c != text)
    mapping = label_mapping(r[label] for r in rows)
    return [
        Example(r[text], mapping[r[label].strip().lower()], source)
        for r in rows
        if (r[text] or "").strip() and (r[label] or "").strip()
    ]


def split(examples: list[Example], *, test_share: float, seed: int = 0):
    """A stratified split by (source, language, label), the same for the same input."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault((e.source, language(e.text), e.label), []).append(i)
    test: set[int] = set()
    for members in groups.values():
        chosen = rng.permutation(members)[: round(len(members) * test_share)]
        test.update(int(i) for i in chosen)
    return (
        [e for i, e in enumerate(examples) if i not in test],
        [e for i, e in enumerate(examples) if i in test],
    )


@dataclass(frozen=True)
class TrainingParams:
    c: float = 4.0  # inverse regularisation
    banking_weight: float = 5.0  # a banking phrase counts as this many hotel reviews
    min_df: int = 2
    lexicon: bool = True  # blend English scores with the lexicon's (analytics.lexicon)


def _fit(examples: list[Example], params: TrainingParams, feats: dict[str, list[str]]):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    docs, y, weight = [], [], []
    for e in examples:
        w = 1.0 if e.source == "hotel" else params.banking_weight
        if e.label == NEUTRAL:  # half a positive and half a negative: a score near 0.5
            docs += [feats[e.text], feats[e.text]]
            y += [1, 0]
            weight += [w / 2, w / 2]
        else:
            docs.append(feats[e.text])
            y.append(1 if e.label == POSITIVE else 0)
            weight.append(w)
    vectorizer = TfidfVectorizer(
        analyzer=lambda doc: doc, min_df=params.min_df, sublinear_tf=True, dtype=np.float64
    )
    x = vectorizer.fit_transform(docs)
    y_arr, w_arr = np.array(y), np.array(weight)
    # Balanced classes: the hotel reviews are two thirds positive.
    for cls in (0, 1):
        share = w_arr[y_arr == cls].sum() / w_arr.sum()
        w_arr[y_arr == cls] *= 0.5 / share
    model = LogisticRegression(C=params.c, max_iter=2000)
    model.fit(x, y_arr, sample_weight=w_arr)
    return vectorizer, model


def _scorer_from(vectorizer, model, bands: dict[str, tuple[float, float]],
                 lexicon_weight: float = 0.0) -> Scorer:  # fmt: skip
    coef = model.coef_[0].astype(np.float32)
    digest = hashlib.sha256(coef.tobytes()).hexdigest()[:10]
    # The lexicon's weight and digest are part of the version: it is read from its files.
    lexicon_part = f"-lex{lexicon_weight:g}-{lexicon.digest()}" if lexicon_weight else ""
    return Scorer(
        vocabulary={t: int(i) for t, i in vectorizer.vocabulary_.items()},
        idf=vectorizer.idf_.astype(np.float32).astype(np.float64),
        coef=coef.astype(np.float64),
        intercept=float(model.intercept_[0]),
        bands=bands,
        version=f"tfidf-lr-{digest}{lexicon_part}",
        lexicon_weight=lexicon_weight,
    )


def neutral_band(truth: Sequence[str], scores: Sequence[float]) -> tuple[float, float]:
    """The (low, high) pair, on a 0.025 grid, with the best three-class macro-F1."""
    best = (-1.0, 0.0, 0.4, 0.6)
    for low in np.arange(0.05, 0.5001, 0.025):
        for high in np.arange(max(low, 0.5), 0.9501, 0.025):
            predicted = [NEGATIVE if p < low else POSITIVE if p > high else NEUTRAL for p in scores]
            f1 = _macro_f1(truth, predicted, LABELS)
            width = high - low
            if (f1, -width) > (best[0], -best[1]):
                best = (f1, width, float(low), float(high))
    return round(best[2], 3), round(best[3], 3)


def train(
    examples: list[Example], params: TrainingParams = TrainingParams(), *, folds: int = 5,
    calibration: Sequence[Example] = (),
) -> Scorer:  # fmt: skip
    """The scorer trained on `examples`; the neutral bands (and English's share of the
    lexicon) from the out-of-fold scores of the banking phrases among them (hotel reviews
    have no neutral), with the scores of the `calibration` phrases, which are not learned
    from (English phrases added after the model, so that the regression and the Chinese
    band stay what they were)."""
    from sklearn.model_selection import StratifiedKFold

    feats = {e.text: features(e.text) for e in examples}
    banking = [i for i, e in enumerate(examples) if e.source == "banking"]
    oof: dict[int, float] = {}
    if banking and folds > 1:
        strata = [f"{e.source}-{e.label}" for e in examples]
        kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        for train_idx, test_idx in kfold.split(np.zeros(len(examples)), strata):
            vectorizer, model = _fit([examples[i] for i in train_idx], params, feats)
            wanted = [i for i in test_idx if examples[i].source == "banking"]
            if wanted:
                x = vectorizer.transform([feats[examples[i].text] for i in wanted])
                for i, p in zip(wanted, model.predict_proba(x)[:, 1], strict=True):
                    oof[i] = float(p)
    vectorizer, model = _fit(examples, params, feats)
    scored = [examples[i] for i in oof] + list(calibration)
    regression = {examples[i].text: p for i, p in oof.items()}
    if calibration:
        x = vectorizer.transform([features(e.text) for e in calibration])
        regression |= dict(zip([e.text for e in calibration], model.predict_proba(x)[:, 1],
                               strict=True))  # fmt: skip
    weight = lexicon_weight_from(regression, scored) if params.lexicon else 0.0
    blended = {
        text: blend(p, lexicon.compound(text), weight) if language(text) == "en" else p
        for text, p in regression.items()
    }
    return _scorer_from(vectorizer, model, bands_from(blended, scored), weight)


LEXICON_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def lexicon_weight_from(scores: dict[str, float], examples: list[Example]) -> float:
    """The lexicon's share in English scores (of LEXICON_WEIGHTS) whose blend, with its own
    neutral band, gives the English phrases' out-of-fold scores the best three-class
    macro-F1 (0 without English phrases); the lower weight on a tie."""
    rows = [e for e in examples if language(e.text) == "en"]
    if not rows:
        return 0.0
    truth = [e.label for e in rows]
    compounds = [lexicon.compound(e.text) for e in rows]
    best = (-1.0, 0.0)
    for weight in LEXICON_WEIGHTS:
        blended = [blend(scores[e.text], c, weight) for e, c in zip(rows, compounds, strict=True)]
        low, high = neutral_band(truth, blended)
        predicted = [NEGATIVE if p < low else POSITIVE if p > high else NEUTRAL for p in blended]
        f1 = _macro_f1(truth, predicted, LABELS)
        if f1 > best[0]:
            best = (f1, weight)
    return best[1]


def bands_from(scores: dict[str, float], examples: list[Example]) -> dict:
    """Each language's neutral band from the scores of its labelled examples (0.4–0.6 for a
    language without any)."""
    bands = {}
    for lang in ("zh", "en"):
        rows = [e for e in examples if language(e.text) == lang]
        bands[lang] = (
            neutral_band([e.label for e in rows], [scores[e.text] for e in rows])
            if rows
            else (0.4, 0.6)
        )
    return bands


def binary_metrics(truth: Sequence[str], scores: Sequence[float]) -> dict:
    """Accuracy and macro-F1 at 0.5 and ROC AUC, for a file labelled positive/negative only
    (the hotel reviews), and how many texts the band calls neutral."""
    from sklearn.metrics import roc_auc_score

    predicted = [POSITIVE if p >= 0.5 else NEGATIVE for p in scores]
    m = metrics(truth, predicted)
    y = [1 if t == POSITIVE else 0 for t in truth]
    return {
        "rows": m.rows,
        "accuracy": m.accuracy,
        "macro_f1": m.macro_f1,
        "roc_auc": float(roc_auc_score(y, scores)),
        "majority_accuracy": m.majority_accuracy,
        "majority_macro_f1": m.majority_macro_f1,
    }


def write_csv(examples: Iterable[Example]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "label"])
    writer.writerows([e.text, e.label] for e in examples)
    return out.getvalue()


# ---- the sentiment of the CRM's texts, stored when they arrive ---------------------------


def text_sentiment_request(kind: str, pk: int, text: str) -> None:
    """bankcrm.registry.TEXT_WRITTEN: the text's row is (again) pending, in the transaction
    that stored the text, and a task computes it once that commits; if the task is lost,
    the beat sweep finds the pending row."""
    from bankcrm.outbox import enqueue_on_commit

    if kind not in TextKind.values:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO analytics_textsentiment
                (kind, source_id, label, model_version, text_sha256, requested_at)
            VALUES (%s, %s, '', '', '', now())
            ON CONFLICT (kind, source_id)
            DO UPDATE SET computed_at = NULL, requested_at = EXCLUDED.requested_at
            """,
            [kind, pk],
        )
    enqueue_on_commit("analytics.tasks.text_sentiment", kind, pk)


def _source(kind: str, pk: int) -> tuple[str, int, int | None] | None:
    """(text, customer id, satisfaction score) of a text, None if it is gone."""
    if kind == TextKind.SURVEY:
        row = (
            Survey.objects.filter(ticket_id=pk, answered_at__isnull=False)
            .values_list("comment", "ticket__customer_id", "score")
            .first()
        )
        return row
    if kind == TextKind.TICKET:
        row = Ticket.objects.filter(pk=pk).values_list("description", "customer_id").first()
    else:
        row = Interaction.objects.filter(pk=pk).values_list("notes", "customer_id").first()
    return (*row, None) if row else None


@transaction.atomic
def text_sentiment_compute(*, kind: str, source_id: int) -> TextSentiment | None:
    """Computes one pending text's sentiment; None when there is nothing to do (done
    already, or another worker holds it). A negative satisfaction comment raises the
    supervisor's follow-up, once per ticket. A text that was removed or emptied since loses
    its row."""
    row = (
        TextSentiment.objects.select_for_update(skip_locked=True)
        .filter(kind=kind, source_id=source_id, computed_at__isnull=True)
        .first()
    )
    if row is None:
        return None
    source = _source(kind, source_id)
    if source is None or not (source[0] or "").strip():
        row.delete()
        return None
    text, customer_id, satisfaction = source
    model = scorer()
    label, score = model.score(text)
    row.customer_id = customer_id
    row.label, row.score, row.model_version = label, score, model.version
    row.text_sha256 = hashlib.sha256(text.encode()).hexdigest()
    row.computed_at = timezone.now()
    row.save()
    if kind == TextKind.SURVEY and label == NEGATIVE:
        FeedbackFollowUp.objects.bulk_create(
            [
                FeedbackFollowUp(
                    ticket_id=source_id, customer_id=customer_id, satisfaction=satisfaction,
                    score=score,
                )
            ],
            ignore_conflicts=True,  # one per ticket, however often its comment is scored
        )  # fmt: skip
        _tell_supervisors(source_id)
    return row


def _tell_supervisors(ticket_id: int) -> int:
    """Supervisors hear of a negative satisfaction comment in their notifications (once per
    ticket); the follow-up itself is on their page."""
    number = Ticket.objects.filter(pk=ticket_id).values_list("number", flat=True).first()
    supervisors = User.objects.filter(
        is_active=True, groups__name=Role.SERVICE_SUPERVISOR
    ).distinct()
    return notify_staff(
        recipients=supervisors, kind="csat_follow_up",
        title=gettext("A customer was unhappy with ticket %(number)s") % {"number": number},
        body=gettext("Follow the satisfaction comment up on the supervisor page."),
        link=reverse("service:supervisor"), dedupe_key=f"csat-follow-up:{ticket_id}",
    )  # fmt: skip


def text_sentiment_sweep(*, limit: int = 500) -> int:
    """Computes pending texts, oldest first (beat, every minute: what a lost task left);
    returns how many were computed."""
    done = 0
    pending = TextSentiment.objects.pending().order_by("requested_at")
    for kind, source_id in pending.values_list("kind", "source_id")[:limit]:
        done += text_sentiment_compute(kind=kind, source_id=source_id) is not None
    return done


def text_sentiment_compute_pending(*, limit: int = 5000) -> int:
    """Computes up to `limit` pending texts, oldest first, in one transaction: for many at
    once (a backfill, the demo's texts) where text_sentiment_compute would take a
    transaction and three queries a text. The rows are taken with SKIP LOCKED as that one
    takes its row (a worker on the same rows skips them), their texts read in one query per
    kind, each distinct text scored once (notes repeat), and the results written in one
    UPDATE. The outcome is text_sentiment_compute's for each row: a text gone or emptied
    loses its row, a negative satisfaction comment raises its follow-up. Returns how many
    were computed."""
    with transaction.atomic():
        rows = list(
            TextSentiment.objects.pending()
            .select_for_update(skip_locked=True)
            .order_by("requested_at", "pk")
            .values_list("pk", "kind", "source_id")[:limit]
        )
        if not rows:
            return 0
        wanted: dict[str, list[int]] = {}
        for _pk, kind, source_id in rows:
            wanted.setdefault(kind, []).append(source_id)
        sources = _sources(wanted)
        model = scorer()
        scored: dict[str, tuple[str, float]] = {}
        done, gone, unhappy = [], [], []
        for pk, kind, source_id in rows:
            text, customer_id, satisfaction = sources.get((kind, source_id), ("", None, None))
            if not (text or "").strip():
                gone.append(pk)
                continue
            if text not in scored:
                scored[text] = model.score(text)
            label, score = scored[text]
            done.append((pk, customer_id, label, score, hashlib.sha256(text.encode()).hexdigest()))
            if kind == TextKind.SURVEY and label == NEGATIVE:
                unhappy.append(
                    FeedbackFollowUp(ticket_id=source_id, customer_id=customer_id,
                                     satisfaction=satisfaction, score=score)
                )  # fmt: skip
        TextSentiment.objects.filter(pk__in=gone).delete()
        columns = [list(column) for column in zip(*done, strict=True)] if done else [[]] * 5
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE analytics_textsentiment t
                   SET customer_id = d.customer_id, label = d.label, score = d.score,
                       model_version = %s, text_sha256 = d.sha256, computed_at = now()
                  FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::float8[], %s::text[])
                       AS d (id, customer_id, label, score, sha256)
                 WHERE t.id = d.id
                """,
                [model.version, *columns],
            )
        FeedbackFollowUp.objects.bulk_create(unhappy, ignore_conflicts=True)
        for follow_up in unhappy:
            _tell_supervisors(follow_up.ticket_id)
    return len(done)


def _sources(wanted: dict[str, list[int]]) -> dict[tuple[str, int], tuple]:
    """(kind, source id): (text, customer id, satisfaction score) of the texts asked for, one
    query per kind (_source's reads, for many)."""
    found: dict[tuple[str, int], tuple] = {}
    if ids := wanted.get(TextKind.INTERACTION):
        for pk, text, customer_id in Interaction.objects.filter(pk__in=ids).values_list(
            "pk", "notes", "customer_id"
        ):
            found[(TextKind.INTERACTION, pk)] = (text, customer_id, None)
    if ids := wanted.get(TextKind.TICKET):
        for pk, text, customer_id in Ticket.objects.filter(pk__in=ids).values_list(
            "pk", "description", "customer_id"
        ):
            found[(TextKind.TICKET, pk)] = (text, customer_id, None)
    if ids := wanted.get(TextKind.SURVEY):
        for pk, text, customer_id, score in Survey.objects.filter(
            ticket_id__in=ids, answered_at__isnull=False
        ).values_list("ticket_id", "comment", "ticket__customer_id", "score"):
            found[(TextKind.SURVEY, pk)] = (text, customer_id, score)
    return found


def text_sentiment_backfill() -> int:
    """Queues every stored text that has no sentiment row (texts stored before this module,
    or by bulk loads that bypass the services); the sweep computes them. Returns how many."""
    statements = [
        ("survey", "SELECT ticket_id, comment FROM service_survey WHERE comment <> ''"),
        ("ticket", "SELECT id, description FROM service_ticket WHERE description <> ''"),
        ("interaction", "SELECT id, notes FROM customers_interaction WHERE notes <> ''"),
    ]
    queued = 0
    with connection.cursor() as cursor:
        for kind, select in statements:
            cursor.execute(
                f"""
                INSERT INTO analytics_textsentiment
                    (kind, source_id, label, model_version, text_sha256, requested_at)
                SELECT %s, src.id, '', '', '', now()
                FROM ({select}) AS src (id, text)
                WHERE btrim(src.text) <> ''
                ON CONFLICT (kind, source_id) DO NOTHING
                """,  # noqa: S608 - the statements are this module's constants
                [kind],
            )
            queued += cursor.rowcount
    return queued


def text_annotations(refs: list[tuple[str, int]]) -> dict[tuple[str, int], tuple[str, float]]:
    """bankcrm.registry.TEXT_ANNOTATIONS: the computed sentiment of `refs`, one query."""
    wanted: dict[str, list[int]] = {}
    for kind, pk in refs:
        wanted.setdefault(kind, []).append(pk)
    condition = Q()
    for kind, ids in wanted.items():
        condition |= Q(kind=kind, source_id__in=ids)
    rows = TextSentiment.objects.filter(condition, computed_at__isnull=False).values_list(
        "kind", "source_id", "label", "score"
    )
    return {(kind, pk): (label, score) for kind, pk, label, score in rows}
