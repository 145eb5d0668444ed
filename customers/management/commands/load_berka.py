import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bankcrm.models import User
from customers import berka, imports
from customers.models import ImportBatch


class Command(BaseCommand):
    help = (
        "Load the Berka bank's history: clients, accounts, loans and cards through the import "
        "(as an upload by --as), then its transactions through the integration inbox and "
        "the same mapping as pushed events. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        default = Path(settings.BASE_DIR).parent / "shared" / "datasets" / "berka"
        parser.add_argument("--folder", default=str(default), help="the Berka .asc files")
        parser.add_argument("--branch", default="SH001", help="branch of the customers")
        parser.add_argument("--as", dest="username", default="admin", help="who imports")
        parser.add_argument("--transactions", type=int, help="load only the first N")
        parser.add_argument("--skip-import", action="store_true", help="transactions only")

    def handle(self, *args, **o):
        folder = Path(o["folder"])
        if not (folder / "trans.asc").exists():
            raise CommandError(f"no Berka data in {folder}")
        if not o["skip_import"]:
            user = User.objects.filter(username=o["username"]).first()
            if user is None:
                raise CommandError(f"no user {o['username']!r} (run seed_demo, or pass --as)")
            with tempfile.TemporaryDirectory() as tmp:
                customers, holdings, _counts = berka.write_import_files(
                    folder, Path(tmp), branch_code=o["branch"]
                )
                for kind, path in (("customers", customers), ("holdings", holdings)):
                    self._import(kind, path, user)
        self.stdout.write(f"mapped {berka.map_identities():,} more Berka client ids")
        result = berka.load_transactions(
            folder, limit=o["transactions"], progress=self._every(100_000)
        )
        self.stdout.write(", ".join(f"{k} {v:,}" for k, v in result.items()))

    def _import(self, kind: str, path: Path, user) -> None:
        with path.open("rb") as upload:  # read as an upload is
            content, total = imports.read_upload(path.name, upload, kind=kind)
        batch = ImportBatch.objects.create(
            kind=kind, file_name=path.name, content=content, total_rows=total, uploaded_by=user
        )
        imports.validate(batch.pk)
        batch.refresh_from_db()
        if batch.status != ImportBatch.Status.READY:
            raise CommandError(f"{path.name}: {batch.status} {batch.errors[:3]}")
        imports.request_commit(batch)
        imports.commit(batch.pk)
        batch.refresh_from_db()
        self.stdout.write(
            f"{kind}: {batch.valid_rows:,} rows, {batch.error_rows:,} with errors, "
            f"{batch.created_count:,} created, {batch.updated_count:,} updated"
        )
        seen = set()
        for error in batch.errors:  # refused rows, each once (with line and column)
            key = (error["line"], error["column"])
            if key not in seen and len(seen) < 10:
                seen.add(key)
                self.stdout.write(f"  line {error['line']} {error['column']}: {error['message']}")

    def _every(self, step: int):
        marks = {"next": step}

        def progress(message: str) -> None:
            done = int(message.split()[0].replace(",", ""))
            if done >= marks["next"]:
                self.stdout.write(message)
                marks["next"] += step

        return progress
