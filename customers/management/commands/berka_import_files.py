from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from customers.berka import write_import_files


class Command(BaseCommand):
    help = (
        "Convert the Berka (PKDD'99) clients, accounts, loans and cards into bankcrm import "
        "files (customers.csv, holdings.csv) for the import screen."
    )

    def add_arguments(self, parser):
        default = Path(settings.BASE_DIR).parent / "shared" / "datasets" / "berka"
        parser.add_argument("--source", type=Path, default=default)
        parser.add_argument("--target", type=Path, default=Path("berka-import"))
        parser.add_argument("--branch", default="SH001", help="branch code for every customer")
        parser.add_argument("--rm", default="", help="username of the customers' RM")

    def handle(self, *args, source, target, branch, rm, **options):
        customers, holdings, counts = write_import_files(
            source, target, branch_code=branch, rm_username=rm
        )
        self.stdout.write(f"{customers}: {counts['customers']} customers")
        self.stdout.write(
            f"{holdings}: {counts['accounts']} accounts, {counts['loans']} loans, "
            f"{counts['cards']} cards"
        )
