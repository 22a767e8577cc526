"""The Blender scene: runs inside Blender 3.4+ / 4.x (or the `bpy` wheel); stdlib + numpy + bpy only.

`render(sequence, track, options)` builds a scene (white world, a floor, a soft sun plus a fill
light, a camera that frames and follows the body) and renders the geometry prepared by
`crossdiff.render.blender_inputs` (a `_mesh.npy` or a joints stick figure, already in Blender's axes):
- video: every frame to PNGs in a temporary folder, encoded to `.mp4` (an ffmpeg binary when one
  is given or on PATH, else Blender's own FFMPEG writer), then the folder is removed;
- sequence: one image with 8 evenly spaced frames, light to dark;
- frame: one image of one frame.
API differences between Blender versions (engine names, denoiser availability) are probed, not
assumed from version numbers. Inputs are validated before this module runs (render_blender.py), so
nothing here imports from crossdiff.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector


BODY_COLOUR = (0.15, 0.42, 0.85)           # a saturated blue: easy to tell from the grey floor
FLOOR_COLOUR = (0.3, 0.3, 0.3)
SEQUENCE_FRAMES = 8


@dataclass
class RenderOptions:
    out: Path                              # .mp4 (video) or .png (sequence, frame), absolute
    fps: float                             # video frame rate: the motion's (HumanML3D 20)
    mode: str = "video"                    # video | sequence | frame
    resolution: tuple[int, int] = (1280, 1024)
    samples: int = 64
    engine: str = "CYCLES"                 # CYCLES | EEVEE
    device: str = "CPU"                    # CPU | GPU (Cycles)
    lens_mm: float = 50.0                  # must match the field of view the camera track was made for
    frame: int = 0                         # the frame drawn in 'frame' mode (checked by the caller)
    ffmpeg: str | None = None              # ffmpeg binary for 'video' (None: PATH, else Blender's writer)
    keep_frames: bool = False              # keep the PNG frames of a video in <stem>_frames/


def _clear_scene() -> bpy.types.Scene:
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.lights, bpy.data.cameras):
        for block in list(collection):
            collection.remove(block)
    return bpy.context.scene


def _set_engine(scene, options: RenderOptions) -> None:
    """Cycles (CPU or GPU) or EEVEE; EEVEE's identifier changed in 4.2 and changed back in 5.0."""
    if options.engine == "EEVEE":
        for name in ("BLENDER_EEVEE", "BLENDER_EEVEE_NEXT"):
            try:
                scene.render.engine = name
                break
            except TypeError:
                continue
        scene.eevee.taa_render_samples = options.samples
        return
    scene.render.engine = "CYCLES"
    scene.cycles.samples = options.samples
    scene.cycles.use_denoising = "OPENIMAGEDENOISE" in scene.cycles.bl_rna.properties["denoiser"].enum_items.keys()
    scene.cycles.device = "GPU" if options.device == "GPU" and _enable_gpu() else "CPU"


def _enable_gpu() -> bool:
    """Turn on every GPU Cycles can use; False (render on CPU) when there is none."""
    prefs = bpy.context.preferences.addons["cycles"].preferences
    for backend in ("OPTIX", "CUDA", "HIP", "METAL", "ONEAPI"):
        try:
            prefs.compute_device_type = backend
        except TypeError:
            continue
        prefs.get_devices()
        gpus = [d for d in prefs.devices if d.type != "CPU"]
        if gpus:
            for d in prefs.devices:
                d.use = d.type != "CPU"
            return True
    print("render_blender: no GPU available to Cycles, rendering on the CPU")
    return False


def _setup_render(scene, options: RenderOptions) -> None:
    _set_engine(scene, options)
    scene.render.resolution_x, scene.render.resolution_y = options.resolution
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.use_file_extension = False            # write exactly the path given
    scene.render.fps = round(options.fps)
    scene.render.fps_base = round(options.fps) / options.fps    # Blender's rate is fps / fps_base
    scene.view_settings.view_transform = "Standard"     # white stays white (Filmic/AgX grey it)
    world = bpy.data.worlds.get("World") or bpy.data.worlds.new("World")
    scene.world = world
    world.use_nodes = True
    background = world.node_tree.nodes["Background"]
    background.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    background.inputs["Strength"].default_value = 1.0


