"""manage.py sentiment_score --csv FILE --text COLUMN [--label COLUMN] [--out FILE] [--model FILE]

Scores every row of any CSV with the shipped sentiment model (or --model, another file):
the file comes back (to stdout, or --out) with `sentiment` and `sentiment_score` columns
added. With --label, the label column's values are read as sentiment whatever scheme
they use (1/0, pos/neg, positive/negative/neutral, 正面/负面 …: detected from the values,
analytics.sentiment.label_mapping) and accuracy, macro-F1 and the confusion table are
printed (to stderr when the scored file goes to stdout), beside the majority-class
baseline. On a file labelled positive/negative only, the neutral band counts as wrong, so
the figures at the 0.5 threshold and the ROC AUC are printed too.
"""

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analytics import sentiment


class Command(BaseCommand):
    help = "Score the sentiment of a text column of any CSV; metrics when labels are given."

    def add_arguments(self, parser):
        parser.add_argument("--csv", dest="path", required=True, help="the file to score")
        parser.add_argument("--text", required=True, help="the column holding the text")
        parser.add_argument("--label", help="a column of known sentiment labels")
        parser.add_argument("--out", help="write the scored CSV here (default: stdout)")
        parser.add_argument("--encoding", default="utf-8-sig")
        parser.add_argument("--model", help="another model file (.npz) than the shipped one")

    def handle(self, *args, path: str, text: str, label, out, encoding, model, **options):
        rows, header = self._read(path, encoding)
        for column in [text] + ([label] if label else []):
            if column not in header:
                raise CommandError(f"no column {column!r} in the file: {', '.join(header)}")
        mapping = None
        if label:
            try:
                mapping = sentiment.label_mapping(r[label] for r in rows)
            except sentiment.LabelError as exc:
                raise CommandError(str(exc)) from exc
        try:
            model = sentiment.Scorer.load(Path(model)) if model else sentiment.scorer()
        except (OSError, KeyError, ValueError) as exc:
            raise CommandError(f"cannot read the model {model}: {exc}") from exc
        scored = [(r, *model.score(r[text] or "")) for r in rows]
        self._write(scored, header, out)
        if label:
            report = self.stdout if out else self.stderr
            self._metrics(report, scored, label, mapping, model)

    def _read(self, path, encoding):
        try:
            with open(path, encoding=encoding, newline="") as handle:
                reader = csv.DictReader(handle)
                rows = list(reader)
                return rows, list(reader.fieldnames or [])
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc

    def _write(self, scored, header, out):
        fields = [*header, "sentiment", "sentiment_score"]
        handle = open(out, "w", encoding="utf-8", newline="") if out else self.stdout  # noqa: SIM115
        try:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            for row, label, score in scored:
                writer.writerow({**row, "sentiment": label, "sentiment_score": f"{score:.4f}"})
        finally:
            if out:
                handle.close()

    def _metrics(self, report, scored, column, mapping, model):
        labelled = [(mapping[r[column].strip().lower()], lab, p) for r, lab, p in scored
                    if (r[column] or "").strip()]  # fmt: skip
        truth = [t for t, _l, _p in labelled]
        m = sentiment.metrics(truth, [lab for _t, lab, _p in labelled])
        report.write(
            f"{m.rows} labelled rows ({model.version}, neutral bands "
            f"{model.describe_bands()})\n"
            f"accuracy {m.accuracy:.3f}, macro-F1 {m.macro_f1:.3f}\n"
            f"majority class ({m.majority_label}): accuracy {m.majority_accuracy:.3f}, "
            f"macro-F1 {m.majority_macro_f1:.3f}\n{m.table()}\n"
        )
        if sentiment.NEUTRAL not in m.labels and len(m.labels) == 2:
            b = sentiment.binary_metrics(truth, [p for _t, _l, p in labelled])
            report.write(
                f"positive/negative at 0.5 (no neutral band): accuracy {b['accuracy']:.3f}, "
                f"macro-F1 {b['macro_f1']:.3f}, ROC AUC {b['roc_auc']:.3f}\n"
            )
