"""Reading an import file: CSV text or an Excel workbook, as (line number, cells) records,
within limits checked before anything large is held or inflated.

A CSV file is decoded whole (it is at most MAX_UPLOAD_BYTES) and read by the csv module in
strict mode, so an unclosed quote or an over-long field is a FileError naming its line. An
Excel file is a zip archive: check_xlsx() reads only its directory and refuses more entries,
larger declared sizes or other compression methods than a workbook needs; zipfile never
inflates an entry past its declared size, and openpyxl (read-only) then streams the first
sheet a row at a time. Messages never quote the file; logs name only an exception's type.
"""

import base64
import csv
import io
import logging
import re
import traceback
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
MAX_CELL_CHARS = 2_000
# An Excel file's parts, as its zip directory declares them (zipfile never inflates an entry
# past its declared size). openpyxl reads the shared strings and styles whole, worksheets a
# row at a time.
MAX_XLSX_ENTRIES = 1_000
MAX_XLSX_PART_BYTES = 32 * 1024 * 1024
MAX_XLSX_SHEET_BYTES = 256 * 1024 * 1024
MAX_LINES = 1_048_576  # Excel's own row limit; blank rows count here, not towards MAX_ROWS
MAX_COLUMNS = 200


class FileError(Exception):
    """The file as a whole cannot be read (encoding, format, header, limits)."""


# ---- records ------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or GB18030, as Chinese Excel saves CSV."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileError(_("The file is neither UTF-8 nor GB18030 text."))


def count_rows(records: Iterator[tuple[int, list[str]]]) -> int:
    rows = 0
    for _line, cells in records:
        if is_blank(cells):
            continue
        rows += 1
        if rows > MAX_ROWS:
            raise too_many_rows()
    return rows


def too_many_rows() -> FileError:
    return FileError(
        _("The file has more than %(max)s rows. Split it into files of at most %(max)s rows.")
        % {"max": f"{MAX_ROWS:,}"}
    )


def read_records(content) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and (line number, cells) of each further record of a batch's content."""
    if isinstance(content, dict):
        return xlsx_records(base64.b64decode(content["xlsx"]))
    return csv_records(content or "")


def _first(records) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    try:
        _line, header = next(records)
    except StopIteration:
        raise FileError(_("The file is empty.")) from None
    return header, records


def csv_records(text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    # The delimiter is whichever of , ; and tab the header line uses most: a header is
    # plain column names. (csv.Sniffer guesses from quoting patterns with backtracking
    # regular expressions; it is slow on some files and wrong on others.)
    end = re.search(r"[\r\n]", text)
    first_line = text[: end.start()] if end else text
    delimiter = max(",;\t", key=first_line.count)
    return _first(_csv_lines(text, delimiter))


def _csv_lines(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    # newline=None: \r\n, \n and a lone \r (old Mac Excel) all end a line.
    reader = csv.reader(io.StringIO(text, newline=None), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileError(_csv_problem(str(exc), start)) from None
        if start > MAX_LINES:
            raise too_many_rows()
        yield start, cells


def _csv_problem(problem: str, line: int) -> str:
    # The csv module's messages, which never quote the file, told in the user's words.
    if "end of data" in problem:
        message = _('Line %(line)s: a cell opens a quote (") that is never closed.')
    elif "field limit" in problem:
        message = _(
            "Line %(line)s: a cell is longer than %(max)s characters (often a quote that is "
            "never closed)."
        )
    elif "expected after" in problem:
        message = _(
            "Line %(line)s: text follows a closing quote. Put the whole cell in quotes and "
            'double each quote inside it ("").'
        )
    else:
        message = _("Line %(line)s is not valid CSV.")
    return message % {"line": f"{line:,}", "max": f"{csv.field_size_limit():,}"}


def check_xlsx(fileobj) -> None:
    """Refuse an Excel file whose zip directory promises more than the limits, without
    decompressing anything: zipfile reads the directory only, and later never inflates an
    entry beyond its declared size (the CRC check fails instead)."""
    try:
        entries = zipfile.ZipFile(fileobj).infolist()
    except Exception as exc:  # zipfile raises several types for what is not a zip
        logger.info("import.xlsx_unreadable: %s", where(exc))
        raise FileError(_("The Excel file cannot be read (it is not an .xlsx workbook).")) from None
    if len(entries) > MAX_XLSX_ENTRIES:
        raise FileError(_("The Excel file has too many parts to be a workbook."))
    for entry in entries:
        sheet = entry.filename.startswith("xl/worksheets/")
        limit = MAX_XLSX_SHEET_BYTES if sheet else MAX_XLSX_PART_BYTES
        if entry.file_size > limit:
            raise FileError(
                _("The Excel file unpacks to more than %(mb)s MB in one part; save it as CSV.")
                % {"mb": limit // (1024 * 1024)}
            )
        # Other methods (bzip2, lzma) inflate a whole read at once; Excel uses neither.
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileError(_("The Excel file cannot be read (it is not an .xlsx workbook)."))


def xlsx_records(data: bytes) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    check_xlsx(io.BytesIO(data))
    return _first(_xlsx_lines(data))


def _xlsx_lines(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    line, book = 0, None
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        # openpyxl pads every row to the width the sheet declares (up to 16,384 columns).
        width = min(sheet.max_column or MAX_COLUMNS, MAX_COLUMNS)
        for line, row in enumerate(sheet.iter_rows(max_col=width, values_only=True), start=1):
            if line > MAX_LINES:
                raise too_many_rows()
            if row.count(None) == len(row):  # blank (often padding): skipped cheaply
                yield line, []
            else:
                yield line, ["" if v is None else _cell(v) for v in row]
    except FileError:
        raise
    except Exception as exc:  # openpyxl raises many types for a damaged file
        logger.info("import.xlsx_unreadable row=%s: %s", line + 1, where(exc))
        raise FileError(
            _("The Excel file cannot be read (row %(line)s).") % {"line": f"{line + 1:,}"}
        ) from None
    finally:
        if book is not None:
            book.close()


def _cell(value) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


class UploadLimitHandler(FileUploadHandler):
    """Stops reading an upload's files past `limit` bytes in all, so a body without a
    Content-Length cannot fill the disk; `exceeded` tells the view why the file is missing."""

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit, self.received, self.exceeded = limit, 0, False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def where(exc: BaseException) -> str:
    """What a log may say of an exception: its type and where it was raised. Never its
    message, which may quote the file (a database error's DETAIL names the key's value)."""
    frames = traceback.extract_tb(exc.__traceback__)
    place = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return type(exc).__name__ + place
