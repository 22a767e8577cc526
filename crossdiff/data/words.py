"""Caption words for the T2M evaluator: GloVe vectors, POS one-hots, HumanML3D text lines and tokens.

- `WordVectorizer(glove_dir)` reads the official three GloVe files (`our_vab_data.npy`,
  `our_vab_words.pkl`, `our_vab_idx.pkl`) and maps a `word/POS` token to a 300-d vector and a
  15-way POS one-hot (docs/original_code.md §2.6); `tokens_to_arrays` builds the evaluator's `[22, 300]` /
  `[22, 15]` sentence arrays with sos/eos/unk padding.
- `parse_text_line` / `read_text_file` read HumanML3D `texts/<id>.txt` lines
  (`caption#tok/POS ...#from#to`, docs/original_code.md §2.2); `format_text_line` writes them.
- `caption_to_tokens(caption, nlp)` turns a plain caption into tokens the HumanML3D way, with a
  spaCy-like pipeline; `load_spacy_pipeline` loads one or explains how to install one.
- `write_glove_vocab` writes a small vocabulary in the official format (the synthetic dataset).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from crossdiff.errors import UserError
from crossdiff.io import NUMPY_CLASSES, restricted_pickle_load, save_npy, save_pickle

GLOVE_DATA, GLOVE_WORDS, GLOVE_INDEX = "our_vab_data.npy", "our_vab_words.pkl", "our_vab_idx.pkl"
WORD_DIM = 300
MAX_TEXT_LEN = 20          # tokens kept per caption; sos and eos make the evaluator's 22 positions
UNKNOWN_WORD = "unk"

POS_ENUMERATOR = {
    "VERB": 0, "NOUN": 1, "DET": 2, "ADP": 3, "NUM": 4, "AUX": 5, "PRON": 6, "ADJ": 7, "ADV": 8,
    "Loc_VIP": 9, "Body_VIP": 10, "Obj_VIP": 11, "Act_VIP": 12, "Desc_VIP": 13, "OTHER": 14,
}

# Checked in this order; the first list holding the word gives its POS category (docs/original_code.md §2.6).
# "dance" is listed twice in the official Act list; a set loses nothing.
VIP_DICT = {
    "Loc_VIP": ("left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward", "back",
                "backward", "up", "down", "straight", "curve"),
    "Body_VIP": ("arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye", "knee",
                 "shoulder", "thigh"),
    "Obj_VIP": ("stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail", "baseball",
                "basketball"),
    "Act_VIP": ("walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop", "dance",
                "jump", "turn", "stumble", "stop", "sit", "lift", "lower", "raise", "wash", "stand",
                "kneel", "stroll", "rub", "bend", "balance", "flap", "jog", "shuffle", "lean", "rotate",
                "spin", "spread", "climb"),
    "Desc_VIP": ("slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry", "sad",
                 "happily", "angrily", "sadly"),
}



def _vip_categories() -> dict[str, str]:
    """word -> the first VIP category that lists it."""
    categories: dict[str, str] = {}
    for category, words in VIP_DICT.items():
        for word in words:
            categories.setdefault(word, category)
    return categories


_VIP_CATEGORY = _vip_categories()


def split_token(token: str) -> tuple[str, str]:
    """'walk/VERB' -> ('walk', 'VERB'); the split happens at the first '/'."""
    word, sep, pos = token.partition("/")
    if not sep or not word:
        raise UserError(f"token {token!r} is not of the form word/POS")
    return word, pos


def pos_one_hot(pos: str) -> np.ndarray:
    """[15] float32 one-hot of a POS name; names outside the 15 categories count as OTHER."""
    one_hot = np.zeros(len(POS_ENUMERATOR), dtype=np.float32)
    one_hot[POS_ENUMERATOR.get(pos, POS_ENUMERATOR["OTHER"])] = 1.0
    return one_hot


def pad_tokens(tokens: Sequence[str], max_text_len: int = MAX_TEXT_LEN) -> tuple[list[str], int]:
    """sos + tokens (cropped to `max_text_len`) + eos, padded with unk to `max_text_len + 2`.

    Returns (padded tokens, sent_len), sent_len counting sos and eos (docs/original_code.md §2.6).
    """
    tokens = ["sos/OTHER", *tokens[:max_text_len], "eos/OTHER"]
    sent_len = len(tokens)
    return tokens + ["unk/OTHER"] * (max_text_len + 2 - sent_len), sent_len


def _glove_paths(glove_dir: Path) -> dict[str, Path]:
    paths = {name: glove_dir / name for name in (GLOVE_DATA, GLOVE_WORDS, GLOVE_INDEX)}
    for path in paths.values():
        if not path.is_file():
            raise UserError(f"GloVe file not found: {path}; download the official files with "
                            f"`bash prepare/download_glove.sh` or set glove_dir to a folder holding "
                            f"{GLOVE_DATA}, {GLOVE_WORDS} and {GLOVE_INDEX}")
    return paths


def _read_glove(glove_dir: Path) -> dict[str, np.ndarray]:
    """word -> [300] float32 vector for every word of the word list, rows given by the index file."""
    paths = _glove_paths(glove_dir)
    vectors = np.load(paths[GLOVE_DATA], allow_pickle=False).astype(np.float32)
    # numpy classes are allowed because a word list saved from a numpy array pickles as one.
    words = [str(w) for w in restricted_pickle_load(paths[GLOVE_WORDS], NUMPY_CLASSES)]
    index = restricted_pickle_load(paths[GLOVE_INDEX], NUMPY_CLASSES)
    if vectors.ndim != 2 or vectors.shape[1] != WORD_DIM:
        raise UserError(f"{paths[GLOVE_DATA]}: shape {vectors.shape}, expected [V, {WORD_DIM}]")
    if not isinstance(index, dict):
        raise UserError(f"{paths[GLOVE_INDEX]}: expected a dict word -> row, got {type(index).__name__}")
    bad = [w for w in words if w not in index or not 0 <= int(index[w]) < len(vectors)]
    if bad:
        raise UserError(f"{paths[GLOVE_INDEX]}: no valid row of {paths[GLOVE_DATA]} for {len(bad)} word(s) "
                        f"of {paths[GLOVE_WORDS]}, e.g. {bad[:3]}")
    if UNKNOWN_WORD not in words:
        raise UserError(f"{paths[GLOVE_WORDS]}: the vocabulary lacks the fallback word {UNKNOWN_WORD!r}")
    return {w: vectors[int(index[w])] for w in words}


class WordVectorizer:
    """`vectorizer["walk/VERB"] -> (vector [300] float32, pos_one_hot [15] float32)` (docs/original_code.md §2.6).

    A word in the vocabulary takes its vector and, as POS, its VIP category if it has one, else the
    given tag (OTHER if unknown). A word outside the vocabulary takes the `unk` vector and OTHER,
    even when it is a VIP word.
    """

    def __init__(self, glove_dir):
        self.glove_dir = Path(glove_dir)
        self.word2vec = _read_glove(self.glove_dir)

    def __len__(self) -> int:
        return len(self.word2vec)

    def __contains__(self, word: str) -> bool:
        return word in self.word2vec

    def __getitem__(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        word, pos = split_token(token)
        if word not in self.word2vec:
            return self.word2vec[UNKNOWN_WORD], pos_one_hot("OTHER")
        return self.word2vec[word], pos_one_hot(_VIP_CATEGORY.get(word, pos))

    def tokens_to_arrays(self, tokens: Sequence[str], max_text_len: int = MAX_TEXT_LEN):
        """Tokens of one caption -> (word_embs [L+2, 300] float32, pos_ohot [L+2, 15] float32, sent_len).

        L is `max_text_len` (20): the evaluator's 22 positions of sos, tokens, eos and unk padding.
        """
        padded, sent_len = pad_tokens(tokens, max_text_len)
        looked_up = [self[token] for token in padded]
        word_embs = np.stack([vector for vector, _ in looked_up])
        pos_ohot = np.stack([one_hot for _, one_hot in looked_up])
        return word_embs, pos_ohot, sent_len


def write_glove_vocab(out_dir, words: Sequence[str], vectors: np.ndarray) -> None:
    """Write `words` and their `[V, 300]` vectors as the three official GloVe files, each atomically."""
    words = [str(w) for w in words]
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape != (len(words), WORD_DIM):
        raise UserError(f"GloVe vocabulary: vectors have shape {vectors.shape}, expected ({len(words)}, {WORD_DIM})")
    if len(set(words)) != len(words):
        raise UserError("GloVe vocabulary: the word list has duplicates")
    if UNKNOWN_WORD not in words:
        raise UserError(f"GloVe vocabulary: the word list must contain the fallback word {UNKNOWN_WORD!r}")
    out_dir = Path(out_dir)
    save_npy(out_dir / GLOVE_DATA, vectors)
    save_pickle(out_dir / GLOVE_WORDS, words)
    save_pickle(out_dir / GLOVE_INDEX, {w: i for i, w in enumerate(words)})


class TextEntry(NamedTuple):
    """One line of a HumanML3D text file. `start == end == 0.0` means the whole clip (docs/original_code.md §2.2)."""

    caption: str
    tokens: list[str]
    start: float      # seconds
    end: float        # seconds


def _seconds(value: str) -> float:
    number = float(value)
    return 0.0 if math.isnan(number) else number


def parse_text_line(line: str, source="<text>", line_number: int = 0) -> TextEntry:
    """'a man walks#a/DET man/NOUN walk/VERB#0.0#0.0' -> TextEntry; NaN times become 0.0.

    The split is taken from the right, so a '#' inside the caption is kept.
    """
    where = f"{source}:{line_number}"
    fields = line.strip().rsplit("#", 3)
    if len(fields) != 4:
        raise UserError(f"{where}: expected 'caption#word/POS ...#from#to', got {line.strip()!r}")
    caption, tokens_field, start, end = fields
    try:
        start, end = _seconds(start), _seconds(end)
    except ValueError:
        raise UserError(f"{where}: from/to must be numbers of seconds, got {fields[2]!r} and {fields[3]!r}") from None
    tokens = tokens_field.split()
    for token in tokens:
        try:
            split_token(token)
        except UserError as e:
            raise UserError(f"{where}: {e}") from None
    return TextEntry(caption, tokens, start, end)


def read_text_file(path) -> list[TextEntry]:
    """Every non-blank line of a `texts/<id>.txt` file."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    return [parse_text_line(line, path, number) for number, line in enumerate(lines, 1) if line.strip()]


