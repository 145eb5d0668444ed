"""manage.py analytics_nightly [--day YYYY-MM-DD] [--force]: what beat runs every night."""

from datetime import date

from django.core.management.base import BaseCommand

from analytics.nightly import nightly_run


class Command(BaseCommand):
    help = "Score every customer with the active models and recompute value tiers and CLV."

    def add_arguments(self, parser):
        parser.add_argument("--day", type=date.fromisoformat)
        parser.add_argument("--force", action="store_true", help="run a day that is done again")

    def handle(self, *args, day, force, **options):
        run = nightly_run(day=day, force=force)
        if run is None:
            self.stdout.write("the day is done already (--force runs it again)")
            return
        self.stdout.write(f"{run.day}: {run.customers} customers, {run.scores} scores, "
                          f"{run.tier_changes} tier changes; seconds {run.timings}")  # fmt: skip
