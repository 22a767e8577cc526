"""A line-aware, tolerant BVH reader: every error names the file, the line and what is wrong.

The result is the `crossdiff.motion.bvh.Bvh` record our exporter's reader also returns, so the
forward kinematics of `crossdiff.motion.bvh` runs on it. What real files do and this accepts:
- Windows (CRLF) or old Mac (CR) line endings, tabs, blank lines, `{` on the joint's line;
- joint names with spaces (3ds Max Biped: `JOINT Bip01 L Thigh`) or namespaces (`mixamorig:Hips`);
- any rotation order per joint, 3 or 6 channels on any joint, channel names in any letter case;
- a `Frames:` count that disagrees with the frame lines (the lines present win, with a warning);
- the same joint name twice (the second gets a `#2` suffix, with a warning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crossdiff.errors import UserError
from crossdiff.motion.bvh import Bvh

_AXES = "XYZ"


class MocapFileError(UserError):
    """A file that cannot be read; `line` is 1-based (0 when the problem has no single line)."""

    def __init__(self, path: str, line: int, reason: str):
        self.path, self.line, self.reason = str(path), int(line), reason
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")


@dataclass
class _Token:
    word: str
    line: int


@dataclass
class _Stream:
    tokens: list[_Token]
    source: str
    at: int = 0
    last_line: int = 0

    def next(self, expected: str | None = None) -> _Token:
        if self.at >= len(self.tokens):
            raise MocapFileError(self.source, self.last_line, "the file ends inside the HIERARCHY section"
                                 + (f" (expected {expected!r})" if expected else ""))
        token = self.tokens[self.at]
        self.at += 1
        if expected is not None and token.word.lower() != expected.lower():
            raise MocapFileError(self.source, token.line, f"expected {expected!r}, found {token.word!r}")
        return token

    def peek(self) -> str:
        return self.tokens[self.at].word if self.at < len(self.tokens) else ""

    def number(self) -> float:
        token = self.next()
        try:
            value = float(token.word)
        except ValueError:
            raise MocapFileError(self.source, token.line, f"expected a number, found {token.word!r}") from None
        if not np.isfinite(value):
            raise MocapFileError(self.source, token.line, f"{token.word!r} is not a finite number")
        return value


@dataclass
class BvhFile:
    """A parsed file and what was tolerated on the way (`warnings`)."""

    bvh: Bvh
    warnings: list[str] = field(default_factory=list)


def _hierarchy_tokens(lines: list[tuple[int, str]]) -> list[_Token]:
    """Words of the HIERARCHY lines; a ROOT/JOINT name is the rest of its line (names may hold spaces)."""
    tokens = []
    for number, line in lines:
        words = line.split()
        if words and words[0].upper() in ("ROOT", "JOINT"):
            rest = line.strip()[len(words[0]):].strip()
            opens = rest.endswith("{")
            tokens += [_Token(words[0].upper(), number), _Token(rest.rstrip("{").strip(), number)]
            tokens += [_Token("{", number)] if opens else []
        else:
            tokens += [_Token(w, number) for w in words]
    return tokens


def _channel_name(token: _Token, source: str) -> str:
    word = token.word
    if len(word) < 2 or word[0].upper() not in _AXES or word[1:].lower() not in ("position", "rotation"):
        raise MocapFileError(source, token.line, f"unknown channel {word!r} (expected e.g. Xposition, Zrotation)")
    return word[0].upper() + word[1:].lower()


def _parse_joint(stream: _Stream, bvh: Bvh, parent: int, warnings: list[str]) -> None:
    name_token = stream.next()
    name = name_token.word or f"joint{len(bvh.names)}"
    if name in bvh.names:
        warnings.append(f"line {name_token.line}: joint name {name!r} repeats; renamed {name}#2")
        name = f"{name}#2"
    index = len(bvh.names)
    bvh.names.append(name)
    bvh.parents.append(parent)
    stream.next("{")
    stream.next("OFFSET")
    bvh.offsets = np.vstack([bvh.offsets, [stream.number() for _ in range(3)]])
    channels: tuple[str, ...] = ()
    if stream.peek().upper() == "CHANNELS":   # a joint without CHANNELS does not move
        count_token = stream.next("CHANNELS")
        count = stream.next()
        if not count.word.isdigit():
            raise MocapFileError(stream.source, count.line, f"joint {name!r}: bad channel count {count.word!r}")
        channels = tuple(_channel_name(stream.next(), stream.source) for _ in range(int(count.word)))
        if sorted(c for c in channels if c.endswith("rotation")) not in ([], ["Xrotation", "Yrotation", "Zrotation"]):
            raise MocapFileError(stream.source, count_token.line,
                                 f"joint {name!r}: rotation channels {channels} must name X, Y and Z once each")
    bvh.channels.append(channels)
    _parse_children(stream, bvh, index, warnings)


def _parse_children(stream: _Stream, bvh: Bvh, index: int, warnings: list[str]) -> None:
    while (token := stream.next()).word != "}":
        word = token.word.upper()
        if word == "JOINT":
            _parse_joint(stream, bvh, index, warnings)
        elif word == "END":
            stream.next("Site")
            stream.next("{")
            stream.next("OFFSET")
            bvh.end_sites[index] = np.array([stream.number() for _ in range(3)])
            stream.next("}")
        else:
            raise MocapFileError(stream.source, token.line,
                                 f"unexpected {token.word!r} inside joint {bvh.names[index]!r}")


def _motion_header(lines: list[tuple[int, str]], source: str) -> tuple[int, float, int]:
    """(declared frames, frame time, index of the first frame line) from the lines after MOTION."""
    values = {}
    for position, (number, line) in enumerate(lines[:2]):
        key, _, value = line.partition(":")
        key = " ".join(key.split()).lower()
        if key not in ("frames", "frame time"):
            raise MocapFileError(source, number, f"expected 'Frames:' and 'Frame Time:', found {line.strip()!r}")
        try:
            values[key] = float(value)
        except ValueError:
            raise MocapFileError(source, number, f"{key.title()}: {value.strip()!r} is not a number") from None
    if len(values) < 2:
        raise MocapFileError(source, lines[-1][0] if lines else 0, "the MOTION section lacks Frames: or Frame Time:")
    if not values["frame time"] > 0:
        raise MocapFileError(source, lines[1][0], f"Frame Time {values['frame time']} must be positive "
                             f"(pass --fps_in to set the frame rate)")
    return int(values["frames"]), values["frame time"], 2


def _motion_rows(lines: list[tuple[int, str]], width: int, source: str) -> np.ndarray:
    words = [line.split() for _, line in lines]
    for row, ((number, _), values) in enumerate(zip(lines, words)):
        if len(values) != width:
            raise MocapFileError(source, number, f"frame {row + 1} has {len(values)} values; "
                                 f"the hierarchy's channels need {width}")
    try:
        rows = np.array(words, dtype=np.float64).reshape(len(lines), width)    # numpy parses the strings
    except ValueError:
        row, bad = next((r, w) for r, values in enumerate(words) for w in values if not _is_number(w))
        raise MocapFileError(source, lines[row][0], f"frame {row + 1}: {bad!r} is not a number") from None
    finite = np.isfinite(rows).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise MocapFileError(source, lines[row][0], f"frame {row + 1} holds NaN or inf")
    return rows


def _is_number(word: str) -> bool:
    try:
        float(word)
        return True
    except ValueError:
        return False


def parse_bvh_text(text: str, source: str = "<bvh text>") -> BvhFile:
    """Parse BVH text; a problem raises `MocapFileError` with `source`, the line and the reason."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines or lines[0][1].split()[0].upper() != "HIERARCHY":
        raise MocapFileError(source, lines[0][0] if lines else 0, "not a BVH file (it must start with HIERARCHY)")
    motion_at = next((k for k, (_, line) in enumerate(lines) if line.split()[0].upper() == "MOTION"), None)
    if motion_at is None:
        raise MocapFileError(source, lines[-1][0], "no MOTION section")
    warnings: list[str] = []
    stream = _Stream(_hierarchy_tokens(lines[1:motion_at]), source, last_line=lines[motion_at][0])
    bvh = Bvh([], [], np.zeros((0, 3)), [], {}, 0.0, np.zeros((0, 0)))
    stream.next("ROOT")
    _parse_joint(stream, bvh, -1, warnings)
    if stream.at < len(stream.tokens):
        extra = stream.tokens[stream.at]
        raise MocapFileError(source, extra.line, f"unexpected {extra.word!r} after the root joint's closing brace "
                             f"(one skeleton per file is supported)")
    declared, bvh.frame_time, first = _motion_header(lines[motion_at + 1:], source)
    frame_lines = lines[motion_at + 1 + first:]
    if not frame_lines:
        raise MocapFileError(source, lines[-1][0], "the MOTION section holds no frames")
    if declared != len(frame_lines):
        warnings.append(f"declares {declared} frames but holds {len(frame_lines)}; using {len(frame_lines)}")
    bvh.motion = _motion_rows(frame_lines, sum(len(c) for c in bvh.channels), source)
    return BvhFile(bvh, warnings)


def read_bvh_file(path) -> BvhFile:
    """Parse a .bvh file (any line endings, a byte-order mark; bytes that are not UTF-8 are replaced)."""
    path = Path(path)
    if not path.is_file():
        raise MocapFileError(str(path), 0, "file not found")
    return parse_bvh_text(path.read_text(encoding="utf-8-sig", errors="replace"), source=str(path))
