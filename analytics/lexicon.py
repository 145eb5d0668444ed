"""English sentiment from a lexicon, by VADER's method (Hutto & Gilbert, "VADER: A
Parsimonious Rule-based Model for Sentiment Analysis of Social Media Text", ICWSM 2014).

The learned scorer (analytics.sentiment) sees little English: the hotel reviews it learns
from are Chinese, and English banking phrases number in the hundreds. A lexicon rated by
people carries what those cannot: analytics/data/vader_lexicon.tsv holds VADER's 7,500
words, emoticons and slang with their mean valence from ten raters (−4 very negative to +4
very positive; MIT licence, analytics/data/vader_LICENSE.txt), to which the English words
and phrases of our banking list that VADER lacks are added ("hidden fees", "crashing",
"no reply": ±2). `compound(text)` sums the valences of a text's words and phrases (the
longest match first) with VADER's main rules, in a few lines:
- a booster in the three words before ("very", "extremely"; "slightly" dampens) moves a
  valence by 0.293 away from zero (less with distance), a negation ("not", "never",
  "n't" …) in the three words before, or "no" in the two before, multiplies it by −0.74
  ("no" before a lexicon word counts only so: "no problem");
- a word in capitals among lower-case ones is emphasised (+0.733 away from zero);
- "but" halves what comes before and raises what follows by half;
- exclamation marks (up to four) add 0.292 each to the sum's direction;
and normalises the sum to −1…1: sum / √(sum² + 15). A text without a lexicon word is 0.
VADER's idioms and special cases ("kind of", "least", "never so …") are left out.
"""

import functools
import math
import re

from analytics.words import DATA

LEXICON_FILE = DATA / "vader_lexicon.tsv"
BANKING_LEXICON = DATA / "sentiment_lexicon.csv"
BANKING = 2.0  # a banking entry's valence: VADER's "good" is 1.9, "bad" -2.5
LONGEST = 3  # words in a phrase
BOOST, NEGATION, CAPS, EXCLAMATION = 0.293, -0.74, 0.733, 0.292
# Apostrophes are dropped before lookup: "don't" is "dont".
NEGATE = frozenset((
    "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt", "dont",
    "hadnt", "hasnt", "havent", "isnt", "mightnt", "mustnt", "neither", "neednt", "never",
    "none", "nope", "nor", "not", "nothing", "nowhere", "oughtnt", "shant", "shouldnt",
    "wasnt", "werent", "without", "wont", "wouldnt", "rarely", "seldom", "despite",
))  # fmt: skip
BOOSTERS = {
    **dict.fromkeys((
        "absolutely", "amazingly", "awfully", "completely", "considerably", "decidedly",
        "deeply", "enormously", "entirely", "especially", "exceptionally", "extremely",
        "fully", "greatly", "highly", "hugely", "incredibly", "intensely", "particularly",
        "purely", "quite", "really", "remarkably", "so", "substantially", "thoroughly",
        "totally", "tremendously", "unbelievably", "unusually", "utterly", "very", "most",
        "more",
    ), BOOST),
    **dict.fromkeys((
        "almost", "barely", "hardly", "kinda", "less", "little", "marginally",
        "occasionally", "partly", "scarcely", "slightly", "somewhat", "sorta",
    ), -BOOST),
}  # fmt: skip
_EDGES = re.compile(r"^[^\w]+|[^\w]+$")
_HAN = re.compile(r"[\u3400-\u9fff]")


@functools.cache
def lexicon() -> dict[tuple[str, ...], float]:
    """Valence by word or phrase (a tuple of words): VADER's, and the English positive and
    negative entries of our banking list (analytics/data/sentiment_lexicon.csv: "hidden
    fees", "crashing", "no reply" …) that VADER lacks, at ±BANKING."""
    import csv

    with open(LEXICON_FILE, encoding="utf-8") as handle:
        pairs = (line.rstrip("\n").split("\t") for line in handle)
        words = {(word,): float(value) for word, value in pairs}
    with open(BANKING_LEXICON, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            key = tuple(_tokens(row["text"])[1])
            sign = {"positive": 1, "negative": -1}.get(row["label"])
            if sign and key and key not in words and not _HAN.search(row["text"]):
                words[key] = sign * BANKING
    return words


def digest() -> str:
    """Six hex digits of the lexicon's entries: part of the model version (the lexicon is
    read from its files at run time, so a model's version names the lexicon it chose its
    weight and band with)."""
    import hashlib

    entries = "\n".join(f"{' '.join(k)}\t{v:g}" for k, v in sorted(lexicon().items()))
    return hashlib.sha256(entries.encode()).hexdigest()[:6]


def _tokens(text: str) -> tuple[list[str], list[str]]:
    """The words as written and lower-cased, with the punctuation at their ends stripped
    unless that leaves two characters or fewer (emoticons such as ":)" stay whole)."""
    written = []
    for raw in text.split():
        stripped = _EDGES.sub("", raw)
        written.append(stripped if len(stripped) > 2 else raw)
    return written, [w.lower().replace("'", "").replace("’", "") for w in written]


def compound(text: str) -> float:
    """The text's sentiment in −1…1 by VADER's method (module docstring)."""
    words = lexicon()
    written, lower = _tokens(text or "")
    shouting = any(w.isupper() for w in written) and not all(
        w.isupper() for w in written if w.isalpha()
    )
    valences = [0.0] * len(lower)
    inside = 0  # words left of a phrase already counted
    for i, word in enumerate(lower):
        if inside:
            inside -= 1
            continue
        value, size = None, 1
        for size in range(min(LONGEST, len(lower) - i), 0, -1):
            value = words.get(tuple(lower[i : i + size]))
            if value is not None:
                break
        if value is None or (size == 1 and word in BOOSTERS):
            continue
        inside = size - 1
        if word == "no" and size == 1 and i + 1 < len(lower) and (lower[i + 1],) in words:
            continue  # it qualifies the next word ("no problem")
        sign = math.copysign(1.0, value)
        if shouting and written[i].isupper() and written[i].isalpha():
            value += CAPS * sign
        for distance, decay in ((1, 1.0), (2, 0.95), (3, 0.9)):
            if i - distance < 0:
                break
            before = lower[i - distance]
            if before in BOOSTERS:
                value += BOOSTERS[before] * sign * decay
            if before in NEGATE or (before == "no" and distance < 3):
                value *= NEGATION
        valences[i] = value
    if "but" in lower:
        at = lower.index("but")
        valences = [v * (0.5 if i < at else 1.5 if i > at else 1.0) for i, v in enumerate(valences)]
    total = sum(valences)
    if total:
        total += math.copysign(min(text.count("!"), 4) * EXCLAMATION, total)
    return total / math.sqrt(total * total + 15)
