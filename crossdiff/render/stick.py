"""Stick-figure renderings of joint sequences: 3D and 2D videos (mp4 or GIF) and contact sheets.

Drawing uses matplotlib's object API on an Agg canvas (no pyplot, no global backend change), so it
works headless and in worker processes. mp4 files are encoded by the ffmpeg binary shipped with
imageio-ffmpeg (H.264, yuv420p, one video frame per motion frame); a `.gif` path gives a GIF.

Coordinates: motions are metres, y up (HumanML3D). The 3D view maps (x, y, z) to matplotlib's
(x, -z, y), a proper rotation, so left and right are never mirrored on screen. Chain colours:
right side warm (red leg, orange arm), left side cool (blue leg, cyan arm), spine dark grey.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from crossdiff.errors import UserError
from crossdiff.io import atomic_path
from crossdiff.skeleton import SKELETONS

# Colours by chain position; the T2M and KIT chain lists share the order
# (right leg, left leg, spine, right arm, left arm).
CHAIN_COLOURS = ("#d62728", "#1f77b4", "#333333", "#ff7f0e", "#17becf")
DPI = 100
HUMAN_HEIGHT_M = 1.7                 # for the floor grid's unit (grid_spacing)


def _chains(chains, joints_count: int) -> list[list[int]]:
    if chains is not None:
        return [list(c) for c in chains]
    for skeleton in SKELETONS.values():
        if len(skeleton.parents) == joints_count:
            return [list(c) for c in skeleton.chains]
    raise UserError(f"no built-in skeleton has {joints_count} joints; pass chains=[[...], ...]")


def _fps(fps: float | None, joints_count: int) -> float:
    """`fps`, or the frame rate of the built-in skeleton with that many joints (T2M 20, KIT-ML 12.5)."""
    if fps is not None:
        return fps
    for skeleton in SKELETONS.values():
        if skeleton.joints_num == joints_count:
            return skeleton.fps
    raise UserError(f"no built-in skeleton has {joints_count} joints; pass fps=...")


def _check_motion(joints: np.ndarray, dims: int, what: str) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[-1] != dims or len(joints) == 0:
        raise UserError(f"{what}: expected joints [T, J, {dims}] with T >= 1, got shape {tuple(joints.shape)}")
    if not np.isfinite(joints).all():
        raise UserError(f"{what}: joints contain NaN or inf values")
    return joints


def _to_plot(points: np.ndarray) -> np.ndarray:
    """(x, y up, z) -> matplotlib 3D (x, -z, y)."""
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], -1)


def _new_canvas(size: tuple[int, int]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    for side in size:
        if side % 16:
            raise UserError(f"video size {size}: width and height must be multiples of 16 (H.264)")
    fig = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)
    return fig, FigureCanvasAgg(fig)


def _grab(canvas) -> np.ndarray:
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])


def write_video(frames: Iterable[np.ndarray], path, fps: float) -> Path:
    """Encode RGB uint8 frames [H, W, 3] to `path` (.mp4 via imageio-ffmpeg, .gif via Pillow), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise UserError(f"{path}: video files must end in .mp4 or .gif")
    with atomic_path(path) as tmp:
        if suffix == ".gif":
            from PIL import Image

            images = [Image.fromarray(f) for f in frames]
            images[0].save(tmp, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
        else:
            import imageio_ffmpeg

            writer = None
            for frame in frames:
                if writer is None:
                    writer = imageio_ffmpeg.write_frames(
                        str(tmp), (frame.shape[1], frame.shape[0]), fps=fps, codec="libx264",
                        pix_fmt_out="yuv420p", macro_block_size=16, quality=6,
                        output_params=["-loglevel", "error"])
                    writer.send(None)
                writer.send(frame)
            writer.close()
    return path


def _wrap(title: str, width_px: int, font_px: float = 9.0) -> str:
    return "\n".join(textwrap.wrap(title, max(20, int(width_px / font_px)))) if title else ""


def grid_spacing(joints: np.ndarray) -> float:
    """Half a metre in the motion's own unit: 0.5 for metres, 500 for KIT-ML's millimetres, judged from the
    body's height (a standing human is 1.4-2 m tall in any unit's power of ten)."""
    height = float(np.ptp(joints[..., 1], axis=-1).max()) if joints.size else 0.0
    return 0.5 * 10.0 ** round(np.log10(height / HUMAN_HEIGHT_M)) if height > 0 else 0.5


def _floor_grid(ax, centre_xz: np.ndarray, radius: float, spacing: float):
    """Grid lines on y = 0 around centre, snapped to world multiples of `spacing` (they stay put in the world)."""
    lines = []
    lo = np.floor((centre_xz - radius) / spacing) * spacing
    hi = np.ceil((centre_xz + radius) / spacing) * spacing
    for x in np.arange(lo[0], hi[0] + 1e-9, spacing):
        lines.append(np.array([[x, 0, lo[1]], [x, 0, hi[1]]]))
    for z in np.arange(lo[1], hi[1] + 1e-9, spacing):
        lines.append(np.array([[lo[0], 0, z], [hi[0], 0, z]]))
    return [ax.plot(*_to_plot(seg).T, color="#bbbbbb", linewidth=0.6)[0] for seg in lines]


class _Stick3D:
    """One 3D axes with a stick figure, a floor grid and the root trajectory; `show(t)` poses frame t."""

    def __init__(self, ax, joints, chains, fixed_camera: bool, trajectory: bool, floor: bool,
                 elev: float, azim: float, radius: float | None = None):
        self.ax, self.joints, self.floor = ax, joints, floor
        extent = np.ptp(joints.reshape(-1, 3), axis=0)
        self.radius = radius or max(1.0, 0.6 * float(max(extent[1], 1.0)))
        if fixed_camera:
            lo, hi = joints[..., [0, 2]].reshape(-1, 2).min(0), joints[..., [0, 2]].reshape(-1, 2).max(0)
            self.radius = max(self.radius, 0.55 * float((hi - lo).max()))
            self.fixed_centre = (lo + hi) / 2
        else:
            self.fixed_centre = None
        ax.view_init(elev=elev, azim=azim)
        ax.set_box_aspect((1, 1, 1), zoom=1.35)
        ax.set_axis_off()
        colours = [CHAIN_COLOURS[i % len(CHAIN_COLOURS)] for i in range(len(chains))]
        self.chains = chains
        self.lines = [ax.plot([], [], [], color=c, linewidth=2.5, solid_capstyle="round")[0] for c in colours]
        self.path = ax.plot([], [], [], color="#2ca02c", linewidth=1.2)[0] if trajectory else None
        self.grid: list = []
        self.spacing = grid_spacing(joints)

    def show(self, t: int) -> None:
        pose = _to_plot(self.joints[t])
        for line, chain in zip(self.lines, self.chains):
            line.set_data_3d(pose[chain, 0], pose[chain, 1], pose[chain, 2])
        if self.path is not None:
            root = self.joints[: t + 1, 0].copy()
            root[:, 1] = 0.0
            self.path.set_data_3d(*_to_plot(root).T)
        centre = self.fixed_centre if self.fixed_centre is not None else self.joints[t, 0, [0, 2]]
        r = self.radius
        if self.floor:
            for line in self.grid:
                line.remove()
            self.grid = _floor_grid(self.ax, centre, r, self.spacing)
        self.ax.set_xlim(centre[0] - r, centre[0] + r)
        self.ax.set_ylim(-centre[1] - r, -centre[1] + r)
        self.ax.set_zlim(0.0, 2 * r)


def render_3d(joints, path, title: str = "", fps: float | None = None, chains: Sequence[Sequence[int]] | None = None,
              fixed_camera: bool = False, trajectory: bool = True, floor: bool = True,
              size: tuple[int, int] = (480, 480), elev: float = 20.0, azim: float = -60.0) -> Path:
    """Animate joints [T, J, 3] (metres, y up) as a 3D stick figure; one video frame per motion frame.

    `fixed_camera` frames the whole motion once; otherwise the camera follows the root. `fps` None:
    the skeleton's frame rate. Returns the written path (.mp4 or .gif).
    """
    joints = _check_motion(joints, 3, str(path))
    fig, canvas = _new_canvas(size)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.86 if title else 1.0), projection="3d")
    stick = _Stick3D(ax, joints, _chains(chains, joints.shape[1]), fixed_camera, trajectory, floor, elev, azim)
    if title:
        fig.suptitle(_wrap(title, size[0]), fontsize=10, y=0.985, va="top")

    def frames():
        for t in range(len(joints)):
            stick.show(t)
            yield _grab(canvas)

    return write_video(frames(), path, _fps(fps, joints.shape[1]))


