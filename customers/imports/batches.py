"""An import batch's life: upload, check (validate), commit, and the worker's turns.

Workers claim a batch by a conditional UPDATE (one wins; each claim is an attempt, and a
phase that has had MAX_ATTEMPTS ends FAILED). The check stores a masked preview and the row
errors; the commit checks each row again, and the importer's scope under the row locks, and
writes a chunk at a time with its progress in the chunk's own transaction, under the batch's
row lock: a discarded batch, or one another worker has moved past, stops at the next chunk.
"""

import base64
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bankcrm import crypto, masking
from bankcrm.audit import audit_context
from customers import access
from customers.imports.files import (
    FileError,
    check_xlsx,
    count_rows,
    csv_records,
    decode,
    where,
)
from customers.imports.rows import (
    ACCOUNT_TAKEN,
    COLUMNS,
    CUSTOMER_FIELDS,
    HOLDING_FIELDS,
    ID_TAKEN,
    NO_CUSTOMER,
    OUTSIDE_SCOPE,
    PRODUCT_FIELDS,
    Context,
    RowError,
    build_account,
    build_customer,
    column_labels,
    iter_checked,
    map_header,
)
from customers.models import (
    ACCOUNT_NUMBER_INDEX,
    NATIONAL_ID_INDEX,
    Account,
    Customer,
    ImportBatch,
    Product,
)

logger = logging.getLogger(__name__)

CHUNK = 500
MAX_ERRORS_KEPT = 500
PREVIEW_ROWS = 10
MAX_ATTEMPTS = 3
STALE_SECONDS = 300


def read_upload(name: str, upload, *, kind: str) -> tuple[str | dict, int]:
    """The batch's content and row count from an uploaded file (at most MAX_UPLOAD_BYTES,
    which the form checks). A CSV file is decoded and read through; an Excel file is kept as
    it came after a look at its zip directory, and the worker reads it (its rows are counted
    then). FileError says what is wrong, never quoting the file."""
    if name.lower().endswith(".xlsx"):
        check_xlsx(upload)
        upload.seek(0)
        return {"xlsx": base64.b64encode(upload.read()).decode("ascii")}, 0
    text = decode(upload.read())
    header, records = csv_records(text)
    map_header(header, kind)
    return text, count_rows(records)


# ---- the batch's life ---------------------------------------------------------------------


def claim(batch_id: int, waiting: str, working: str, stale_after: int = STALE_SECONDS):
    """Move a batch from `waiting` (or a stale `working`) to `working`; None if another
    worker has it or it has moved on. One conditional UPDATE: two workers cannot both win.
    Each claim is an attempt; a phase that has had MAX_ATTEMPTS ends FAILED instead of being
    handed out again (a worker that dies on a file would otherwise retry it for ever)."""
    now = timezone.now()
    stale = now - timedelta(seconds=stale_after)
    takeable = ImportBatch.objects.filter(
        Q(status=waiting) | Q(status=working, heartbeat_at__lt=stale), pk=batch_id
    )
    won = takeable.filter(attempts__lt=MAX_ATTEMPTS).update(
        status=working, heartbeat_at=now, attempts=F("attempts") + 1
    )
    if won:
        return ImportBatch.objects.get(pk=batch_id)
    exhausted = takeable.filter(attempts__gte=MAX_ATTEMPTS).only("pk", "language").first()
    if exhausted is not None:
        with translation.override(exhausted.language or settings.LANGUAGE_CODE):
            _fail(exhausted, _gave_up())
    return None


def _gave_up() -> str:
    return _(
        "The import stopped after %(n)d attempts that failed on our side; the administrators "
        "can see why in the logs. Rows already imported stay."
    ) % {"n": MAX_ATTEMPTS}


def _fail(batch: ImportBatch, message: str) -> None:
    ImportBatch.objects.filter(pk=batch.pk, status__in=ImportBatch.ACTIVE).update(
        status=ImportBatch.Status.FAILED, failure=message[:300], finished_at=timezone.now(),
        content=None,
    )  # fmt: skip


