"""The samples of a demo session and their downloads, written on first request.

Files of sample `ID` in its job folder:
    ID.npy        joints [L, 22, 3] float32, metres, y up (written when it is generated)
    ID.bvh        BVH animation (crossdiff/motion/bvh.py)
    ID.mp4        stick-figure video (crossdiff/render/stick.py)
    ID_mesh.npy   fitted body vertices [L, V, 3] float32 and ID_smpl.npz (after "Fit body")
A `.obj` download is one frame of the fitted mesh, made in memory.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crossdiff.errors import UserError

SAMPLE_ID = re.compile(r"^j\d+-\d+$")
DOWNLOADS = {  # kind -> (suffix of the file, content type)
    "npy": (".npy", "application/octet-stream"),
    "bvh": (".bvh", "text/plain; charset=utf-8"),
    "mp4": (".mp4", "video/mp4"),
    "mesh.npy": ("_mesh.npy", "application/octet-stream"),
    "obj": (".obj", "text/plain; charset=utf-8"),
}


class NotFound(Exception):
    """No such sample (or its mesh before a fit)."""


@dataclass
class Sample:
    id: str
    caption: str
    seed: int
    path: str
    guidance: float
    joints: np.ndarray            # [L, 22, 3] metres
    fps: float                    # its skeleton's frame rate
    folder: Path
    body: str | None = None       # the fitted body's name, None before "Fit body"
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def file(self, suffix: str) -> Path:
        return self.folder / f"{self.id}{suffix}"

    def to_json(self) -> dict:
        """What the page needs to play the sample and offer its downloads."""
        kinds = [k for k in DOWNLOADS if self.body is not None or not k.startswith(("mesh", "obj"))]
        return {"id": self.id, "caption": self.caption, "seed": self.seed, "path": self.path,
                "guidance": self.guidance, "frames": len(self.joints), "fps": self.fps, "body": self.body,
                "joints": np.round(self.joints, 4).tolist(),
                "downloads": {k: f"/api/samples/{self.id}/download/{k}" for k in kinds}}


class SampleStore:
    """Samples by id (thread-safe) and the files behind their downloads."""

    def __init__(self):
        self._samples: dict[str, Sample] = {}
        self._lock = threading.Lock()

    def add(self, sample: Sample) -> None:
        with self._lock:
            self._samples[sample.id] = sample

    def get(self, sample_id: str) -> Sample:
        with self._lock:
            sample = self._samples.get(sample_id) if SAMPLE_ID.match(sample_id) else None
        if sample is None:
            raise NotFound(f"no sample {sample_id!r} in this session (the server keeps the samples of its own run)")
        return sample

    def download(self, sample_id: str, kind: str, frame: str | None = None) -> tuple[bytes, str, str]:
        """(content, content type, file name) of one download of a sample."""
        sample = self.get(sample_id)
        if kind not in DOWNLOADS:
            raise NotFound(f"unknown download {kind!r}; one of {', '.join(DOWNLOADS)}")
        suffix, content_type = DOWNLOADS[kind]
        if kind in ("mesh.npy", "obj") and sample.body is None:
            raise NotFound(f"sample {sample_id} has no body yet: press \"Fit body\" first")
        with sample.lock:  # two clicks on a slow download make the file once
            if kind == "obj":
                return obj_of_frame(sample, frame), content_type, f"{sample.id}_frame{_frame(sample, frame)}.obj"
            path = sample.file(suffix)
            if not path.is_file():
                _write(sample, kind, path)
        return path.read_bytes(), content_type, path.name

    def mesh_faces(self, sample_id: str) -> dict:
        """The fitted body's triangles for the viewer (its vertices come from the mesh.npy download)."""
        sample = self.get(sample_id)
        if sample.body is None:
            raise NotFound(f"sample {sample_id} has no body yet: press \"Fit body\" first")
        faces = np.load(sample.file("_smpl.npz"))["faces"]
        return {"faces": faces.reshape(-1).tolist(), "body": sample.body,
                "vertices": f"/api/samples/{sample.id}/download/mesh.npy"}


def _write(sample: Sample, kind: str, path: Path) -> None:
    if kind == "bvh":
        from crossdiff.motion.bvh import write_bvh

        write_bvh(path, sample.joints, fps=sample.fps)
    elif kind == "mp4":
        from crossdiff.render.stick import render_3d

        seconds = len(sample.joints) / sample.fps
        render_3d(sample.joints, path, title=f"{sample.caption} ({seconds:.1f} s)", fps=sample.fps)
    else:  # the joints and the mesh are written when they are made
        raise NotFound(f"{path.name} is missing from {sample.folder}")


def _frame(sample: Sample, frame: str | None) -> int:
    if frame is None:
        return 0
    if not frame.isdigit() or int(frame) >= len(sample.joints):
        raise UserError(f"frame must be a whole number from 0 to {len(sample.joints) - 1}, got {frame!r}")
    return int(frame)


def obj_of_frame(sample: Sample, frame: str | None) -> bytes:
    from crossdiff.body.outputs import obj_text

    vertices = np.load(sample.file("_mesh.npy"), mmap_mode="r")[_frame(sample, frame)]
    faces = np.load(sample.file("_smpl.npz"))["faces"]
    return obj_text(np.asarray(vertices), faces).encode()