def render_2d(joints2d, path, title: str = "", fps: float | None = None, chains: Sequence[Sequence[int]] | None = None,
              fixed_camera: bool = True, trajectory: bool = True, size: tuple[int, int] = (480, 480)) -> Path:
    """Animate 2D joints [T, J, 2] (image-plane units, y up) as a stick figure; one video frame per motion frame
    (`fps` None: the skeleton's frame rate)."""
    joints2d = _check_motion(joints2d, 2, str(path))
    chains = _chains(chains, joints2d.shape[1])
    fig, canvas = _new_canvas(size)
    ax = fig.add_axes((0.05, 0.03, 0.9, 0.82 if title else 0.94))
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        fig.suptitle(_wrap(title, size[0]), fontsize=10, y=0.985, va="top")
    lo, hi = joints2d.reshape(-1, 2).min(0), joints2d.reshape(-1, 2).max(0)
    half = 0.55 * max(float((hi - lo).max()), 1e-3)
    height = 0.6 * max(float(np.ptp(joints2d[0, :, 1])), 1e-3)
    ax.axhline(float(lo[1]), color="#bbbbbb", linewidth=0.8)
    lines = [ax.plot([], [], color=CHAIN_COLOURS[i % 5], linewidth=2.5)[0] for i in range(len(chains))]
    path_line = ax.plot([], [], color="#2ca02c", linewidth=1.0)[0] if trajectory else None

    def frames():
        for t in range(len(joints2d)):
            for line, chain in zip(lines, chains):
                line.set_data(joints2d[t, chain, 0], joints2d[t, chain, 1])
            if path_line is not None:
                path_line.set_data(joints2d[: t + 1, 0, 0], joints2d[: t + 1, 0, 1])
            centre = (lo + hi) / 2 if fixed_camera else joints2d[t, 0]
            r = half if fixed_camera else height
            ax.set_xlim(centre[0] - r, centre[0] + r)
            ax.set_ylim(centre[1] - r, centre[1] + r)
            yield _grab(canvas)

    return write_video(frames(), path, _fps(fps, joints2d.shape[1]))