def _material(name: str, colour, roughness: float) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    bsdf = material.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    return material


def _mesh_object(name: str, vertices: np.ndarray, faces: np.ndarray, material) -> bpy.types.Object:
    """A smooth-shaded mesh object from vertices [V, 3] and faces [F, 3]."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(vertices.tolist(), [], faces.tolist())
    mesh.polygons.foreach_set("use_smooth", [True] * len(mesh.polygons))
    mesh.materials.append(material)
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _set_vertices(obj, vertices: np.ndarray) -> None:
    obj.data.vertices.foreach_set("co", vertices.astype(np.float32).ravel())
    obj.data.update()


def _add_floor(sequence) -> None:
    low, high = sequence.vertices.min((0, 1)), sequence.vertices.max((0, 1))
    centre, half = (low + high) / 2, (high - low) / 2 + 20.0       # reaches the horizon
    corners = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]]) * [half[0], half[1], 0] + [centre[0], centre[1], 0]
    _mesh_object("floor", corners, np.array([[0, 1, 2], [0, 2, 3]]), _material("floor", FLOOR_COLOUR, 0.9))


def _add_lights() -> None:
    """A sun with a wide angle (soft shadows) from the front-left and a dimmer fill from behind."""
    for name, energy, angle, rotation in (("key", 2.5, 12.0, (40.0, 0.0, -30.0)), ("fill", 0.8, 30.0, (60.0, 0.0, 150.0))):
        light = bpy.data.lights.new(name, type="SUN")
        light.energy = energy
        light.angle = math.radians(angle)
        obj = bpy.data.objects.new(name, light)
        obj.rotation_euler = [math.radians(a) for a in rotation]
        bpy.context.scene.collection.objects.link(obj)


def _add_camera(scene, lens_mm: float) -> bpy.types.Object:
    camera = bpy.data.cameras.new("camera")
    camera.lens = lens_mm
    camera.sensor_width = 36.0
    camera.sensor_fit = "AUTO"
    obj = bpy.data.objects.new("camera", camera)
    scene.collection.objects.link(obj)
    scene.camera = obj
    return obj


def _aim(camera, track, frame: int) -> None:
    """Place the camera `track.distance` along `track.direction` from `track.targets[frame]`, looking at it."""
    target = Vector(track.targets[frame].tolist())
    camera.location = target + Vector((track.direction * track.distance).tolist())
    camera.rotation_euler = (target - camera.location).to_track_quat("-Z", "Y").to_euler()


def _render_still(scene, path: Path) -> None:
    """Render the current frame to `path` (through a temporary name, so no half-written file)."""
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    scene.render.filepath = str(tmp)
    bpy.ops.render.render(write_still=True)
    os.replace(tmp, path)


def _encode_with_ffmpeg(ffmpeg: str, frames_dir: Path, out: Path, fps: float) -> None:
    """H.264 mp4 at `fps` from frame_%04d.png (yuv420p needs even sizes, hence the pad)."""
    command = [ffmpeg, "-y", "-loglevel", "error", "-framerate", f"{fps:g}", "-i", str(frames_dir / "frame_%04d.png"),
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to encode {out}: {result.stderr.strip()[-500:]}")


def _encode_with_blender(frames: list[Path], out: Path, fps: float) -> None:
    """Encode PNG frames with Blender's built-in FFMPEG writer through a sequencer-only scene."""
    scene = bpy.data.scenes.new("encode")
    editor = scene.sequence_editor_create()
    strips = getattr(editor, "strips", None) or editor.sequences     # renamed in Blender 4.4
    strip = strips.new_image("frames", str(frames[0]), channel=1, frame_start=1)
    for frame in frames[1:]:
        strip.elements.append(frame.name)
    first = bpy.context.scene.render
    scene.render.resolution_x, scene.render.resolution_y = first.resolution_x, first.resolution_y
    scene.render.resolution_percentage = 100
    scene.render.fps, scene.render.fps_base = round(fps), round(fps) / fps
    scene.frame_start, scene.frame_end = 1, len(frames)
    scene.render.image_settings.file_format = "FFMPEG"
    scene.render.ffmpeg.format = "MPEG4"
    scene.render.ffmpeg.codec = "H264"
    scene.render.ffmpeg.constant_rate_factor = "HIGH"
    scene.render.filepath = str(out)
    scene.render.use_file_extension = False
    bpy.ops.render.render(animation=True, scene=scene.name)
    bpy.data.scenes.remove(scene)


