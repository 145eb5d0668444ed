"""manage.py model_evaluate NAME --csv FILE --label COLUMN [--model-version N]"""

from django.core.management.base import BaseCommand, CommandError

from analytics import training
from analytics.models import ModelVersion


class Command(BaseCommand):
    help = "Score a labelled CSV with the active version of a model and print its metrics."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--csv", required=True)
        parser.add_argument("--label", required=True)
        parser.add_argument("--positive", help="the positive label value (else as trained)")
        parser.add_argument(
            "--model-version",
            dest="model_version",
            type=int,
            help="a version other than the active one",
        )

    def handle(self, *args, name, csv, label, positive, model_version, **options):
        version = model_version
        versions = ModelVersion.objects.filter(name=name)
        chosen = versions.filter(version=version) if version else versions.active()
        model = chosen.first()
        if model is None:
            raise CommandError(f"no {'such' if version else 'active'} version of {name!r}")
        if positive is None and " = " in model.label:
            trained_label, value = model.label.split(" = ", 1)
            positive = value if trained_label == label else None
        try:
            header, columns = training.read_csv_columns(csv)
            if label not in header:
                raise training.DataError(f"no column {label!r} in the file")
            y, _detail = training.parse_label(columns[header.index(label)], positive)
            X = training.matrix_from_csv_columns(model, header, columns)
        except training.DataError as exc:
            raise CommandError(str(exc)) from exc
        p = training.predict(model, X)
        base = training.predict_baseline(model, X)
        self.stdout.write(f"{model} on {csv}: {len(y)} rows")
        self.stdout.write(training.report(training.metrics(y, p), training.metrics(y, base)))
