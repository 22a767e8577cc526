"""Captions for synthetic clips, their HumanML3D token strings, and the left/right mirror.

Three captions per clip, from varied sentence forms ("a man walks ...", "someone is walking ...",
"a person walking ..."), subjects and the family's phrase variants. A two-action clip gets
captions joining both phrases ("... and then ..."); sometimes its third caption describes only
one action, with that segment's start and end in seconds (HumanML3D's `#from#to`).
"""

from __future__ import annotations

from dataclasses import dataclass

from crossdiff.synthetic.curves import FPS
from crossdiff.synthetic.lexicon import LEXICON, MIRROR_WORDS
from crossdiff.synthetic.phrases import PHRASES, VerbPhrase

# HumanML3D drops caption segments shorter than this many frames (docs/original_code.md §2.4).
MIN_SEGMENT_FRAMES = 40
SUBJECTS = {"a person": ["his", "their"], "someone": ["their"], "the person": ["his", "their"], "a man": ["his"],
            "the man": ["his"], "a woman": ["her"], "the woman": ["her"], "a human": ["their"], "a figure": ["their"]}
CONNECTORS = ["and then", "then", "and after that", "and afterwards"]
FORMS = ["present", "present", "present", "progressive", "participle"]


@dataclass(frozen=True)
class Part:
    """One action of a clip: family, parameters and its frame range [start, end)."""

    family: str
    params: dict
    start: int
    end: int


def _verb_forms() -> dict[str, tuple[str, str]]:
    """lemma -> (third person singular, -ing form), read off the lexicon."""
    forms: dict[str, dict[str, str]] = {}
    for surface, (lemma, pos, _) in LEXICON.items():
        if pos == "VERB" and surface != lemma:
            kind = "ing" if surface.endswith("ing") else "ed" if surface.endswith("ed") else "s"
            forms.setdefault(lemma, {})[kind] = surface
    return {lemma: (f["s"], f["ing"]) for lemma, f in forms.items() if "s" in f and "ing" in f}


VERB_FORMS = _verb_forms()


def _inflect(phrase: VerbPhrase, form: str) -> str:
    words = []
    for k, (verb, tail) in enumerate(phrase):
        third, ing = VERB_FORMS[verb]
        if k:
            words.append("and")
        if form == "present":
            words.append(third)
        else:
            words += ["is", ing] if form == "progressive" and k == 0 else [ing]
        words.append(tail)
    return " ".join(words)


def _sentence(subject: str, possessive: str, body: str) -> str:
    text = f"{subject} {body}".replace("{poss}", possessive)
    return " ".join(text.split())


def _pick(options, rng):
    return options[int(rng.integers(len(options)))]


def _phrase(part: Part, rng) -> VerbPhrase:
    return _pick(PHRASES[part.family](part.params, rng), rng)


def _describe(parts: list[Part], rng, form: str) -> str:
    """One caption body (no subject) for the whole sequence of parts."""
    bodies = [_inflect(_phrase(part, rng), form) for part in parts]
    if len(bodies) == 1:
        return bodies[0]
    connector = _pick(CONNECTORS, rng)
    if form == "progressive":  # "is walking forward and then turning left"
        second = _inflect(_phrase(parts[1], rng), "participle")
        return f"{bodies[0]} {connector} {second}"
    lead = "first " if form == "present" and rng.random() < 0.2 else ""
    return f"{lead}{bodies[0]} {connector} {bodies[1]}"


def make_captions(parts: list[Part], frames: int, rng, count: int = 3) -> list[tuple[str, float, float]]:
    """`count` distinct (caption, from_s, to_s) for a clip of `frames` frames; (0, 0) means the whole clip."""
    captions: list[tuple[str, float, float]] = []
    segment_part = None
    if len(parts) > 1 and rng.random() < 0.5:
        long_parts = [p for p in parts if p.end - p.start >= MIN_SEGMENT_FRAMES + 2]
        segment_part = _pick(long_parts, rng) if long_parts else None
    for attempt in range(60):
        subject = _pick(list(SUBJECTS), rng)
        possessive = _pick(SUBJECTS[subject], rng)
        form = _pick(FORMS, rng)
        if segment_part is not None and len(captions) == count - 1:
            text = _sentence(subject, possessive, _inflect(_phrase(segment_part, rng), form))
            entry = (text, segment_part.start / FPS, min(segment_part.end, frames - 1) / FPS)
        else:
            entry = (_sentence(subject, possessive, _describe(parts, rng, form)), 0.0, 0.0)
        if all(entry[0] != c[0] for c in captions) or attempt > 50:
            captions.append(entry)
        if len(captions) == count:
            break
    return captions


def tokenize(caption: str) -> str:
    """'a man walks' -> 'a/DET man/NOUN walk/VERB' (lemma/POS, HumanML3D's token format)."""
    tokens = []
    for word in caption.split():
        lemma, pos, _ = LEXICON[word]
        tokens.append(f"{lemma}/{pos}")
    return " ".join(tokens)


def text_line(caption: str, start: float, end: float) -> str:
    """One line of a HumanML3D texts/<id>.txt file: caption#tokens#from#to."""
    return f"{caption}#{tokenize(caption)}#{round(start, 2)}#{round(end, 2)}"


def mirror_caption(caption: str) -> str:
    """Swap left/right and clockwise/counterclockwise, as the mirrored motion does."""
    return " ".join(MIRROR_WORDS.get(w, w) for w in caption.split())
