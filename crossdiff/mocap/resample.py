"""Any frame rate to 20 fps without drift.

Frame k of the output is taken at exactly k / 20 s, i.e. at source frame k * fps_in / 20, computed
from k (never by adding up a rounded step), between the two source frames around it (linear).
Files write the frame time rounded (`0.008333` for 120 fps, `0.0417083` for 23.976 fps), which
over a minute of motion drifts by frames; a rate within 0.05 % of a standard one (24000/1001,
24, 25, 30000/1001, 30, 50, 60, 120, ...) is taken as that rate. `--fps_in` overrides the file.
"""

from __future__ import annotations

import numpy as np

from crossdiff.errors import UserError
from crossdiff.skeleton import SKELETONS

STANDARD_RATES = (12.5, 15.0, 20.0, 24000 / 1001, 24.0, 25.0, 30000 / 1001, 30.0, 48.0, 50.0, 60000 / 1001, 60.0,
                  72.0, 90.0, 100.0, 119.88, 120.0, 240.0, 250.0, 480.0)
SNAP_TOLERANCE = 5e-4


def source_fps(frame_time: float, fps_in: float | None = None) -> float:
    """The source frame rate: `fps_in` when given, else 1 / frame_time snapped to a standard rate."""
    if fps_in is not None:
        if not fps_in > 0:
            raise UserError(f"--fps_in {fps_in}: must be a positive number")
        return float(fps_in)
    fps = 1.0 / frame_time
    nearest = min(STANDARD_RATES, key=lambda rate: abs(rate - fps))
    return nearest if abs(nearest - fps) <= SNAP_TOLERANCE * nearest else fps


def resample(positions: np.ndarray, fps_in: float, fps_out: float = SKELETONS["t2m"].fps) -> np.ndarray:
    """[T, ...] samples at `fps_in` -> [T', ...] at `fps_out`, T' = floor(duration * fps_out) + 1."""
    frames = len(positions)
    duration = (frames - 1) / fps_in
    count = int(np.floor(duration * fps_out + 1e-9)) + 1
    where = np.arange(count) * (fps_in / fps_out)                  # source frame of each output frame
    below = np.minimum(np.floor(where + 1e-9).astype(int), frames - 1)
    above = np.minimum(below + 1, frames - 1)
    weight = np.clip(where - below, 0.0, 1.0).reshape((-1,) + (1,) * (positions.ndim - 1))
    return (1.0 - weight) * positions[below] + weight * positions[above]
