"""Model weights from checkpoint files: ours (training checkpoints) or official bare state_dicts.

Shared by training (start weights, resume), inference and evaluation. A training checkpoint is
the dict described in `crossdiff.training.checkpoint` (format `crossdiff-train-1`); an official
CrossDiff checkpoint is a bare state_dict (docs/original_code.md §5.5). `load_model_weights` accepts both,
strictly, and `export_state_dict` turns ours back into the official layout.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch

from crossdiff.errors import UserError
from crossdiff.io import torch_load, torch_save

FORMAT = "crossdiff-train-1"
_STEP_FILE = re.compile(r"^step(\d+)\.pt$")


def find_latest(checkpoint_dir: str | Path) -> Path | None:
    """The newest checkpoint (largest step) in `checkpoint_dir`; others ignored (docs/original_code.md §13.14)."""
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.match(p.name))]
    return max(found)[1] if found else None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file as given, or the newest checkpoint of a run directory / checkpoints folder."""
    path = Path(path)
    if path.is_file():
        return path
    for folder in (path / "checkpoints", path):
        latest = find_latest(folder)
        if latest is not None:
            return latest
    raise UserError(f"no checkpoint found at {path} (give a .pt file, a run directory such as save/NAME, "
                    "or its checkpoints/ folder)")


def state_dict_of(ckpt, path, prefer_ema: bool = False) -> dict:
    """The model weights inside `ckpt`: ours (EMA when asked and present) or an official bare state_dict."""
    if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT:
        if prefer_ema and ckpt.get("ema") is not None:
            return ckpt["ema"]
        return ckpt["model"]
    if isinstance(ckpt, dict) and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return {k.removeprefix("module."): v for k, v in ckpt.items()}
    raise UserError(f"{path}: neither a CrossDiff training checkpoint nor a plain state_dict")


def load_model_weights(model: torch.nn.Module, path, prefer_ema: bool = False) -> dict:
    """Strictly load weights from `path` into `model`; a different architecture is a UserError.

    Returns the raw checkpoint object (callers may read its step or config).
    """
    ckpt = torch_load(path)
    load_strict(model, state_dict_of(ckpt, path, prefer_ema), path)
    return ckpt


def load_strict(model: torch.nn.Module, state: dict, path) -> None:
    """`model.load_state_dict(state, strict=True)` with a message that says what differs and what to check."""
    ours = model.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    wrong = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
             for k, v in ours.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        detail = "; ".join(filter(None, [
            f"{len(missing)} missing keys (e.g. {missing[0]})" if missing else "",
            f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})" if unexpected else "",
            f"{len(wrong)} shape mismatches (e.g. {wrong[0]})" if wrong else "",
        ]))
        raise UserError(f"{path}: checkpoint does not match the configured model ({detail}); check the model "
                        "section of your config (model_type, latent_dim, layers, layers2, max_frames, feature widths)")
    model.load_state_dict(state, strict=True)


def export_state_dict(checkpoint, out_path, prefer_ema: bool = True) -> Path:
    """Write the weights of a training checkpoint as a bare state_dict in the official layout."""
    ckpt = torch_load(checkpoint)
    state = state_dict_of(ckpt, checkpoint, prefer_ema)
    torch_save(out_path, {k: v.detach().clone().contiguous() for k, v in state.items()})
    return Path(out_path)


def build_model_from(model_kwargs: dict, weights: str | Path | None = None, prefer_ema: bool = False, log=None):
    """The network of the config's `model:` section, optionally loaded strictly from a checkpoint or run dir."""
    from crossdiff.model import build_model

    model = build_model(**model_kwargs)
    if weights:
        path = resolve_checkpoint(weights)
        load_model_weights(model, path, prefer_ema=prefer_ema)
        if log is not None:
            log.info(f"loaded weights from {path}{' (EMA when present)' if prefer_ema else ''}")
    return model


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> None:
    """A UserError unless the file's sha256 is `expected` (a shipped file that was changed or cut short)."""
    found = sha256_of(path)
    if found != expected.lower():
        raise UserError(f"{path}: sha256 {found} differs from the recorded {expected}; the file is damaged or "
                        f"was replaced: restore it (git checkout -- {path}) or pass test_checkpoint=PATH")
