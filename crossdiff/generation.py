"""generate.py's work: requests from the config, batched sampling, and the files of every sample.

Per sample `i` in the output folder (J = 22 joints for HumanML3D, 21 for KIT-ML):
    i.npy            joints [L, J, 3] float32, y up, the skeleton's units (what fit_smpl.py reads)
    i_features.npy   raw 263-d (KIT: 251-d) features [L, C] float32
    i.mp4 / i.gif    3D stick figure titled with the caption          (generate.video)
    i_2d.npy, i_2d.mp4  the 2D sample of the "2d" path, as 2D joints [L, J, 2]
    i.bvh            BVH animation                                     (generate.bvh)
and for the whole run `index.json` (caption, length, seed, files of every sample) and `index.html`.
Lengths in seconds, video and BVH frame rates use the skeleton's frame rate (20 fps HumanML3D, 12.5 KIT-ML).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from tqdm import tqdm

from crossdiff.errors import UserError
from crossdiff.io import save_json, save_npy, save_text
from crossdiff.skeleton import Skeleton


@dataclass(frozen=True)
class Request:
    caption: str
    length: int        # frames
    repeat: int        # 0 .. sample_times-1


def _frames(value, unit: str, max_frames: int, fps: float, where: str) -> int:
    if unit not in ("frames", "seconds"):
        raise UserError(f"generate.length_unit must be frames or seconds, got {unit!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: length {value!r} is not a number") from None
    frames = round(number * fps) if unit == "seconds" else number
    if frames != int(frames) or not 1 <= frames <= max_frames:
        raise UserError(f"{where}: length {value} {unit} must be a whole number of frames from 1 to {max_frames} "
                        f"({max_frames / fps:.1f} s at {fps:g} fps)")
    return int(frames)


def _captions_from_file(path: str, unit: str, max_frames: int, fps: float) -> list[tuple[str, int | None]]:
    file = Path(path)
    if not file.is_file():
        raise UserError(f"generate.captions_file {file} not found")
    items = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        caption, _, length = line.partition("|")
        where = f"{file}:{number}"
        frames = _frames(length.strip(), unit, max_frames, fps, where) if length.strip() else None
        items.append((caption.strip(), frames))
        if not items[-1][0]:
            raise UserError(f"{where}: empty caption before '|'")
    if not items:
        raise UserError(f"generate.captions_file {file} holds no captions")
    return items


def requests_from_config(gen, max_frames: int, fps: float) -> list[Request]:
    """The samples to make: captions (list or file) × sample_times, each with its length in frames
    (lengths in seconds are converted at `fps`, the skeleton's frame rate)."""
    if gen.captions_file:
        items = _captions_from_file(gen.captions_file, gen.length_unit, max_frames, fps)
    else:
        items = [(str(c).strip(), None) for c in (gen.captions or [])]
    if not items:
        raise UserError("no captions: set generate.captions=[...] or generate.captions_file=FILE")
    for index, (caption, _) in enumerate(items):
        if not caption:
            raise UserError(f"generate.captions[{index}] is empty; give every caption some words")
    default = _frames(gen.length, gen.length_unit, max_frames, fps, "generate.length") if gen.length else max_frames
    if gen.sample_times < 1:
        raise UserError(f"generate.sample_times must be at least 1, got {gen.sample_times}")
    return [Request(caption, length or default, repeat)
            for caption, length in items for repeat in range(gen.sample_times)]


def run_generation(sampler, requests: Sequence[Request], out_dir: Path, gen, seed: int, guidance_scale: float,
                   progress: bool = True, on_step=None) -> list[dict]:
    """Sample every request in batches and write its files; returns the index entries.

    on_step(step_index, total_steps): the diffusion steps of each batch in turn (MotionSampler.sample).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    skeleton = sampler.skeleton
    entries = []
    batches = math.ceil(len(requests) / gen.batch_size)
    for b in tqdm(range(batches), desc="generate", disable=not progress, dynamic_ncols=True):
        chunk = requests[b * gen.batch_size:(b + 1) * gen.batch_size]
        batch_seed = seed + b
        generator = torch.Generator(device=sampler.device).manual_seed(batch_seed)
        out = sampler.sample([r.caption for r in chunk], path=gen.path, change_idx=gen.change_idx,
                             generator=generator, progress=progress and batches == 1, on_step=on_step)
        lengths = [r.length for r in chunk]
        clips = sampler.to_joints(out["motion"], lengths)
        clips_2d = sampler.to_joints_2d(out["motion2d"], lengths) if out["motion2d"] is not None else None
        for j, (request, (features, joints)) in enumerate(zip(chunk, clips)):
            index = len(entries)
            files = write_sample(out_dir, index, request, features, joints, clips_2d[j] if clips_2d else None, gen,
                                 skeleton)
            entries.append({"index": index, "caption": request.caption, "length": request.length,
                            "seconds": request.length / skeleton.fps, "repeat": request.repeat, "seed": batch_seed,
                            "batch": b, "position_in_batch": j, "path": gen.path,
                            "guidance_scale": guidance_scale, "files": files})
    return entries


def write_sample(out_dir: Path, index: int, request: Request, features, joints, joints_2d, gen,
                 skeleton: Skeleton) -> dict:
    """Write one sample's files (videos and BVH at `skeleton.fps`); returns {kind: file name}."""
    fps = skeleton.fps
    files = {"joints": f"{index}.npy", "features": f"{index}_features.npy"}
    save_npy(out_dir / files["joints"], joints)
    save_npy(out_dir / files["features"], features)
    title = f"{request.caption} ({request.length / fps:.1f} s)"
    if gen.video:
        from crossdiff.render.stick import render_3d

        files["video"] = f"{index}.{gen.video_format}"
        render_3d(joints, out_dir / files["video"], title=title, fps=fps)
    if joints_2d is not None:
        files["joints_2d"] = f"{index}_2d.npy"
        save_npy(out_dir / files["joints_2d"], joints_2d)
        if gen.video:
            from crossdiff.render.stick import render_2d

            files["video_2d"] = f"{index}_2d.{gen.video_format}"
            render_2d(joints_2d, out_dir / files["video_2d"], title=f"2D: {title}", fps=fps)
    if gen.bvh:
        from crossdiff.motion.bvh import write_bvh

        files["bvh"] = f"{index}.bvh"
        write_bvh(out_dir / files["bvh"], joints, fps=fps, skeleton=skeleton)
    return files


def write_index(out_dir: Path, entries: list[dict], info: dict) -> None:
    """`index.json` (machine-readable) and `index.html` (a gallery to open in a browser)."""
    save_json(out_dir / "index.json", {**info, "samples": entries})
    cards = []
    for e in entries:
        media = e["files"].get("video")
        if media and media.endswith(".mp4"):
            view = f'<video src="{media}" controls loop muted width="320"></video>'
        elif media:
            view = f'<img src="{media}" width="320">'
        else:
            view = ""
        links = " · ".join(f'<a href="{name}">{kind}</a>' for kind, name in e["files"].items())
        cards.append(f'<figure>{view}<figcaption><b>{e["index"]}</b>: {html.escape(e["caption"])} '
                     f'({e["seconds"]:.1f} s, seed {e["seed"]})<br>{links}</figcaption></figure>')
    title = html.escape(f"CrossDiff samples: {info.get('checkpoint', '')}")
    page = ("<!doctype html><meta charset='utf-8'><title>CrossDiff samples</title>"
            "<style>body{font-family:sans-serif}figure{display:inline-block;margin:8px;width:330px;"
            "vertical-align:top}</style>"
            f"<h1>{title}</h1>\n" + "\n".join(cards) + "\n")
    save_text(out_dir / "index.html", page)