@contextlib.contextmanager
def _work(batch: ImportBatch):
    """A worker's turn on a batch: messages in the uploader's language; a FileError fails
    the batch; any other error is logged without its message and leaves the batch to the
    sweep for another attempt (at once, not after the stale interval), up to MAX_ATTEMPTS."""
    with translation.override(batch.language or settings.LANGUAGE_CODE):
        try:
            yield
        except FileError as exc:
            _fail(batch, str(exc))
        except Exception as exc:
            logger.error(
                "import.worker_error batch=%s attempt=%s: %s", batch.pk, batch.attempts, where(exc)
            )
            if batch.attempts >= MAX_ATTEMPTS:
                _fail(batch, _gave_up())
            else:
                ImportBatch.objects.filter(pk=batch.pk, status=batch.status).update(
                    heartbeat_at=timezone.now() - timedelta(seconds=STALE_SECONDS + 1)
                )


def validate(batch_id: int) -> None:
    """Check every row; store the error list and a masked preview; batch becomes READY.
    Rows are checked against the database a chunk at a time (one query per chunk), so a
    file is checked in bounded memory however many customers the bank has."""
    batch = claim(batch_id, ImportBatch.Status.PENDING, ImportBatch.Status.VALIDATING)
    if batch is not None:
        with _work(batch):
            _validate(batch)


def _validate(batch: ImportBatch) -> None:
    ctx = Context.for_user(batch.uploaded_by)
    errors, preview, valid, invalid, done = [], [], 0, 0, 0

    def settle(chunk) -> bool:
        nonlocal valid, invalid
        for line, values, error in _check_against_database(batch, ctx, chunk):
            if error is None:
                valid += 1
                if len(preview) < PREVIEW_ROWS:
                    row = {"line": line, **_masked(batch.kind, values)}
                    preview.append([row[c] for c in PREVIEW_COLUMNS[batch.kind]])
            else:
                invalid += 1
                if len(errors) < MAX_ERRORS_KEPT:
                    errors.append({"line": line, "column": error.column, "message": error.message})
        # No longer VALIDATING: the owner discarded the batch; stop.
        return bool(
            ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.VALIDATING).update(
                processed_rows=done, total_rows=max(done, batch.total_rows),
                heartbeat_at=timezone.now(),
            )
        )  # fmt: skip

    chunk = []
    for checked in iter_checked(batch, ctx):
        chunk.append(checked)
        done += 1
        if len(chunk) == CHUNK:
            if not settle(chunk):
                return
            chunk = []
    if not settle(chunk):
        return
    ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.VALIDATING).update(
        status=ImportBatch.Status.READY, processed_rows=done, total_rows=done,
        valid_rows=valid, error_rows=invalid, errors=errors, preview=preview,
        heartbeat_at=timezone.now(),
    )  # fmt: skip


def _check_against_database(batch: ImportBatch, ctx: Context, chunk):
    """The chunk's rows with the errors only the database can tell: a CIF of a customer
    outside the importer's scope, an ID number held by another customer; holdings for a
    customer the importer may not reach, or an account another customer holds.

    A CIF or ID number is unique, so refusing a row for one that is taken tells the
    uploader it is taken whatever the message says; the messages add nothing to that
    (which branch, which customer)."""
    rows = [values for _line, values, error in chunk if error is None]
    if batch.kind == ImportBatch.Kind.PRODUCTS:  # upserts by code: nothing to look up
        yield from chunk
        return
    if batch.kind == ImportBatch.Kind.CUSTOMERS:
        cifs = {v["cif"] for v in rows}
        branch_of = dict(Customer.objects.filter(cif__in=cifs).values_list("cif", "branch_id"))
        indexes = {
            v["cif"]: crypto.blind_index(v["national_id"], purpose=NATIONAL_ID_INDEX)
            for v in rows
            if v["national_id"]
        }
        owners = dict(
            Customer.objects.filter(national_id_index__in=indexes.values()).values_list(
                "national_id_index", "cif"
            )
        )
        for line, values, error in chunk:
            if error is None:
                cif = values["cif"]
                if cif in branch_of and not ctx.covers(branch_of[cif]):
                    error = RowError("cif", OUTSIDE_SCOPE)
                elif owners.get(indexes.get(cif), cif) != cif:
                    error = RowError("national_id", ID_TAKEN)
            yield line, values, error
        return
    found = Customer.objects.filter(cif__in={v["cif"] for v in rows})
    customers = {
        cif: pk
        for cif, pk, branch_id in found.values_list("cif", "pk", "branch_id")
        if ctx.covers(branch_id)
    }
    indexes = {
        v["number"]: crypto.blind_index(v["number"], purpose=ACCOUNT_NUMBER_INDEX) for v in rows
    }
    holders = dict(
        Account.objects.filter(number_index__in=indexes.values()).values_list(
            "number_index", "customer_id"
        )
    )
    for line, values, error in chunk:
        if error is None:
            holder = holders.get(indexes[values["number"]])
            if values["cif"] not in customers:
                error = RowError("cif", NO_CUSTOMER)
            elif holder is not None and holder != customers[values["cif"]]:
                error = RowError("number", ACCOUNT_TAKEN)
        yield line, values, error


