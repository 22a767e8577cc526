"""The import graph follows DESIGN.md's layers: a module imports only lower layers or its own package."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "crossdiff"

# Longest matching prefix wins. Same-package imports are always allowed.
LAYERS = {
    "crossdiff": 0, "crossdiff.errors": 0, "crossdiff.io": 0.25, "crossdiff.runtime": 0.5, "crossdiff.config": 0.5,
    "crossdiff.modes": 0.5,
    "crossdiff.skeleton": 1, "crossdiff.geometry": 1,
    "crossdiff.motion": 2,
    "crossdiff.data": 3, "crossdiff.synthetic": 3, "crossdiff.keypoints": 3.5, "crossdiff.mocap": 3.5, "crossdiff.text_encoder": 3, "crossdiff.model": 3, "crossdiff.diffusion": 3,
    "crossdiff.evaluation.evaluator": 3, "crossdiff.evaluation.metrics": 3, "crossdiff.body": 3,
    "crossdiff.render": 3, "crossdiff.export_bvh": 3, "crossdiff.weights": 3.5,
    "crossdiff.training": 4, "crossdiff.inference": 4, "crossdiff.generation": 4, "crossdiff.evaluation": 4,
    "crossdiff.webapp": 5,
}
# Pairs that must never import each other, whatever their layers (DESIGN.md).
FORBIDDEN = [("crossdiff.model", "crossdiff.diffusion"), ("crossdiff.diffusion", "crossdiff.model"),
             ("crossdiff.model", "crossdiff.data"), ("crossdiff.diffusion", "crossdiff.data")]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(name: str) -> tuple[str, int]:
    matches = [p for p in LAYERS if name == p or name.startswith(p + ".")]
    assert matches, f"{name} has no layer in tests/test_layers.py; add it"
    best = max(matches, key=len)
    return best, LAYERS[best]


def package_of(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2])


def crossdiff_imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("crossdiff"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("crossdiff") and node.level == 0:
            yield node.module


def test_import_layers():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if name.startswith("crossdiff.render.blender_scene"):
            continue  # checked separately: runs inside Blender
        _, own = layer_of(name)
        for imported in crossdiff_imports(path):
            if package_of(imported) == package_of(name) and package_of(name) != "crossdiff":
                continue
            _, theirs = layer_of(imported)
            if theirs >= own and imported != "crossdiff":
                problems.append(f"{name} (layer {own}) imports {imported} (layer {theirs})")
            for a, b in FORBIDDEN:
                if (name == a or name.startswith(a + ".")) and (imported == b or imported.startswith(b + ".")):
                    problems.append(f"{name} must not import {imported}")
    assert not problems, "\n".join(problems)


# Data preparation packages: they write folders that the rest only reads (issue 20).
PREPARATION_ONLY = ("crossdiff.synthetic", "crossdiff.keypoints", "crossdiff.mocap")
NEVER_PREPARE = ["crossdiff.training", "crossdiff.training.trainer", "crossdiff.evaluation.protocol",
                 "crossdiff.evaluation.training", "crossdiff.inference", "crossdiff.generation", "crossdiff.data.registry",
                 "crossdiff.webapp.server"]


def test_training_evaluation_and_inference_never_import_data_preparation():
    code = ("import sys\n"
            f"for name in {NEVER_PREPARE!r}: __import__(name)\n"
            f"print(sorted(m for m in sys.modules if m.startswith({PREPARATION_ONLY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"imported transitively: {out.strip()}"


def test_blender_scene_needs_only_stdlib_numpy_bpy():
    path = PACKAGE / "render" / "blender_scene.py"
    if not path.exists():
        return
    allowed = {"bpy", "mathutils", "numpy"} | set(sys.stdlib_module_names)
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        for n in names:
            assert n.split(".")[0] in allowed, f"blender_scene.py imports {n}"


def test_import_crossdiff_has_no_side_effects():
    code = "import sys, crossdiff; print(sorted(m for m in sys.modules if m.startswith(('torch', 'numpy', 'crossdiff.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
