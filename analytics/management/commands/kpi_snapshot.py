"""manage.py kpi_snapshot [--from YYYY-MM-DD] [--to YYYY-MM-DD]: build (or rebuild) the
daily KPI snapshots of each day in the range; without dates, yesterday and today (what
beat does). Each day is replaced as a whole, so running a range again changes nothing."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics.kpi import kpi_backfill


class Command(BaseCommand):
    help = "Build the daily KPI snapshots of a range of days (a backfill), idempotently."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", type=date.fromisoformat)
        parser.add_argument("--to", dest="last", type=date.fromisoformat)

    def handle(self, *args, first, last, **options):
        today = timezone.localdate()
        last = last or today
        first = first or min(last, today - timedelta(days=1))
        if first > last:
            raise CommandError("--from is after --to")
        if last > today:
            raise CommandError("--to is in the future: there is nothing to snapshot yet")
        total = 0.0
        for run in kpi_backfill(first, last):
            total += run.seconds
            self.stdout.write(f"{run.day}: {run.seconds:.2f} s, rows {run.rows}")
        self.stdout.write(f"{(last - first).days + 1} days in {total:.1f} s")
