"""CSV downloads, streamed row by row (exports can be large), safe to open in a spreadsheet."""

import csv
from collections.abc import Iterable

from django.http import StreamingHttpResponse
from django.utils import timezone

# A cell a spreadsheet would read as a formula (OWASP, "CSV injection"): =, +, -, @, and tab
# or carriage return, which some programs skip before looking for one. Chinese input
# methods type the full-width forms, which Excel accepts in the same place.
FORMULA_STARTS = tuple("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def spreadsheet_safe(value):
    """The value as a spreadsheet will show it but never run it: text that would start a
    formula gets a leading apostrophe (shown as text, not as part of the value). Numbers,
    dates and None pass unchanged, so a negative amount stays a number."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value):
        return value


def csv_download(header: list, rows: Iterable[list], *, name: str) -> StreamingHttpResponse:
    """`rows` as `<name>-<local date and time>.csv`, starting with a BOM: Excel opens UTF-8
    Chinese correctly only with one. Every text cell goes through spreadsheet_safe: names,
    reasons and user names are typed by people outside the bank's control."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"
        yield writer.writerow([spreadsheet_safe(cell) for cell in header])
        for row in rows:
            yield writer.writerow([spreadsheet_safe(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response
