"""Words of Chinese and English free text, for the sentiment scorer and the needs found in
interaction notes.

Chinese has no spaces: jieba segments it, with the banking user dictionary shipped in
analytics/data/banking_dict.txt (留学贷款, 养老理财, 大额存单, 信用卡分期 … stay one word
instead of two or three), on a private jieba.Tokenizer so nothing else in the process
changes it. English words are runs of letters and digits, lower-cased. Both go through
NFKC first, so full-width letters and digits (ＡＰＰ, ２小时) read as their plain forms.
jieba builds its prefix dictionary once per process (about a second; it keeps a cache file
in the temporary directory).
"""

import functools
import logging
import re
import unicodedata
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
USER_DICTIONARY = DATA / "banking_dict.txt"
_HAN = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[\w]+", re.UNICODE)


def normalise(text: str) -> str:
    """NFKC, lower case, whitespace runs as one space."""
    return " ".join(unicodedata.normalize("NFKC", text or "").lower().split())


@functools.cache
def segmenter():
    import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)  # no "Building prefix dict" on stderr
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(USER_DICTIONARY))
    return tokenizer


def words(text: str) -> list[str]:
    """The words of `text` (normalised), punctuation and spaces left out."""
    text = normalise(text)
    if not text:
        return []
    if not _HAN.search(text):
        return _WORD.findall(text)
    return [w for w in segmenter().lcut(text) if _WORD.fullmatch(w)]
