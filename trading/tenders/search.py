"""Portal search terms for Chinese text without a word segmenter.

Every announcement stores the set of its CJK character bigrams (and single characters) plus its
lower-cased ASCII words. A query matches when all of its terms are present (a GIN index on
PostgreSQL answers that), and the exact phrase is then rechecked with ILIKE, because bigrams can
co-occur without being adjacent.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9A-Za-z]+")
MAX_TERMS = 4000


def terms(text: str) -> list[str]:
    out: set[str] = set()
    for run in _CJK.findall(text):
        out.update(run)
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    out.update(w.lower() for w in _WORD.findall(text) if len(w) <= 40)
    return sorted(out)[:MAX_TERMS]


def query_terms(q: str) -> list[str]:
    """The smallest set of terms a matching document must contain."""
    out: set[str] = set()
    for run in _CJK.findall(q):
        if len(run) == 1:
            out.add(run)
        else:
            out.update(run[i : i + 2] for i in range(len(run) - 1))
    out.update(w.lower() for w in _WORD.findall(q) if len(w) <= 40)
    return sorted(out)
