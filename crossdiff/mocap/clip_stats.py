"""Figures a user can sanity-check an imported clip by: height, walking speed, foot-contact ratio.

A height far from 1.5-1.9 m means wrong units (`--scale`); a walking speed above ~2 m/s in a walk
means a wrong frame rate (`--fps_in`) or units; a contact ratio near 0 in a walk means the feet
slide or the frame rate is off; near 1 in a run, likewise.
"""

from __future__ import annotations

import numpy as np

from crossdiff.mocap.units import stature
from crossdiff.skeleton import SKELETONS

T2M = SKELETONS["t2m"]


def clip_stats(joints: np.ndarray, features: np.ndarray | None = None) -> dict:
    """joints [T, 22, 3] (metres, y up, 20 fps, before retargeting); features [T-1, 263] of the clip.

    height: stature from the bone lengths (m); walking_speed: the pelvis' horizontal path length over
    the duration (m/s); foot_contact: share of frames where a foot joint is in contact, read from the
    features' contact columns (what the model learns).
    """
    seconds = (len(joints) - 1) / T2M.fps
    steps = np.linalg.norm(np.diff(joints[:, 0, [0, 2]], axis=0), axis=-1)
    stats = {"seconds": round(seconds, 2), "height": round(stature(joints), 3),
             "walking_speed": round(float(steps.sum() / max(seconds, 1e-9)), 3)}
    if features is not None:
        stats["foot_contact"] = round(float((features[:, -4:] > 0.5).any(axis=1).mean()), 3)
    return stats


def stats_line(name: str, stats: dict) -> str:
    contact = f", foot contact {stats['foot_contact']:.0%}" if "foot_contact" in stats else ""
    return (f"{name}: {stats['seconds']:.1f} s, height {stats['height']:.2f} m, "
            f"walking speed {stats['walking_speed']:.2f} m/s{contact}")