PREVIEW_COLUMNS = {
    ImportBatch.Kind.CUSTOMERS: ["line", "cif", "name", "kind", "national_id", "mobile",
                                 "tier", "branch_code", "rm_username"],
    ImportBatch.Kind.HOLDINGS: ["line", "cif", "kind", "number", "currency", "balance",
                                "opened_on", "status"],
    ImportBatch.Kind.PRODUCTS: ["line", "code", "name_zh", "kind", "risk_level", "currency",
                                "min_amount", "status"],
}  # fmt: skip


def _masked(kind, values) -> dict:
    """The row as the preview shows it: identifiers masked. (Stored as a list per row:
    jsonb does not keep the order of an object's keys.)"""
    if kind == ImportBatch.Kind.PRODUCTS:  # no personal data
        return {
            "code": values["code"],
            "name_zh": values["name_zh"],
            "kind": values["kind"],
            "risk_level": f"R{values['risk_level']}",
            "currency": values["currency"],
            "min_amount": str(values["min_amount"]),
            "status": values["status"],
        }
    if kind == ImportBatch.Kind.CUSTOMERS:
        return {
            "cif": values["cif"],
            "name": values["name"],
            "kind": values["kind"],
            "national_id": masking.mask_national_id(values["national_id"]),
            "mobile": masking.mask_mobile(values["mobile"]),
            "tier": values["tier"],
            "branch_code": values["branch_code"],
            "rm_username": values["rm_username"],
        }
    number = values["number"]
    return {
        "cif": values["cif"],
        "kind": values["kind"],
        "number": Account.mask_number(values["kind"], number),
        "currency": values["currency"],
        "balance": str(values["balance"]),
        "opened_on": values["opened_on"].isoformat(),
        "status": values["status"],
    }


def preview_table(batch: ImportBatch) -> tuple[list[str], list[list[str]]]:
    """The preview's header and rows in the reader's language: column labels, and choice
    values as their labels (the preview stores values, so a language switch applies)."""
    keys = PREVIEW_COLUMNS[batch.kind]
    labels = {**column_labels(batch.kind), "line": _("Line")}
    choices = {c.key: dict(c.choices.choices) for c in COLUMNS[batch.kind] if c.choices}
    rows = [
        [choices.get(key, {}).get(value, value) for key, value in zip(keys, row, strict=False)]
        for row in batch.preview
    ]
    return [labels[key] for key in keys], rows


def request_commit(batch: ImportBatch) -> bool:
    return bool(
        ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.READY).update(
            status=ImportBatch.Status.COMMIT_PENDING, processed_rows=0, attempts=0
        )
    )


def commit(batch_id: int) -> None:
    """Upsert the valid rows chunk by chunk, resuming after the last committed chunk."""
    batch = claim(batch_id, ImportBatch.Status.COMMIT_PENDING, ImportBatch.Status.COMMITTING)
    if batch is not None:
        with _work(batch):
            _commit(batch)


