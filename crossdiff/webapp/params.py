"""The fields of a generate request, checked one by one: every bad value is a UserError naming it.

    limits = Limits.from_config(cfg.app, cfg.model.max_frames, fps=sampler.skeleton.fps)
    params = parse_generate({"caption": "a person jumps", "seconds": 3, "samples": 2, "seed": 1,
                             "guidance": 2.5, "path": "3d"}, limits)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from crossdiff.errors import UserError
from crossdiff.inference import PATHS

CLIP_CONTEXT = 77          # CLIP's context: start and end tokens + 75 caption tokens
MAX_CAPTION_CHARS = 1000   # longer captions cannot fit 75 tokens; refused before tokenising
MAX_SEED = 2**31 - 1
PATH_LABELS = {"3d": "3D", "2d": "2D, then lift to 3D", "mixture": "mixture (2D, then 3D)"}


@dataclass(frozen=True)
class Limits:
    """What a request may ask for."""

    min_frames: int
    max_frames: int
    max_samples: int
    max_guidance: float
    fps: float        # the model's skeleton's frame rate: seconds <-> frames

    @classmethod
    def from_config(cls, app, max_frames: int, fps: float) -> "Limits":
        min_frames = max(1, round(app.min_seconds * fps))
        if min_frames > max_frames:
            raise UserError(f"app.min_seconds={app.min_seconds} is longer than the model's "
                            f"{max_frames / fps:.1f} s (model.max_frames={max_frames})")
        if app.max_samples < 1:
            raise UserError(f"app.max_samples must be at least 1, got {app.max_samples}")
        return cls(min_frames, max_frames, int(app.max_samples), float(app.max_guidance), fps)


@dataclass(frozen=True)
class GenerateParams:
    caption: str
    frames: int       # at limits.fps
    samples: int
    seed: int
    guidance: float
    path: str         # one of inference.PATHS


def parse_generate(body, limits: Limits) -> GenerateParams:
    """A request's JSON object -> checked parameters (UserError on the first bad field)."""
    if not isinstance(body, dict):
        raise UserError("the request body must be a JSON object with caption, seconds, samples, seed, "
                        "guidance and path")
    seconds = _number(body, "seconds")
    frames = round(seconds * limits.fps)
    if not limits.min_frames <= frames <= limits.max_frames:
        shortest, longest = limits.min_frames / limits.fps, limits.max_frames / limits.fps
        raise UserError(f"seconds must be from {shortest:g} to {longest:g} "
                        f"(this model's longest motion), got {seconds:g}")
    samples = _integer(body, "samples", 1, limits.max_samples)
    seed = _integer(body, "seed", 0, MAX_SEED)
    guidance = _number(body, "guidance")
    if not 0 <= guidance <= limits.max_guidance:
        raise UserError(f"guidance must be from 0 to {limits.max_guidance:g}, got {guidance:g}")
    path = body.get("path")
    if path not in PATHS:
        raise UserError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
    return GenerateParams(_caption(body.get("caption")), frames, samples, seed, guidance, path)


def _caption(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError("caption is empty: describe a motion, e.g. \"a person walks forward and waves\"")
    caption = " ".join(value.split())
    if len(caption) > MAX_CAPTION_CHARS:
        raise UserError(f"caption is {len(caption)} characters long; CLIP reads at most "
                        f"{CLIP_CONTEXT - 2} tokens, shorten it")
    tokens = clip_token_count(caption)
    if tokens > CLIP_CONTEXT - 2:
        raise UserError(f"caption is {tokens} CLIP tokens long; CLIP reads at most {CLIP_CONTEXT - 2} "
                        f"(+ start and end tokens = {CLIP_CONTEXT}), shorten it")
    return caption


def clip_token_count(caption: str) -> int:
    """BPE tokens of `caption` with the tokenizer of the text encoder (without start/end tokens)."""
    return len(_tokenizer().encode(caption))


@lru_cache(maxsize=1)
def _tokenizer():
    from crossdiff.text_encoder import import_clip

    return import_clip().simple_tokenizer.SimpleTokenizer()


def _number(body: dict, key: str) -> float:
    """A finite number; numeric strings (what a form field holds) are accepted."""
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UserError(f"{key} is missing: give a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise UserError(f"{key} must be a number, got {body.get(key)!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{key} must be a number, got {body.get(key)!r}")
    return float(value)


def _integer(body: dict, key: str, low: int, high: int) -> int:
    value = _number(body, key)
    if value != int(value) or not low <= value <= high:
        raise UserError(f"{key} must be a whole number from {low} to {high}, got {body.get(key)!r}")
    return int(value)
