"""Write HumanML3D text files (`caption#word/POS ...#from#to`) for a custom dataset's captions.

    python prepare/texts.py --captions CAPTIONS --out DATA_ROOT/texts [--spacy_model en_core_web_sm]

CAPTIONS is a folder of `<id>.txt` files (or one such file), one caption per line, optionally
followed by `#from#to` in seconds for a caption of a segment (`0.0#0.0` or nothing = the whole
clip). Lines already in the HumanML3D form `caption#tokens#from#to` are re-tokenised. Blank lines
are skipped. Captions are tokenised the HumanML3D way (crossdiff.data.words.caption_to_tokens)
with a spaCy English pipeline, which must be installed (`python -m spacy download en_core_web_sm`).

Files written:
    OUT/<id>.txt    one line `caption#word/POS ...#from#to` per caption of CAPTIONS/<id>.txt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.data.words import caption_to_tokens, format_text_line, load_spacy_pipeline
from crossdiff.errors import EXIT_USER_ERROR, UserError
from crossdiff.io import save_text


def caption_files(captions) -> list[Path]:
    """The `<id>.txt` files to convert: `captions` itself, or every `*.txt` in that folder."""
    captions = Path(captions)
    if captions.is_file():
        return [captions]
    if not captions.is_dir():
        raise UserError(f"--captions {captions}: no such file or folder")
    files = sorted(captions.glob("*.txt"))
    if not files:
        raise UserError(f"--captions {captions}: the folder holds no <id>.txt caption files")
    return files


def _seconds(value: str, where: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise UserError(f"{where}: from/to must be seconds, got {value!r}") from None


def parse_caption_line(line: str, where: str) -> tuple[str, float, float]:
    """'caption', 'caption#from#to' or 'caption#tokens#from#to' -> (caption, from, to)."""
    fields = line.strip().split("#")
    if len(fields) == 1:
        return fields[0].strip(), 0.0, 0.0
    if len(fields) in (3, 4) and fields[0].strip():
        return fields[0].strip(), _seconds(fields[-2], where), _seconds(fields[-1], where)
    raise UserError(f"{where}: expected 'caption' or 'caption#from#to', got {line.strip()!r}")


def convert_file(path: Path, nlp) -> str:
    """The HumanML3D text of one caption file."""
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            caption, start, end = parse_caption_line(line, f"{path}:{number}")
            lines.append(format_text_line(caption, caption_to_tokens(caption, nlp), start, end))
    if not lines:
        raise UserError(f"{path}: no captions (the file is empty)")
    return "\n".join(lines) + "\n"


def main(captions, out, spacy_model: str = "en_core_web_sm", nlp=None, progress: bool = True) -> list[Path]:
    """Convert every caption file; returns the written paths. `nlp` replaces the spaCy pipeline (tests)."""
    files = caption_files(captions)
    nlp = nlp if nlp is not None else load_spacy_pipeline(spacy_model)
    out = Path(out)
    written = []
    for path in tqdm(files, desc="tokenising captions", unit="file", disable=not progress):
        target = out / f"{path.stem}.txt"
        save_text(target, convert_file(path, nlp))
        written.append(target)
    return written


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captions", required=True, help="folder of <id>.txt caption files, or one such file")
    parser.add_argument("--out", required=True, help="output folder, normally DATA_ROOT/texts")
    parser.add_argument("--spacy_model", default="en_core_web_sm", help="spaCy English pipeline (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        written = main(args.captions, args.out, args.spacy_model)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(f"wrote {len(written)} text file(s) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