def _commit(batch: ImportBatch) -> None:
    user = batch.uploaded_by
    if not access.can_import(user, batch.kind):
        _fail(batch, _("The uploader may no longer import; nothing more was imported."))
        return
    ctx = Context.for_user(user)
    apply = APPLY[batch.kind]
    # Lines reported at the check are not reported again.
    reported = {error["line"] for error in batch.errors}
    start, position, chunk = batch.processed_rows, 0, []
    # The rows are the uploader's writes in the audit trail: the data-change triggers record
    # each created or changed row (masked), with the uploader, their IP and import:<id>.
    with audit_context(actor=user, label=f"import:{batch.pk}", ip=batch.uploaded_ip):
        for checked in iter_checked(batch, ctx):
            position += 1
            if position <= batch.processed_rows:
                continue
            chunk.append(checked)
            if len(chunk) == CHUNK:
                if not _commit_chunk(batch, ctx, apply, chunk, start, reported):
                    return
                start, chunk = start + len(chunk), []
        if chunk and not _commit_chunk(batch, ctx, apply, chunk, start, reported):
            return
    ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.COMMITTING).update(
        status=ImportBatch.Status.DONE, finished_at=timezone.now(), content=None
    )


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list = field(default_factory=list)

    def refuse(self, line: int, column: str, message) -> None:
        self.skipped += 1
        self.errors.append({"line": line, "column": column, "message": str(message)})


def _commit_chunk(batch, ctx, apply, chunk, start: int, reported: set) -> bool:
    """Apply one chunk and record its progress in the same transaction. False, with nothing
    written, if the batch is no longer this worker's: discarded by its owner, or taken over
    by another worker that has moved past `start`."""
    with transaction.atomic():
        state = (
            ImportBatch.objects.select_for_update()
            .filter(pk=batch.pk)
            .values_list("status", "processed_rows")
            .first()
        )
        if state != (ImportBatch.Status.COMMITTING, start):
            return False
        outcome = Outcome()
        rows = []
        for line, values, error in chunk:
            if error is None:
                rows.append((line, values))
            elif line in reported:
                outcome.skipped += 1
            else:  # valid at the check, not now (the database changed since)
                outcome.refuse(line, error.column, error.message)
        applied = Outcome()
        try:
            with transaction.atomic():
                apply(batch, ctx, rows, applied)
        except (IntegrityError, DataError):
            # A row clashes with data written since the check (another import, a form), or
            # the database refuses a value the check let through: apply row by row so only
            # that row is skipped, with its reason.
            applied = Outcome()
            for line, values in rows:
                try:
                    with transaction.atomic():
                        apply(batch, ctx, [(line, values)], applied)
                except (IntegrityError, DataError) as exc:
                    logger.warning(
                        "import.row_refused batch=%s line=%s: %s", batch.pk, line, where(exc)
                    )
                    applied.refuse(line, *_refusal(exc))
        errors = outcome.errors + applied.errors
        updates = {
            "processed_rows": F("processed_rows") + len(chunk),
            "created_count": F("created_count") + applied.created,
            "updated_count": F("updated_count") + applied.updated,
            "unchanged_count": F("unchanged_count") + applied.unchanged,
            "skipped_count": F("skipped_count") + outcome.skipped + applied.skipped,
            "heartbeat_at": timezone.now(),
        }
        if errors:
            batch.refresh_from_db(fields=["errors"])
            updates["errors"] = (batch.errors + errors)[:MAX_ERRORS_KEPT]
        ImportBatch.objects.filter(pk=batch.pk).update(**updates)
    return True


def _refusal(exc: Exception) -> tuple[str, str]:
    """The row error for what the database refused: by constraint where it names one."""
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
    if constraint == "customer_national_id_unique":
        return "national_id", str(ID_TAKEN)
    if constraint == "account_number_unique":
        return "number", str(ACCOUNT_TAKEN)
    if isinstance(exc, IntegrityError):
        return "", _("Conflicts with data written since the check.")
    return "", _("A value in this row cannot be stored.")


