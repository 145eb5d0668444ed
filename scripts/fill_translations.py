"""Fill empty msgstr entries of locale/zh_Hans/LC_MESSAGES/django.po from a Python dict file.

    python scripts/fill_translations.py path/to/translations.py   # defines ZH = {msgid: msgstr}

Used after `make messages` adds new strings; reports what is still untranslated.
"""

import re
import runpy
import sys
from pathlib import Path

PO = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def main(path: str) -> int:
    table: dict[str, str] = runpy.run_path(path)["ZH"]
    blocks = PO.read_text(encoding="utf-8").split("\n\n")
    missing = []
    for n, block in enumerate(blocks):
        match = re.search(r'^msgid ((?:".*"\n?)+)msgstr ""$', block, re.MULTILINE)
        if not match or n == 0:
            continue
        msgid = "".join(re.findall(r'"(.*)"', match.group(1))).replace('\\"', '"')
        if msgid in table:
            block = block[: block.rindex('msgstr ""')] + "msgstr " + quote(table[msgid])
            blocks[n] = block.replace("#, fuzzy\n", "").replace(", fuzzy", "")
        else:
            missing.append(msgid)
    PO.write_text("\n\n".join(blocks), encoding="utf-8")
    for msgid in missing:
        print(f"untranslated: {msgid}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
