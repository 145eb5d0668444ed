"""Checks of rendered pages that any test can run on the HTML it got."""

from html.parser import HTMLParser


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.label_targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.append(attrs["id"])
        if tag == "label" and attrs.get("for"):
            self.label_targets.append(attrs["for"])


def id_problems(html: str) -> list[str]:
    """Ids used twice, and labels whose `for` names no element: with either, a label
    (and a screen reader) points at the wrong field or at none."""
    parser = _Ids()
    parser.feed(html)
    seen, problems = set(), []
    for value in parser.ids:
        if value in seen:
            problems.append(f"id {value!r} is used more than once")
        seen.add(value)
    problems += [f"label for {t!r} names no element" for t in parser.label_targets if t not in seen]
    return problems
