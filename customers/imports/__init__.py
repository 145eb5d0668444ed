"""Importing customers and holdings from CSV or Excel: read, check each row, then upsert.

Limits (shown on the upload page): a file of at most 50 MB, 200,000 rows and 2,000
characters a cell. On upload a CSV file is decoded and read through once (encoding, quoting,
header, the limits), so a file the check could not read is refused at once with the line at
fault; an Excel file is only looked at through its zip directory there, and the worker reads
it a row at a time (files.py). Checking runs every row through the same validators as the
forms and through the model's own limits, so a row that passes the check also passes the
INSERT; errors name the line and column, never a value (rows.py).

Commit checks every row again and, under the row locks, the importer's scope: an import
creates or changes customers of the importer's branch only (admins: any branch). It upserts
the valid rows in chunks, customers by CIF, holdings by account number (blind index), writes
one audit row per created or changed object, and records its progress in the chunk's own
transaction, so a crashed worker resumes where it stopped and a second run of the same file
changes nothing. A row the database still refuses becomes a row error (savepoint). A phase
that keeps failing ends FAILED after MAX_ATTEMPTS workers; the owner may discard a batch until
it is finished, and rows a stopped commit had written stay, with their audit rows
(batches.py).
"""

from customers.imports.batches import (
    MAX_ATTEMPTS,
    claim,
    commit,
    preview_table,
    read_upload,
    request_commit,
    validate,
)
from customers.imports.files import (
    MAX_CELL_CHARS,
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    FileError,
    UploadLimitHandler,
)
from customers.imports.rows import COLUMNS, column_help, column_labels, template_header

__all__ = [
    "COLUMNS",
    "MAX_ATTEMPTS",
    "MAX_CELL_CHARS",
    "MAX_ROWS",
    "MAX_UPLOAD_BYTES",
    "FileError",
    "UploadLimitHandler",
    "claim",
    "column_help",
    "column_labels",
    "commit",
    "preview_table",
    "read_upload",
    "request_commit",
    "template_header",
    "validate",
]
