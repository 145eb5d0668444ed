from django.core.management.base import BaseCommand, CommandError

from compliance.chain import verify_all


class Command(BaseCommand):
    help = "Recompute the audit tables' hash chains and report the first broken link."

    def handle(self, *args, **options):
        broken = False
        for report in verify_all():
            if report.ok:
                self.stdout.write(
                    f"{report.table}: {report.rows:,} rows, chain intact"
                    + (f", head {report.head_hash[:16]}…" if report.head_hash else "")
                )
            else:
                broken = True
                where = f"chain_seq {report.broken_seq}" if report.broken_seq else "a row"
                self.stdout.write(
                    f"{report.table}: BROKEN at {where} (id {report.broken_id}): {report.reason}"
                )
        if broken:
            raise CommandError("the audit trail has been tampered with")
