"""Benchmark: the sentiment scorer on English text of other domains than banking.

    .venv/bin/python -m pip download --no-deps --no-binary :all: vaderSentiment==3.3.2 -d /tmp/vader
    DJANGO_DEBUG=true .venv/bin/python bench/sentiment_english.py \
        --vader-sdist /tmp/vader/vaderSentiment-3.3.2.tar.gz [--compare OLD.npz] [--out DIR]

The labelled English text comes from the VADER package's source distribution on PyPI (MIT
licence; nothing is downloaded at run time, and none of it is trained on): the sentence
snippets of Hutto & Gilbert (ICWSM 2014), each rated by at least 20 people from −4 to +4 —
3,708 from Amazon reviews of five products (Hu & Liu 2004) and 4,200 tweets. The labels
were fixed before any model was scored: a mean rating of +0.5 or more is positive, −0.5 or
less negative, between them neutral (half a point either side of zero on the nine-point
scale). Printed per set: accuracy and macro-F1 over the three classes and, on the polar
snippets only, accuracy at 0.5 and ROC AUC — for the shipped model, a model file to compare
(the one shipped before), the lexicon alone (analytics.lexicon, its neutral band the
shipped model's English band), VADER itself (from the same source distribution) and the
majority class. --out also writes each set as a CSV that `manage.py sentiment_score
--label label` reads.
"""

import argparse
import csv
import io
import os
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETS = {
    "amazon reviews": "amazonReviewSnippets_GroundTruth.txt",
    "tweets": "tweets_GroundTruth.txt",
}
POLAR = 0.5  # |mean rating| from which a snippet is positive or negative


def ground_truth(sdist: Path) -> dict[str, list[tuple[str, str, float]]]:
    """Each set's (text, label, mean rating), read from the sdist."""
    sets: dict[str, list[tuple[str, str, float]]] = {}
    with tarfile.open(sdist) as outer:
        inner_name = next(n for n in outer.getnames() if n.endswith("hutto_ICWSM_2014.tar.gz"))
        with tarfile.open(fileobj=io.BytesIO(outer.extractfile(inner_name).read())) as inner:
            for title, name in SETS.items():
                member = next(n for n in inner.getnames() if n.endswith(name))
                text = inner.extractfile(member).read().decode("utf-8", "replace")
                rows = []
                for line in text.splitlines():
                    parts = line.split("\t")
                    if len(parts) < 3 or not parts[2].strip():
                        continue
                    rating = float(parts[1])
                    label = (
                        "positive" if rating >= POLAR else "negative" if rating <= -POLAR
                        else "neutral"
                    )  # fmt: skip
                    rows.append((parts[2].strip(), label, rating))
                sets[title] = rows
    return sets


def vader_analyzer(sdist: Path):
    """VADER's SentimentIntensityAnalyzer, imported from the sdist unpacked aside."""
    import tempfile

    folder = Path(tempfile.mkdtemp())
    with tarfile.open(sdist) as outer:
        members = [m for m in outer.getmembers() if "/vaderSentiment/" in m.name and m.isfile()]
        outer.extractall(folder, members=members, filter="data")
    sys.path.insert(0, str(next(folder.glob("vaderSentiment-*"))))
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vader-sdist", required=True, type=Path)
    parser.add_argument("--compare", type=Path, help="another model file (.npz)")
    parser.add_argument("--out", type=Path, help="write the labelled sets as CSV here")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankcrm.settings")
    import django

    django.setup()
    from analytics import lexicon, sentiment

    sets = ground_truth(args.vader_sdist)
    shipped = sentiment.scorer()
    models = [(f"shipped ({shipped.version})", shipped)]
    if args.compare:
        other = sentiment.Scorer.load(args.compare)
        models.append((f"{args.compare.name} ({other.version})", other))
    vader = vader_analyzer(args.vader_sdist)
    low, high = shipped.bands["en"]

    def three(p: float, band=(low, high)) -> str:
        return "negative" if p < band[0] else "positive" if p > band[1] else "neutral"

    for title, rows in sets.items():
        truth = [label for _t, label, _r in rows]
        counts = {x: truth.count(x) for x in sentiment.LABELS}
        print(f"\n{title}: {len(rows)} snippets {counts}")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            path = args.out / f"{title.replace(' ', '_')}.csv"
            with open(path, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["text", "label", "rating"])
                writer.writerows(rows)
        scorers = [(name, model.score) for name, model in models]
        scorers.append(("the lexicon alone (analytics.lexicon)",
                        lambda t: (three((lexicon.compound(t) + 1) / 2), None)))  # fmt: skip
        scorers.append(("VADER 3.3.2 (compound ±0.05)", lambda t: (three(
            (vader.polarity_scores(t)["compound"] + 1) / 2, (0.475, 0.525)), None)))  # fmt: skip
        for name, score in scorers:
            predicted = [score(text)[0] for text, _l, _r in rows]
            m = sentiment.metrics(truth, predicted)
            line = f"  {name:48} accuracy {m.accuracy:.3f}  macro-F1 {m.macro_f1:.3f}"
            if name.startswith(("shipped", str(args.compare.name) if args.compare else "-")):
                model = dict(models)[name]
                polar = [(t, model.probability(x)) for x, t, _r in rows if t != "neutral"]
                b = sentiment.binary_metrics([t for t, _p in polar], [p for _t, p in polar])
                line += f"  (polar: accuracy {b['accuracy']:.3f}, ROC AUC {b['roc_auc']:.3f})"
            print(line)
        m = sentiment.metrics(truth, truth)
        print(f"  {'majority class (' + m.majority_label + ')':48} accuracy "
              f"{m.majority_accuracy:.3f}  macro-F1 {m.majority_macro_f1:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
