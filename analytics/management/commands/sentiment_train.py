"""manage.py sentiment_train [--hotel FILE] [--holdout-dir DIR] [--dry-run]

Rebuilds the shipped sentiment model (analytics/data/sentiment_model.npz) and prints its
held-out figures: the hotel reviews split 80/20 and the banking phrases 2/3 to 1/3 (both
stratified, seeded), the model trained on the two training parts, then measured on each
held-out part beside the majority-class baseline and beside a model trained on hotel
reviews only (what the shared data set alone gives on banking text).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analytics import sentiment

HOTEL = Path(settings.BASE_DIR).parent / "shared/datasets/sentiment/ChnSentiCorp_htl_all.csv"


class Command(BaseCommand):
    help = "Train the sentiment model on the hotel reviews and banking phrases; print metrics."

    def add_arguments(self, parser):
        parser.add_argument("--hotel", default=str(HOTEL), help="the ChnSentiCorp CSV")
        parser.add_argument("--out", default=str(sentiment.MODEL_FILE))
        parser.add_argument("--dry-run", action="store_true", help="measure, do not save")
        parser.add_argument("--holdout-dir", help="write the held-out parts as CSV files here")
        parser.add_argument("--c", type=float, default=sentiment.TrainingParams.c)
        parser.add_argument(
            "--banking-weight", type=float, default=sentiment.TrainingParams.banking_weight
        )

    def handle(self, *args, hotel, out, dry_run, holdout_dir, c, banking_weight, **options):
        import time

        if not Path(hotel).exists():
            raise CommandError(f"no file {hotel}")
        params = sentiment.TrainingParams(c=c, banking_weight=banking_weight)
        hotel_rows = sentiment.read_examples(Path(hotel), source="hotel")
        banking_rows = sentiment.read_examples(
            sentiment.BANKING_PHRASES, source="banking", text="text", label="label"
        )
        lexicon = sentiment.read_examples(
            sentiment.LEXICON, source="lexicon", text="text", label="label"
        )
        hotel_train, hotel_test = sentiment.split(hotel_rows, test_share=0.2)
        bank_train, bank_test = sentiment.split(banking_rows, test_share=1 / 3)
        started = time.monotonic()
        model = sentiment.train(hotel_train + bank_train + lexicon, params)
        seconds = time.monotonic() - started
        # Hotel reviews only: its neutral bands from its scores of the training phrases
        # (which it was not trained on).
        hotel_only = sentiment.train(hotel_train, params, folds=0)
        bands = sentiment.bands_from(
            {e.text: hotel_only.probability(e.text) for e in bank_train}, bank_train
        )
        hotel_only = sentiment.Scorer(**{**hotel_only.__dict__, "bands": bands})
        w = self.stdout.write
        w(
            f"trained in {seconds:.1f} s on {len(hotel_train)} hotel reviews and "
            f"{len(bank_train)} banking phrases and {len(lexicon)} lexicon entries; "
            f"{len(model.vocabulary)} features; "
            f"neutral bands {model.describe_bands()}; {model.version}"
        )
        scores = [model.probability(e.text) for e in hotel_test]
        b = sentiment.binary_metrics([e.label for e in hotel_test], scores)
        neutral = sum(1 for p in scores if model.label(p, "zh") == sentiment.NEUTRAL)
        w(
            f"\nhotel reviews held out ({b['rows']} rows, positive/negative at 0.5): "
            f"accuracy {b['accuracy']:.3f}, macro-F1 {b['macro_f1']:.3f}, "
            f"ROC AUC {b['roc_auc']:.3f}; majority class: accuracy "
            f"{b['majority_accuracy']:.3f}, macro-F1 {b['majority_macro_f1']:.3f}; "
            f"{neutral} ({neutral / len(scores):.0%}) fall in the neutral band"
        )
        for title, scorer in (("this model", model), ("trained on hotel reviews only", hotel_only)):
            for lang in ("all", "zh", "en"):
                rows = [e for e in bank_test if lang == "all" or sentiment.language(e.text) == lang]
                m = sentiment.metrics(
                    [e.label for e in rows], [scorer.score(e.text)[0] for e in rows]
                )
                w(
                    f"\nbanking phrases held out, {lang} ({m.rows} rows), {title}: accuracy "
                    f"{m.accuracy:.3f}, macro-F1 {m.macro_f1:.3f}; majority class "
                    f"({m.majority_label}): accuracy {m.majority_accuracy:.3f}, "
                    f"macro-F1 {m.majority_macro_f1:.3f}"
                )
                if lang == "all":
                    w(m.table())
        if holdout_dir:
            folder = Path(holdout_dir)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "hotel_holdout.csv").write_text(sentiment.write_csv(hotel_test), "utf-8")
            (folder / "banking_holdout.csv").write_text(sentiment.write_csv(bank_test), "utf-8")
            w(f"\nheld-out parts written to {folder}")
        if not dry_run:
            model.save(Path(out))
            size = Path(out).stat().st_size
            w(f"\nsaved {out} ({size / 1e6:.2f} MB)")