def contact_sheet(clips: Sequence[tuple[np.ndarray, str]], path, columns: int = 6,
                  chains: Sequence[Sequence[int]] | None = None, panel_px: int = 160, fps: float | None = None) -> Path:
    """A PNG grid: one row per (joints [T, J, 3], caption), `columns` evenly spaced frames per row.

    Each panel follows the root; the trajectory so far is drawn on the floor. Panels are labelled with
    their time at `fps` (None: the skeleton's frame rate).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not clips:
        raise UserError("contact_sheet: no clips given")
    rows = len(clips)
    caption_px = 34
    fig = Figure(figsize=(columns * panel_px / DPI, rows * (panel_px + caption_px) / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    row_h = 1.0 / rows
    for r, (joints, caption) in enumerate(clips):
        joints = _check_motion(joints, 3, f"contact_sheet clip {r}")
        top = 1.0 - r * row_h
        fig.text(0.005, top - 0.004, _wrap(caption, columns * panel_px, 6.5), fontsize=8, va="top", ha="left")
        panel_h = row_h * panel_px / (panel_px + caption_px)
        for c, t in enumerate(np.linspace(0, len(joints) - 1, columns).round().astype(int)):
            ax = fig.add_axes((c / columns, top - row_h, 1.0 / columns, panel_h), projection="3d")
            stick = _Stick3D(ax, joints, _chains(chains, joints.shape[1]), False, True, True, 15.0, -60.0,
                             radius=1.0)
            stick.show(int(t))
            seconds = t / _fps(fps, joints.shape[1])
            ax.text2D(0.02, 0.9, f"{seconds:.1f}s", transform=ax.transAxes, fontsize=6, color="#555555")
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)
