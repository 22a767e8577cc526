"""Deterministic 300-d word vectors for the synthetic vocabulary (a stand-in for GloVe).

Each word's vector is its concept's vector plus a smaller word-specific part, both drawn from
generators seeded by a hash of the name (not Python's salted `hash`), so synonyms ("walks",
"strolls") are close, unrelated words are nearly orthogonal, and the vectors never depend on the
dataset seed or on the order words are listed in.
"""

from __future__ import annotations

import hashlib

import numpy as np

from crossdiff.synthetic.lexicon import LEXICON

DIM = 300
WORD_SPREAD = 0.45   # size of a word's own part relative to its concept's
NORM = 5.0           # GloVe 6B-300d vectors have norms of about 5-7
# Tokens the T2M word vectorizer looks up besides caption words (docs/original_code.md §2.6).
SPECIAL_WORDS = ("sos", "eos", "unk")


def _gaussian(name: str) -> np.ndarray:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little")).standard_normal(DIM)


def vocabulary() -> list[str]:
    """Every surface word and lemma of the lexicon plus sos/eos/unk, sorted."""
    words = set(SPECIAL_WORDS) | set(LEXICON) | {lemma for lemma, _, _ in LEXICON.values()}
    return sorted(words)


def _concept(word: str) -> str:
    if word in LEXICON:
        return LEXICON[word][2]
    for lemma, _, concept in LEXICON.values():
        if lemma == word:
            return concept
    return f"special:{word}"


def word_vectors(words: list[str]) -> np.ndarray:
    """[V, 300] float32 vectors for `words`, in that order."""
    vectors = np.stack([_gaussian(f"concept:{_concept(w)}") + WORD_SPREAD * _gaussian(f"word:{w}") for w in words])
    vectors *= NORM / np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)
