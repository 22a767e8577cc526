"""File I/O that cannot leave half-written files or execute code from downloaded pickles.

- `atomic_path` / `save_npy` / `save_json` / `save_text` / `torch_save`: write to a temp file in
  the target folder, then `os.replace`, so a crash never leaves a truncated output.
- `torch_load`: always `weights_only=True` (tensors, dicts, lists, numbers only).
- `restricted_pickle_load`: unpickles only the classes a given file type needs (GloVe word
  lists, SMPL model files, evaluator side files); anything else is refused with a `UserError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from crossdiff.errors import UserError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it atomically replaces `path`.

    `suffix` defaults to the target's own suffix, so writers that append one (np.save) behave.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix if suffix is not None else path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_npy(path, array) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, np.asarray(array))


def save_npz(path, **arrays) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def save_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_json(path, obj, indent: int = 2) -> None:
    save_text(path, json.dumps(obj, indent=indent) + "\n")


def save_pickle(path, obj) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            pickle.dump(obj, f)


def torch_save(path, obj) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def torch_load(path, map_location="cpu"):
    """Load a checkpoint with `weights_only=True`; a gzip file (e.g. `finest.tar.gz`) is accepted."""
    import gzip
    import io

    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint file not found: {path}")
    with open(path, "rb") as f:
        head = f.read(2)
    try:
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                return torch.load(io.BytesIO(f.read()), map_location=map_location, weights_only=True)
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise UserError(f"{path}: refused to load (only tensors and plain containers are allowed): {e}") from e
    except (RuntimeError, EOFError) as e:
        raise UserError(f"{path}: not a readable PyTorch checkpoint ({e})") from e


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, allowed: set[tuple[str, str]], source: str):
        super().__init__(file, encoding="latin1")
        self._allowed = allowed
        self._source = source

    def find_class(self, module: str, name: str):
        if (module, name) in self._allowed or (module, "*") in self._allowed:
            return super().find_class(module, name)
        raise UserError(
            f"{self._source}: refusing to unpickle {module}.{name}; this file type may only contain "
            f"{sorted(f'{m}.{n}' for m, n in self._allowed) or 'plain Python data'}"
        )


# Classes numpy arrays need to unpickle (pickles of ndarrays written by numpy 1.x or 2.x).
NUMPY_CLASSES = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


def restricted_pickle_load(path, allowed: Iterable[tuple[str, str]] = ()):
    """Unpickle `path` allowing only plain Python data plus the `(module, name)` pairs in `allowed`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    with open(path, "rb") as f:
        try:
            return _RestrictedUnpickler(f, set(allowed), str(path)).load()
        except UserError:
            raise
        except Exception as e:  # truncated or foreign files
            raise UserError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from e
