"""manage.py model_train NAME [--csv FILE --label COLUMN [--id COLUMN] ...] --by USERNAME"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics import training
from analytics.features import label_names
from analytics.history import crm_table
from analytics.models import ModelVersion
from analytics.services import model_version_record
from bankcrm.audit import SYSTEM
from bankcrm.models import User


class Command(BaseCommand):
    help = (
        "Train a model (LightGBM, with a logistic-regression baseline beside it) on the CRM's "
        "own history or on a labelled CSV, and record it as a new version (not active)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help=f"model name; on the CRM: {', '.join(label_names())}")
        parser.add_argument("--by", required=True, help="username of the person training")
        parser.add_argument("--csv", help="a labelled CSV (delimiter detected)")
        parser.add_argument("--label", help="the label column of the CSV")
        parser.add_argument("--id", dest="id_column", help="an id column to leave out")
        parser.add_argument(
            "--exclude", action="append", default=[],
            help="a column to leave out (known only after the fact); repeat",
        )  # fmt: skip
        parser.add_argument("--positive", help="the label value that counts as positive")
        parser.add_argument(
            "--time", dest="time_column",
            help="a column giving each row's time: the latest rows are held out",
        )  # fmt: skip
        parser.add_argument(
            "--keep-leaky", action="store_true",
            help="keep columns that alone predict the label (normally dropped)",
        )  # fmt: skip
        parser.add_argument("--snapshots", type=int, default=4,
                            help="CRM history: as-of dates, a month apart")  # fmt: skip

    def handle(self, *args, name, by, csv, label, id_column, exclude, positive, time_column,
               keep_leaky, snapshots, **options):  # fmt: skip
        try:
            actor = User.objects.get(username=by, is_active=True)
        except User.DoesNotExist:
            raise CommandError(f"no active user {by!r}") from None
        started = time.monotonic()
        try:
            if csv:
                if not label:
                    raise CommandError("--label is required with --csv")
                table = training.table_from_csv(
                    csv, label=label, id_column=id_column, exclude=exclude, positive=positive,
                    time_column=time_column,
                )  # fmt: skip
                window, source, detail = (None, None), ModelVersion.Source.CSV, csv
            else:
                if name not in label_names():
                    raise CommandError(f"on the CRM's history NAME is one of {label_names()}")
                table, window = crm_table(name, today=timezone.localdate(), snapshots=snapshots)
                source, detail = ModelVersion.Source.CRM, f"{snapshots} as-of dates"
            trained = training.train(table, check_leaks=not keep_leaky)
        except training.DataError as exc:
            raise CommandError(str(exc)) from exc
        version = model_version_record(
            actor=actor, context=SYSTEM, name=name, source=source, source_detail=detail,
            table=table, trained=trained, window=window,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        out = self.stdout
        out.write(f"{version}: {len(table.columns)} features, {trained.rows_train} training "
                  f"rows, {trained.rows_test} held out ({trained.holdout}), "
                  f"{trained.params['rounds']} rounds, {elapsed:.1f} s")  # fmt: skip
        for column, why in table.dropped.items():
            out.write(f"  left out {column[:60]}: {why}")
        out.write(training.report(trained.metrics, trained.baseline_metrics))
        if not version.beats_baseline:
            out.write(self.style.WARNING("worse than the baseline: it cannot be activated"))
        else:
            out.write("a second person activates it on the model page")
