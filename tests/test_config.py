"""crossdiff.config: merging, struct mode, closest-key errors, unqualified overrides."""

import pytest

from crossdiff.config import BASE_CONFIG, load_config, to_yaml
from crossdiff.errors import UserError


def test_base_loads_with_defaults():
    cfg = load_config()
    assert cfg.model.latent_dim == 512
    assert cfg.train.mode == "pretrain"


def test_override_qualified_and_unqualified():
    cfg = load_config(overrides=["train.lr=3e-5", "num_epochs=8", "NAME=abc"])
    assert cfg.train.lr == pytest.approx(3e-5)
    assert cfg.train.num_epochs == 8
    assert cfg.NAME == "abc"


def test_ambiguous_bare_key_names_every_section():
    with pytest.raises(UserError, match="train.batch_size.*generate.batch_size|ambiguous"):
        load_config(overrides=["batch_size=8"])


def test_a_number_key_accepts_its_word():
    assert load_config(overrides=["test.test_limit=full"]).test.test_limit == "full"
    with pytest.raises(UserError, match="expects a number"):
        load_config(overrides=["test.test_limit=all"])


def test_misspelt_override_names_closest_key():
    with pytest.raises(UserError, match="batch_size"):
        load_config(overrides=["bach_size=8"])


def test_misspelt_stage_key_names_closest_key(tmp_path):
    stage = tmp_path / "stage.yaml"
    stage.write_text("train:\n  lrr: 0.1\n")
    with pytest.raises(UserError, match="train.lr"):
        load_config(stage)


def test_stage_file_overrides_and_cli_wins(tmp_path):
    stage = tmp_path / "stage.yaml"
    stage.write_text("NAME: staged\ntrain:\n  lr: 0.5\n")
    cfg = load_config(stage, ["lr=0.25"])
    assert cfg.NAME == "staged" and cfg.train.lr == 0.25


def test_missing_stage_file_is_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_wrong_type_override_rejected():
    with pytest.raises(UserError, match="batch_size"):
        load_config(overrides=["batch_size=abc"])


def test_override_without_equals_rejected():
    with pytest.raises(UserError, match="key=value"):
        load_config(overrides=["batch_size"])


def test_config_is_read_only():
    cfg = load_config()
    with pytest.raises(Exception):
        cfg.train.lr = 1.0


def test_every_base_key_has_a_comment():
    for number, line in enumerate(BASE_CONFIG.read_text().splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not stripped.endswith(":"):
            assert "#" in line, f"base.yaml line {number} has no comment: {line!r}"


def test_stage_configs_load():
    from crossdiff.config import CONFIG_DIR

    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        assert "NAME" in to_yaml(load_config(path if path.name != "base.yaml" else None))