def _render_video(scene, body, sequence, camera, track, options: RenderOptions, out: Path) -> None:
    """Frames into a temporary folder beside `out`, then the mp4; the folder is removed afterwards."""
    frames_dir = Path(tempfile.mkdtemp(prefix=f".{out.stem}_frames_", dir=out.parent))
    try:
        frames = []
        for index, vertices in enumerate(sequence.vertices):
            _set_vertices(body, vertices)
            _aim(camera, track, index)
            frames.append(frames_dir / f"frame_{index:04d}.png")
            _render_still(scene, frames[-1])
        tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
        ffmpeg = options.ffmpeg or shutil.which("ffmpeg")
        if ffmpeg:
            _encode_with_ffmpeg(ffmpeg, frames_dir, tmp, options.fps)
        else:
            _encode_with_blender(frames, tmp, options.fps)
        os.replace(tmp, out)
        if options.keep_frames:
            kept = out.with_name(out.stem.removesuffix("_blender") + "_frames")
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(frames_dir, kept)
    finally:
        shutil.rmtree(frames_dir, ignore_errors=True)


def _render_sequence(scene, sequence, camera, track, out: Path) -> None:
    """Eight evenly spaced frames in one image, from light (early) to dark (late)."""
    picks = np.linspace(0, len(sequence.vertices) - 1, min(SEQUENCE_FRAMES, len(sequence.vertices))).round().astype(int)
    for order, index in enumerate(picks):
        shade = 1.4 - 0.8 * order / max(1, len(picks) - 1)
        colour = tuple(min(1.0, c * shade) for c in BODY_COLOUR)
        _mesh_object(f"body_{index}", sequence.vertices[index], sequence.faces, _material(f"body_{index}", colour, 0.5))
    _aim(camera, track, 0)
    _render_still(scene, out)


def render(sequence, track, options: RenderOptions) -> Path:
    """Render `sequence` (.vertices [T, V, 3] Blender axes, .faces [F, 3], .kind) as `options.mode`.

    `track` (.targets [T, 3], .direction [3], .distance) places the camera: following the body for
    video and frame, one fixed view of all frames for sequence. Returns `options.out`.
    """
    out = options.out
    out.parent.mkdir(parents=True, exist_ok=True)
    scene = _clear_scene()
    _setup_render(scene, options)
    _add_floor(sequence)
    _add_lights()
    camera = _add_camera(scene, options.lens_mm)
    print(f"render_blender: {sequence.kind} with {sequence.vertices.shape[1]} vertices, "
          f"{len(sequence.vertices)} frames, {options.mode} -> {out}")
    if options.mode == "sequence":
        _render_sequence(scene, sequence, camera, track, out)
        return out
    body = _mesh_object("body", sequence.vertices[0], sequence.faces, _material("body", BODY_COLOUR, 0.5))
    if options.mode == "frame":
        _set_vertices(body, sequence.vertices[options.frame])
        _aim(camera, track, options.frame)
        _render_still(scene, out)
        return out
    _render_video(scene, body, sequence, camera, track, options, out)
    return out
