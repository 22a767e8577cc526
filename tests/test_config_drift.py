"""One home per default: every library default that restates a configs/base.yaml value equals it.

Builders keep keyword defaults so that tests, benchmarks and library users can call them without a
config (`CrossDiff()`, `build_diffusion()`); each such default restates base.yaml. `RECEIVERS` lists
every signature that receives config keys, and the first test compares each of their defaults with
base.yaml, section by section. The scan test makes the list complete: a defaulted parameter anywhere
in the library named like a config key must be a registered receiver of that key, or be listed in
`NOT_CONFIG` with the reason it is a different setting that shares the name.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from crossdiff.data.humanml3d import HumanML3DDataset
from crossdiff.data.inthewild import InTheWildDataset
from crossdiff.data.registry import DATA_KEYS, build_dataset
from crossdiff.diffusion import build_diffusion
from crossdiff.evaluation.evaluator import T2MEvaluator, eval_feature_index, evaluator_file
from crossdiff.evaluation.metrics import diversity, matching_score, r_precision
from crossdiff.evaluation.protocol import Protocol, ProtocolSettings, sampler_generate
from crossdiff.evaluation.report import build_report, save_report
from crossdiff.evaluation.training import EvaluatorTrainingSettings
from crossdiff.inference import MotionSampler
from crossdiff.model import build_model
from crossdiff.model.crossdiff import CrossDiff
from crossdiff.model.mdm import MDM
from crossdiff.text_encoder import build_text_encoder
from crossdiff.training.losses import Objective
from crossdiff.training.trainer import TrainSettings
import fit_smpl  # an entry script at the repository root

REPO = Path(__file__).resolve().parents[1]
BASE = OmegaConf.to_container(OmegaConf.load(REPO / "configs" / "base.yaml"), resolve=False)
SECTIONS = ("model", "diffusion", "text_encoder", "data", "train", "test", "evaluator", "generate", "app")

# Signature -> the base.yaml keys it receives ("section" stands for every key of the section).
RECEIVERS = {
    CrossDiff.__init__: ["model"],
    MDM.__init__: ["model"],
    build_model: ["model"],
    build_diffusion: ["diffusion"],
    build_text_encoder: ["text_encoder"],
    build_dataset: ["data", "model.max_frames"],
    HumanML3DDataset.__init__: ["data", "model.max_frames"],
    InTheWildDataset.__init__: ["data", "model.max_frames"],
    TrainSettings: ["train"],
    Objective.__init__: ["train.mode", "train.w_m2j", "train.w_j2m", "train.w_velocity"],
    ProtocolSettings: ["test"],
    Protocol: ["test.split", "test.evaluator_dir"],
    sampler_generate: ["test.path", "test.change_idx"],
    diversity: ["test.diversity_times"],
    r_precision: ["test.batch_size"],
    matching_score: ["test.batch_size"],
    build_report: ["test.tag"],
    save_report: ["test.tag"],
    MotionSampler.sample: ["generate.path", "generate.change_idx", "test.path", "test.change_idx"],
    EvaluatorTrainingSettings: ["evaluator"],
    T2MEvaluator.__init__: ["evaluator.part", "test.eval_part"],
    T2MEvaluator.load: ["evaluator.part", "test.eval_part"],
    evaluator_file: ["evaluator.part", "test.eval_part"],
    eval_feature_index: ["evaluator.part", "test.eval_part"],
    fit_smpl.main: ["app.body_folder"],  # fit_smpl.py's own flag, the same folder as the web demo's
}

# (module:qualname, parameter) -> why its default is not the config key of the same name.
NOT_CONFIG = {
    ("crossdiff.data.humanml3d:HumanML3DDataset.__init__", "glove_dir"):
        "None: train items need no word vectors (evaluation items raise a UserError naming data.glove_dir)",
    ("crossdiff.data.humanml3d:HumanML3DDataset.__init__", "split"): "a dataset split, not test.split",
    ("crossdiff.text_encoder:TextEncoder.__init__", "cache_dir"):
        "the class below the builder: None means no disk cache; build_text_encoder always passes one",
    ("crossdiff.text_encoder:TextEncoder.__init__", "batch_size"): "captions per CLIP forward pass",
    ("crossdiff.inference:MotionSampler.sample", "captions"): "this call's captions, or text_emb instead",
    ("crossdiff.keypoints.processing:KeypointSettings", "max_frames"):
        "prepare/ucf101.py's clip cut (its own command-line default), not the model's frame count",
    ("crossdiff.render.blender_scene:RenderOptions", "mode"): "render_blender.py's video | sequence | frame",
    ("crossdiff.mocap.asf_amc:Bone", "length"): "a bone's length in an ASF skeleton, not generate.length",
    ("crossdiff.evaluation.protocol:Protocol", "data_root"): "the folder evaluated, copied into the results (None: not said)",
}
# Parameter names that are a common word of the library more than a config key.
COMMON_WORDS = {"progress", "device", "seed", "path"}


def _keys(spec: str) -> list[str]:
    if "." in spec:
        return [spec]
    return [f"{spec}.{leaf}" for leaf in BASE[spec]]


def _base_value(key: str):
    section, leaf = key.split(".")
    return BASE[section][leaf]


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _defaults(receiver) -> dict:
    return {name: p.default for name, p in inspect.signature(receiver).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _name(receiver) -> str:
    return f"{receiver.__module__}:{receiver.__qualname__}"


@pytest.mark.parametrize("receiver", list(RECEIVERS), ids=_name)
def test_every_default_of_a_receiver_equals_base_yaml(receiver):
    keys = [key for spec in RECEIVERS[receiver] for key in _keys(spec)]
    parameters = inspect.signature(receiver).parameters
    assert any(key.split(".")[1] in parameters for key in keys), f"{_name(receiver)} receives none of {keys}"
    defaults = _defaults(receiver)
    drift = {key: (defaults[key.split(".")[1]], _base_value(key)) for key in keys
             if key.split(".")[1] in defaults and (_name(receiver), key.split(".")[1]) not in NOT_CONFIG
             and _plain(defaults[key.split(".")[1]]) != _base_value(key)}
    assert not drift, f"{_name(receiver)}: signature default != configs/base.yaml (key: (python, yaml)): {drift}"


def test_section_builders_take_exactly_their_section():
    """The builders that receive a whole section by keyword name each of its keys, and nothing else."""
    assert set(inspect.signature(build_model).parameters) == set(BASE["model"])
    assert set(inspect.signature(build_diffusion).parameters) == set(BASE["diffusion"])
    assert set(BASE["text_encoder"]) <= set(inspect.signature(build_text_encoder).parameters)
    assert {"dataset", *DATA_KEYS} == set(BASE["data"])
    assert set(inspect.signature(EvaluatorTrainingSettings).parameters) == {*BASE["evaluator"], "seed"}
    assert set(inspect.signature(TrainSettings).parameters) <= {*BASE["train"], "seed"}
    assert set(inspect.signature(ProtocolSettings).parameters) <= {*BASE["test"], "seed"}
    for model in (CrossDiff, MDM):
        assert set(inspect.signature(model.__init__).parameters) - {"self"} == set(BASE["model"]) - {"model_type"}


def _library_defaults():
    """(module:qualname, parameter) of every defaulted parameter and dataclass field of the library."""
    files = sorted((REPO / "crossdiff").rglob("*.py")) + sorted(REPO.glob("*.py"))
    for path in files:
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        yield from _defaults_in(ast.parse(path.read_text()), module, "")


def _defaults_in(node, module: str, prefix: str):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            name = f"{prefix}{child.name}"
            for field in child.body:
                if isinstance(field, ast.AnnAssign) and field.value is not None and isinstance(field.target, ast.Name):
                    yield f"{module}:{name}", field.target.id
            yield from _defaults_in(child, module, f"{name}.")
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = child.args
            positional = args.posonlyargs + args.args
            defaulted = positional[len(positional) - len(args.defaults):]
            defaulted += [a for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            for arg in defaulted:
                yield f"{module}:{prefix}{child.name}", arg.arg
            yield from _defaults_in(child, module, f"{prefix}{child.name}.<locals>.")


def test_no_unregistered_default_restates_a_config_key():
    config_words = {leaf for section in SECTIONS for leaf in BASE[section]} - COMMON_WORDS
    registered = {(_name(r), key.split(".")[1]) for r, specs in RECEIVERS.items() for s in specs for key in _keys(s)}
    found = [(where, name) for where, name in _library_defaults() if name in config_words]
    seen_by_inspect = {(_name(r), name) for r in RECEIVERS for name in _defaults(r) if name in config_words}
    assert seen_by_inspect <= set(found), "the scan misses defaults that inspect sees"
    unregistered = [f"{where}({name}=...)" for where, name in found
                    if (where, name) not in registered and (where, name) not in NOT_CONFIG]
    assert set(NOT_CONFIG) <= set(found), f"stale NOT_CONFIG entries: {set(NOT_CONFIG) - set(found)}"
    assert not unregistered, ("defaults named like a config key: register them in RECEIVERS (the test then "
                              f"compares them with base.yaml) or explain them in NOT_CONFIG: {unregistered}")
