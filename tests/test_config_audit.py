"""configs/ audit: every key of base.yaml is read by the code, every stage file only overrides known keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf

REPO = Path(__file__).resolve().parents[1]
SOURCES = [p for p in REPO.glob("*.py")] + list((REPO / "crossdiff").rglob("*.py")) + list((REPO / "prepare").glob("*.py"))


def _leaves(cfg: DictConfig, prefix: str = ""):
    for key, value in cfg.items_ex(resolve=False):
        if isinstance(value, DictConfig):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_every_base_key_has_a_comment():
    lines = (REPO / "configs" / "base.yaml").read_text().splitlines()
    bare = [line for line in lines if re.match(r"^\s*[A-Za-z_]\w*:\s*\S", line) and "#" not in line]
    assert not bare, f"keys without a one-line comment: {bare}"


def test_every_base_key_is_read_by_the_code():
    code = "\n".join(p.read_text() for p in SOURCES)
    base = OmegaConf.load(REPO / "configs" / "base.yaml")
    unused = [key for key in _leaves(base) if not re.search(rf"\b{re.escape(key.split('.')[-1])}\b", code)]
    assert not unused, f"base.yaml keys no code reads: {unused}"


@pytest.mark.parametrize("stage", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_stage_files_load(stage):
    from crossdiff.config import load_config

    load_config(None if stage.name == "base.yaml" else stage)
