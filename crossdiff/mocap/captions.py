"""Captions of imported clips: reading `--captions` files, HumanML3D tokens, placeholders, mirrors.

Caption files map a clip name (the motion file's name without extension) to one or more captions:
- CSV: rows `name,caption` (an optional header row `name,caption`; a name may repeat for more
  captions; optional third and fourth columns `from,to` in seconds caption a segment);
- JSON: `{"name": "caption"}` or `{"name": ["caption", ...]}`.

Tokens (`word/POS`, HumanML3D's text format) come from spaCy when a pipeline is given
(`--spacy_model en_core_web_sm`, exactly as HumanML3D made them), otherwise from a small built-in
tagger: the synthetic vocabulary's words (tagged as spaCy tags them), closed word classes, and
suffix rules (-ing verbs, -ly adverbs; other words are nouns). Its tags are close enough for
training (the model reads the caption, not the tags); only the T2M evaluator's POS input differs.
A clip without a caption gets `PLACEHOLDER`, which is easy to find and replace (or, with
`--uncaptioned skip`, is not imported).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from crossdiff.data.words import caption_to_tokens, format_text_line
from crossdiff.errors import UserError
from crossdiff.synthetic.lexicon import LEXICON, MIRROR_WORDS

PLACEHOLDER = "a person moves [no caption]"
_CLOSED = {
    "DET": "a an the this that these those some every each another any no both all",
    "ADP": "in on at to from with over under into onto around across through along towards toward of behind "
           "before after by for about above below between like near off out up down past upon within without "
           "against beside",
    "PRON": "he she they it his her their its him them someone somebody himself herself themselves itself",
    "CCONJ": "and or but", "SCONJ": "while as if because until though",
    "AUX": "is are was were be been being am has have had does do did can could will would should may might",
    "PART": "not",
}
_CLOSED_TAG = {word: tag for tag, words in _CLOSED.items() for word in words.split()}


def _strip_ing(word: str) -> str:
    stem = word[:-3]
    return stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz" else stem


def builtin_tokens(caption: str) -> list[str]:
    """'A man walks forward slowly' -> ['a/DET', 'man/NOUN', 'walk/VERB', 'forward/ADV', 'slowly/ADV']."""
    tokens = []
    for word in re.findall(r"[A-Za-z]+", caption.replace("-", "")):
        word = word.lower()
        if word in LEXICON:
            lemma, pos, _ = LEXICON[word]
        elif word in _CLOSED_TAG:
            lemma, pos = word, _CLOSED_TAG[word]
        elif word.endswith("ing") and len(word) > 5:
            lemma, pos = _strip_ing(word), "VERB"
        elif word.endswith("ly") and len(word) > 4:
            lemma, pos = word, "ADV"
        else:
            lemma, pos = word, "NOUN"
        tokens.append(f"{lemma}/{pos}")
    return tokens


def text_line(caption: str, start: float = 0.0, end: float = 0.0, nlp=None) -> str:
    """One `texts/<id>.txt` line: caption#tokens#from#to."""
    tokens = caption_to_tokens(caption, nlp) if nlp is not None else builtin_tokens(caption)
    return format_text_line(caption, tokens, start, end)


def mirror_caption(caption: str) -> str:
    """Swap left/right (and clockwise/counterclockwise) for the mirrored clip, keeping capitals."""
    def swap(found: re.Match) -> str:
        word = found.group(0)
        other = MIRROR_WORDS[word.lower()]
        return other.capitalize() if word[0].isupper() else other
    pattern = r"\b(" + "|".join(sorted(MIRROR_WORDS, key=len, reverse=True)) + r")\b"
    return re.sub(pattern, swap, caption, flags=re.IGNORECASE)


def _seconds(value: str, where: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise UserError(f"{where}: from/to must be seconds, got {value!r}") from None


def _read_csv(path: Path) -> dict[str, list[tuple[str, float, float]]]:
    captions: dict[str, list[tuple[str, float, float]]] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for number, row in enumerate(csv.reader(handle), 1):
            row = [cell.strip() for cell in row]
            if not any(row) or (number == 1 and [c.lower() for c in row[:2]] == ["name", "caption"]):
                continue
            if len(row) not in (2, 4) or not row[0] or not row[1]:
                raise UserError(f"{path}:{number}: expected 'name,caption' or 'name,caption,from,to', got {row}")
            start, end = ((_seconds(row[2], f"{path}:{number}"), _seconds(row[3], f"{path}:{number}"))
                          if len(row) == 4 else (0.0, 0.0))
            captions.setdefault(row[0], []).append((row[1], start, end))
    return captions


def _read_json(path: Path) -> dict[str, list[tuple[str, float, float]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected an object {{\"clip name\": \"caption\" or [captions]}}")
    captions = {}
    for name, value in data.items():
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise UserError(f"{path}: {name!r} must map to a caption or a non-empty list of captions")
        captions[name] = [(t.strip(), 0.0, 0.0) for t in texts]
    return captions


def read_captions(path) -> dict[str, list[tuple[str, float, float]]]:
    """{clip name: [(caption, from_s, to_s), ...]} from a .csv or .json file (names without extension)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--captions {path}: file not found")
    reader = {".csv": _read_csv, ".json": _read_json}.get(path.suffix.lower())
    if reader is None:
        raise UserError(f"--captions {path}: expected a .csv or .json file")
    return {Path(name).stem if Path(name).suffix.lower() in (".bvh", ".amc") else name: entries
            for name, entries in reader(path).items()}
