"""The zh-Hans catalogue is complete and its compiled .mo (committed) matches the .po."""

import gettext
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"


def po_entries() -> dict[tuple[str, str], str]:
    """(msgctxt, msgid) → msgstr for the non-header, non-obsolete entries of django.po."""
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    entries = {}
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        joined = "\n".join(lines)
        context = re.search(r'^msgctxt ((?:".*"\n?)+)', joined, re.MULTILINE)
        ctx = _unquote(context.group(1)) if context else ""
        if "msgid_plural" in joined:
            match = re.search(r'msgid ((?:".*"\n?)+)msgid_plural', joined)
            strs = re.findall(r'msgstr\[\d\] ((?:".*"\n?)+)', joined)
            if match:
                entries[ctx, _unquote(match.group(1))] = "".join(_unquote(s) for s in strs)
            continue
        match = re.search(r'msgid ((?:".*"\n?)+)msgstr ((?:".*"\n?)+)', joined + "\n")
        if match and _unquote(match.group(1)):
            entries[ctx, _unquote(match.group(1))] = _unquote(match.group(2))
    return entries


def _unquote(chunk: str) -> str:
    return (
        "".join(re.findall(r'"(.*)"', chunk))
        .encode()
        .decode("unicode_escape")
        .encode("latin-1")
        .decode("utf-8")
    )


def test_every_string_is_translated():
    entries = po_entries()
    assert len(entries) > 100
    missing = [msgid for msgid, msgstr in entries.items() if not msgstr]
    assert not missing, f"untranslated: {missing[:10]}"


def test_no_fuzzy_entries():
    assert "#, fuzzy" not in (LOCALE / "django.po").read_text(encoding="utf-8").split("\n\n", 1)[1]


def test_compiled_catalogue_matches_the_po():
    with (LOCALE / "django.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for (context, msgid), msgstr in po_entries().items():
        if "\n" in msgid or not msgstr:
            continue
        found = catalogue.pgettext(context, msgid) if context else catalogue.gettext(msgid)
        assert found == msgstr, f"{msgid!r} is stale in django.mo"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext tools not installed")
def test_catalogue_covers_every_string_in_the_code(tmp_path, monkeypatch):
    """Re-extract in a copy of the sources: nothing may appear untranslated. (makemessages
    writes to the `locale` folder beside the sources, so it must not run in the real tree.)"""
    for name in [
        "bankcrm",
        "customers",
        "service",
        "compliance",
        "analytics",
        "marketing",
        "templates",
        "locale",
    ]:
        shutil.copytree(
            ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo")
        )
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["zh_Hans"], no_location=True, verbosity=0)
    po = (tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text("utf-8")
    untranslated = re.findall(r'\nmsgid "(.+)"\nmsgstr ""\n', po)
    assert not untranslated, f"run `make messages` and translate: {untranslated}"
    assert "#, fuzzy" not in po.split("\n\n", 1)[1], "make messages matched a string fuzzily"
    # Read by Jinja2's parser: Django's would miss a call with keyword arguments.
    assert '\nmsgid "Branch overview: %(branch)s"\nmsgstr "机构概览：%(branch)s"' in po
