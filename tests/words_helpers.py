"""A stand-in for a spaCy English pipeline (spaCy is not installed here), tagging from known tables.

Words of the synthetic dataset's lexicon get its lemma and POS tag; `extra` adds or overrides
entries; anything else is tagged PUNCT (punctuation) or X with itself as lemma.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crossdiff.synthetic.lexicon import LEXICON


@dataclass(frozen=True)
class FakeToken:
    text: str
    lemma_: str
    pos_: str


class FakeEnglish:
    def __init__(self, extra: dict[str, tuple[str, str]] | None = None):
        self.table = {word: (lemma, pos) for word, (lemma, pos, _) in LEXICON.items()} | (extra or {})
        self.calls = []

    def __call__(self, text: str) -> list[FakeToken]:
        self.calls.append(text)
        tokens = []
        for piece in re.findall(r"\w+|[^\w\s]", text):
            lemma, pos = self.table.get(piece, (piece, "X" if piece.isalnum() else "PUNCT"))
            tokens.append(FakeToken(piece, lemma, pos))
        return tokens
