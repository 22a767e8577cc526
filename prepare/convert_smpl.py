"""Convert an official SMPL model pickle into a chumpy-free `.npz` (done once; loading is then faster
and needs neither chumpy nor unpickling).

    python prepare/convert_smpl.py --pkl data/body_models/smpl/SMPL_NEUTRAL.pkl [--out PATH]

Files written:
    <out> (default: the .pkl path with .npz)   v_template [V,3], shapedirs [V,3,B], posedirs [V,3,207],
                                               J_regressor [24,V] (dense), kintree_table [2,24],
                                               weights [V,24], f [F,3], model_name (e.g. "SMPL_NEUTRAL")
The pickle is read with a restricted unpickler that allows only numpy, chumpy and scipy.sparse classes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crossdiff.body.body_model import read_model_arrays  # noqa: E402
from crossdiff.errors import EXIT_USER_ERROR, UserError  # noqa: E402
from crossdiff.io import save_npz  # noqa: E402


def main(pkl: str | Path, out: str | Path | None = None) -> Path:
    """Read `pkl` (checked for the SMPL layout) and write its arrays to `out`; returns `out`."""
    pkl = Path(pkl)
    if pkl.suffix != ".pkl":
        raise UserError(f"--pkl {pkl}: expected the official SMPL .pkl file")
    out = Path(out) if out else pkl.with_suffix(".npz")
    save_npz(out, **read_model_arrays(pkl))
    return out


def cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pkl", required=True, help="official SMPL model, e.g. SMPL_NEUTRAL.pkl")
    parser.add_argument("--out", help="output .npz (default: beside the .pkl)")
    args = parser.parse_args(argv)
    try:
        print(f"wrote {main(args.pkl, args.out)}")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(cli())
