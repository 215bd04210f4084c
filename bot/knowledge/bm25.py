"""Okapi BM25 over passages, in pure Python: keyword retrieval that works offline with no model.

A knowledge base of a shop is a few hundred passages, so a plain inverted index rebuilt in
milliseconds beats any dependency. Headings are indexed twice: a question that matches an FAQ
entry's question or a section title is the strongest signal there is.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

K1 = 1.5
B = 0.75
HEADING_WEIGHT = 2

_TOKEN = re.compile(r"[0-9]+(?:[.,:][0-9]+)*|[^\W\d_]+", re.UNICODE)

_STOP = (
    "a about above after again against all am an and any are as at be because been before being below",
    "between both but by can could did do does doing down during each few for from further had has have",
    "having he her here hers herself him himself his how i if in into is it its itself just let me more",
    "most my myself no nor not now of off on once only or other our ours ourselves out over own same she",
    "should so some such than that the their theirs them themselves then there these they this those",
    "through to too under until up very was we were what when where which while who whom why will with",
    "would you your yours yourself yourselves hi hello hey please thanks thank ok okay im i'm ive dont",
    "can't cant get got also still yet want wanted need know tell much many may might must shall us one",
    "good",
)
STOPWORDS = frozenset(word for line in _STOP for word in line.split())


def stem(word: str) -> str:
    """A deliberately small suffix stripper: consistent more than correct ("delivery"/"delivered" meet)."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            break
    if len(w) > 4 and w.endswith("ly"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("y"):
        w = w[:-1]
    return w


# Words customers use for the same thing in any shop; folded together on both sides of the index.
SYNONYMS = {
    **dict.fromkeys(("fee", "fees", "price", "prices", "charge", "charges", "rate", "rates", "postage"), "cost"),
    **dict.fromkeys(("coupon", "coupons", "voucher", "vouchers", "promo", "promotional"), "discount"),
    **dict.fromkeys(("broken", "cracked", "shattered", "chipped", "crushed", "defective", "faulty"), "damag"),
    **dict.fromkeys(("package", "packages", "parcels"), "parcel"),
    **dict.fromkeys(("swap", "swaps"), "exchange"),
}


def tokenize(text: str) -> list[str]:
    return [SYNONYMS.get(t) or stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


@dataclass(frozen=True)
class Scored:
    index: int  # position in the documents the index was built from
    score: float
    matched: tuple[str, ...]  # query terms found in the document


class BM25Index:
    def __init__(self, documents: Sequence[tuple[str, str]]) -> None:
        """`documents`: (heading, text) pairs, in the order results refer to."""
        self._tf: list[Counter[str]] = []
        self._len: list[int] = []
        df: Counter[str] = Counter()
        for heading, text in documents:
            tokens = tokenize(heading) * HEADING_WEIGHT + tokenize(text)
            tf = Counter(tokens)
            self._tf.append(tf)
            self._len.append(len(tokens))
            df.update(tf.keys())
        self.size = len(documents)
        self._avg = (sum(self._len) / self.size) if self.size else 0.0
        # BM25+ style floor: a term in every passage still counts a little, never negatively.
        self._idf = {t: math.log(1 + (self.size - n + 0.5) / (n + 0.5)) for t, n in df.items()}
        self._postings: dict[str, list[int]] = {}
        for i, tf in enumerate(self._tf):
            for term in tf:
                self._postings.setdefault(term, []).append(i)

    def idf(self, term: str) -> float:
        return self._idf.get(term, 0.0)

    def search(self, query: str, k: int = 5) -> list[Scored]:
        terms = list(dict.fromkeys(tokenize(query)))
        scores: dict[int, float] = {}
        matched: dict[int, list[str]] = {}
        for term in terms:
            idf = self._idf.get(term)
            if idf is None:
                continue
            for i in self._postings[term]:
                f = self._tf[i][term]
                norm = K1 * (1 - B + B * self._len[i] / self._avg) if self._avg else K1
                scores[i] = scores.get(i, 0.0) + idf * f * (K1 + 1) / (f + norm)
                matched.setdefault(i, []).append(term)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [Scored(i, round(score, 4), tuple(matched[i])) for i, score in ranked]
