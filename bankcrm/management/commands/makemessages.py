"""`makemessages` that reads the project's Jinja2 templates.

Django's version reads every non-Python file as a Django template. The project's templates
are Jinja2 (bankcrm/jinja2.py): their `_()`, `gettext()`, `ngettext()`… calls are found with
Jinja2's own parser and handed to xgettext as Python calls on the same lines.
"""

from pathlib import Path

from django.core.management.commands import makemessages
from django.template import engines

from bankcrm.jinja2 import GETTEXT_FUNCTIONS


def jinja2_to_python(source: str) -> str:
    """Python source with one gettext call per message, each on its template line."""
    lines = [""] * (source.count("\n") + 1)
    env = engines["jinja2"].env
    for lineno, function, message in env.extract_translations(source, GETTEXT_FUNCTIONS):
        strings = message if isinstance(message, tuple) else (message,)
        if function == "_":
            function = "gettext"
        args = ", ".join(repr(s) if s is not None else "None" for s in strings)
        lines[lineno - 1] += f"{function}({args}); "
    return "\n".join(lines) + "\n"


class BuildFile(makemessages.BuildFile):
    @property
    def is_jinja2(self) -> bool:
        """Files under templates/ of the folder makemessages runs in (the project root)."""
        return Path(self.translatable.dirpath).parts[:1] == ("templates",)

    def preprocess(self):
        if not (self.is_templatized and self.is_jinja2):
            return super().preprocess()
        source = Path(self.path).read_text(encoding="utf-8")
        Path(self.work_path).write_text(jinja2_to_python(source), encoding="utf-8")


class Command(makemessages.Command):
    build_file_class = BuildFile
    # A fuzzy match would put an old, wrong translation on a new string.
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]