def _apply_customers(batch: ImportBatch, ctx: Context, rows, outcome: Outcome) -> None:
    # Locked, then checked: a customer moved out of the importer's scope since the check is
    # refused here, and cannot move while its row is written.
    existing = {
        c.cif: c
        for c in Customer.objects.select_for_update().filter(cif__in=[v["cif"] for _l, v in rows])
    }
    to_create, to_update, unchanged = [], [], 0
    for line, values in rows:
        old = existing.get(values["cif"])
        if old is not None and not ctx.covers(old.branch_id):
            outcome.refuse(line, "cif", OUTSIDE_SCOPE)
            continue
        new = build_customer(values, old)
        if old is None:
            to_create.append(new)
        elif _differs(old, new, [*CUSTOMER_FIELDS, "national_id", "mobile", "email"]):
            to_update.append(new)
        else:
            unchanged += 1
    if to_create:
        Customer.objects.bulk_create(to_create)
    if to_update:
        for obj in to_update:
            obj.updated_at = timezone.now()
        Customer.objects.bulk_update(
            to_update,
            [*CUSTOMER_FIELDS, "national_id", "national_id_index", "national_id_masked",
             "mobile", "mobile_index", "mobile_masked", "email", "email_masked", "updated_at"],
        )  # fmt: skip
    outcome.created += len(to_create)
    outcome.updated += len(to_update)
    outcome.unchanged += unchanged


def _apply_holdings(batch: ImportBatch, ctx: Context, rows, outcome: Outcome) -> None:
    indexes = {
        v["number"]: crypto.blind_index(v["number"], purpose=ACCOUNT_NUMBER_INDEX) for _l, v in rows
    }
    # Locked, then checked: a customer moved out of scope since the check gets no holdings,
    # and cannot move while they are written (NO KEY: new accounts may still refer to it).
    customers = {
        cif: pk
        for cif, pk, branch_id in Customer.objects.select_for_update(no_key=True)
        .filter(cif__in={v["cif"] for _l, v in rows})
        .values_list("cif", "pk", "branch_id")
        if ctx.covers(branch_id)
    }
    existing = {
        a.number_index: a
        for a in Account.objects.select_for_update().filter(number_index__in=indexes.values())
    }
    to_create, to_update, unchanged = [], [], 0
    for line, values in rows:
        customer_id = customers.get(values["cif"])
        old = existing.get(indexes[values["number"]])
        if customer_id is None:
            outcome.refuse(line, "cif", NO_CUSTOMER)
            continue
        if old is not None and old.customer_id != customer_id:
            outcome.refuse(line, "number", ACCOUNT_TAKEN)
            continue
        new = build_account(values, customer_id=customer_id, pk=old.pk if old else None)
        if old is None:
            to_create.append(new)
        elif _differs(old, new, HOLDING_FIELDS):
            to_update.append(new)
        else:
            unchanged += 1
    if to_create:
        Account.objects.bulk_create(to_create)
    if to_update:
        Account.objects.bulk_update(to_update, [*HOLDING_FIELDS, "number_masked"])
    outcome.created += len(to_create)
    outcome.updated += len(to_update)
    outcome.unchanged += unchanged


def _apply_products(batch: ImportBatch, ctx: Context, rows, outcome: Outcome) -> None:
    """Upsert by code: a new code creates a product, a known one gets the row's values (the
    catalogue's master is the file); unchanged rows write nothing."""
    existing = {
        p.code: p
        for p in Product.objects.select_for_update().filter(code__in=[v["code"] for _l, v in rows])
    }
    to_create, to_update, unchanged = [], [], 0
    now = timezone.now()
    for _line, values in rows:
        old = existing.get(values["code"])
        new = Product(code=values["code"], **{name: values[name] for name in PRODUCT_FIELDS})
        if old is None:
            new.created_at = new.updated_at = now
            to_create.append(new)
        elif _differs(old, new, PRODUCT_FIELDS):
            new.pk, new.created_at, new.updated_at = old.pk, old.created_at, now
            to_update.append(new)
        else:
            unchanged += 1
    if to_create:
        Product.objects.bulk_create(to_create)
    if to_update:
        Product.objects.bulk_update(to_update, [*PRODUCT_FIELDS, "updated_at"])
    outcome.created += len(to_create)
    outcome.updated += len(to_update)
    outcome.unchanged += unchanged


APPLY = {
    ImportBatch.Kind.CUSTOMERS: _apply_customers,
    ImportBatch.Kind.HOLDINGS: _apply_holdings,
    ImportBatch.Kind.PRODUCTS: _apply_products,
}


def _differs(old, new, names) -> bool:
    return any(getattr(old, n) != getattr(new, n) for n in names)