def format_text_line(caption: str, tokens: Sequence[str], start: float = 0.0, end: float = 0.0) -> str:
    """The inverse of `parse_text_line`: 'caption#tok/POS ...#from#to'."""
    return f"{caption}#{' '.join(tokens)}#{float(start)}#{float(end)}"


def caption_to_tokens(caption: str, nlp) -> list[str]:
    """A plain caption -> ['word/POS', ...] the way HumanML3D made its text files.

    `nlp` is a spaCy English pipeline (or any callable returning tokens with `.text`, `.lemma_`
    and `.pos_`). Hyphens are removed first ("T-pose" -> "Tpose"); only alphabetic tokens are
    kept; nouns and verbs become their lemma, except the word "left", which a tagger often reads
    as the verb "leave".
    """
    tokens = []
    for token in nlp(caption.replace("-", "")):
        if not token.text.isalpha():
            continue
        lemmatise = token.pos_ in ("NOUN", "VERB") and token.text != "left"
        tokens.append(f"{token.lemma_ if lemmatise else token.text}/{token.pos_}")
    return tokens


def load_spacy_pipeline(name: str = "en_core_web_sm"):
    """`spacy.load(name)`, or a UserError that says how to install spaCy and the pipeline."""
    install = (f"install spaCy and an English pipeline, e.g. `pip install spacy` then "
               f"`python -m spacy download {name}` (or `pip install {name}-<version>-py3-none-any.whl` "
               f"downloaded from https://github.com/explosion/spacy-models/releases)")
    try:
        import spacy
    except ImportError:
        raise UserError(f"spaCy is not installed; {install}") from None
    try:
        return spacy.load(name)
    except OSError as e:
        raise UserError(f"the spaCy pipeline {name!r} is not installed ({e}); {install}") from None
