"""manage.py sentiment_train [--hotel FILE] [--holdout-dir DIR] [--compare FILE] [--dry-run]

Rebuilds the shipped sentiment model (analytics/data/sentiment_model.npz) and prints its
held-out figures: the hotel reviews split 80/20 and the banking phrases 2/3 to 1/3 (both
stratified, seeded; the English phrases added later, sentiment_banking_en.csv, are split
on their own so the first file's parts stay as they were), the regression trained on the
training parts but the added English ones, which with the others choose English's share
of the lexicon and its neutral band (sentiment.train's `calibration`), then measured on
each held-out part beside the majority-class baseline, a
model trained on hotel reviews only (what the shared data set alone gives on banking
text), the lexicon alone on English (analytics.lexicon, its neutral band from the training
phrases) and, with --compare, another model file (the one shipped before, say).
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
        parser.add_argument("--compare", help="a model file to measure beside (.npz)")
        parser.add_argument("--c", type=float, default=sentiment.TrainingParams.c)
        parser.add_argument(
            "--banking-weight", type=float, default=sentiment.TrainingParams.banking_weight
        )

    def handle(self, *args, hotel, out, dry_run, holdout_dir, compare, c, banking_weight,
               **options):  # fmt: skip
        import time

        if not Path(hotel).exists():
            raise CommandError(f"no file {hotel}")
        params = sentiment.TrainingParams(c=c, banking_weight=banking_weight)
        hotel_rows = sentiment.read_examples(Path(hotel), source="hotel")
        banking_rows = sentiment.read_examples(
            sentiment.BANKING_PHRASES, source="banking", text="text", label="label"
        )
        english_rows = sentiment.read_examples(
            sentiment.BANKING_PHRASES_EN, source="banking", text="text", label="label"
        )
        lexicon = sentiment.read_examples(
            sentiment.LEXICON, source="lexicon", text="text", label="label"
        )
        hotel_train, hotel_test = sentiment.split(hotel_rows, test_share=0.2)
        bank_train, bank_test = sentiment.split(banking_rows, test_share=1 / 3)
        english_train, english_test = sentiment.split(english_rows, test_share=1 / 3)
        started = time.monotonic()
        # The added English phrases calibrate English (the lexicon's share, the band); the
        # regression and the Chinese band are learned from what they were learned from.
        model = sentiment.train(hotel_train + bank_train + lexicon, params,
                                calibration=english_train)  # fmt: skip
        bank_train, bank_test = bank_train + english_train, bank_test + english_test
        seconds = time.monotonic() - started
        # Hotel reviews only: its neutral bands from its scores of the training phrases
        # (which it was not trained on).
        hotel_only = sentiment.train(hotel_train, params, folds=0)
        bands = sentiment.bands_from(
            {e.text: hotel_only.probability(e.text) for e in bank_train}, bank_train
        )
        hotel_only = sentiment.Scorer(**{**hotel_only.__dict__, "bands": bands})
        # The lexicon alone on English: its compound as the score, the band from the
        # training phrases.
        lexicon_only = sentiment.Scorer(**{**model.__dict__, "lexicon_weight": 1.0})
        english = [e for e in bank_train if sentiment.language(e.text) == "en"]
        band = sentiment.neutral_band(
            [e.label for e in english], [lexicon_only.probability(e.text) for e in english]
        )
        lexicon_only = sentiment.Scorer(
            **{**lexicon_only.__dict__, "bands": {**model.bands, "en": band}}
        )
        scorers = [("this model", model), ("trained on hotel reviews only", hotel_only)]
        if compare:
            scorers.append((f"{Path(compare).name}", sentiment.Scorer.load(Path(compare))))
        w = self.stdout.write
        w(
            f"trained in {seconds:.1f} s on {len(hotel_train)} hotel reviews, "
            f"{len(bank_train) - len(english_train)} banking phrases and {len(lexicon)} "
            f"lexicon entries, English calibrated with {len(english_train)} more phrases; "
            f"{len(model.vocabulary)} features; English blends the lexicon at "
            f"{model.lexicon_weight:g}; neutral bands {model.describe_bands()}; {model.version}"
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
        for title, scorer in [*scorers, ("the lexicon alone", lexicon_only)]:
            for lang in ("all", "zh", "en") if scorer is not lexicon_only else ("en",):
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
            english = [e for e in bank_test if sentiment.language(e.text) == "en"]
            (folder / "banking_holdout_en.csv").write_text(sentiment.write_csv(english), "utf-8")
            w(f"\nheld-out parts written to {folder}")
        if not dry_run:
            model.save(Path(out))
            size = Path(out).stat().st_size
            w(f"\nsaved {out} ({size / 1e6:.2f} MB)")
