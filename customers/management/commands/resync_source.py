from django.core.management.base import BaseCommand, CommandError

from customers.ingest import resync
from customers.ingest.services import source_gaps
from customers.models.integration import IntegrationSource


class Command(BaseCommand):
    help = "Pull a source's missed events from its feed, from the stored sequence cursor."

    def add_arguments(self, parser):
        parser.add_argument("source", help="the source's code")

    def handle(self, *args, source, **options):
        try:
            found = IntegrationSource.objects.get(code=source)
        except IntegrationSource.DoesNotExist:
            raise CommandError(f"no source {source!r}") from None
        try:
            result = resync.resync_source(source=found)
        except resync.ResyncError as exc:
            raise CommandError(str(exc)) from None
        found.refresh_from_db()
        gaps = source_gaps(found)
        self.stdout.write(
            f"{found.code}: pulled {result['pulled']}, stored {result['accepted']}, "
            f"rejected {result['rejected']}; contiguous up to {result['cursor']}; "
            f"{len(gaps)} gap(s) left"
        )
