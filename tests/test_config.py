"""crossdiff.config: merging, struct mode, closest-key errors, unqualified overrides."""

import pytest
from omegaconf import DictConfig, OmegaConf

from crossdiff.config import BASE_CONFIG, CONFIG_DIR, load_config, stage_parent, to_yaml
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


def _write(folder, name: str, text: str):
    (folder / name).write_text(text)
    return folder / name


def test_extends_merges_base_then_parent_then_child_then_cli(tmp_path):
    _write(tmp_path, "grand.yaml", "NAME: grand\ntrain:\n  lr: 0.5\n  batch_size: 3\nmodel:\n  layers: 1\n")
    _write(tmp_path, "parent.yaml", "extends: grand.yaml\nNAME: parent\ntrain:\n  lr: 0.25\n")
    child = _write(tmp_path, "child.yaml", "extends: parent.yaml\ntrain:\n  batch_size: 5\n")
    cfg = load_config(child, ["model.layers=2"])
    assert (cfg.NAME, cfg.train.lr, cfg.train.batch_size, cfg.model.layers) == ("parent", 0.25, 5, 2)
    assert cfg.train.num_epochs == load_config().train.num_epochs
    assert "extends" not in cfg and "extends" not in to_yaml(cfg)


def test_extends_path_is_relative_to_the_extending_file(tmp_path, monkeypatch):
    (tmp_path / "stages").mkdir()
    _write(tmp_path / "stages", "parent.yaml", "NAME: from_parent\n")
    child = _write(tmp_path / "stages", "child.yaml", "extends: parent.yaml\n")
    monkeypatch.chdir(tmp_path)
    assert load_config("stages/child.yaml").NAME == "from_parent" and load_config(child).NAME == "from_parent"


def test_extends_cycle_missing_parent_and_bad_value_are_user_errors(tmp_path):
    _write(tmp_path, "a.yaml", "extends: b.yaml\n")
    _write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(UserError, match=r"cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_config(tmp_path / "a.yaml")
    with pytest.raises(UserError, match="cycle"):
        load_config(_write(tmp_path, "self.yaml", "extends: self.yaml\n"))
    orphan = _write(tmp_path, "orphan.yaml", "extends: gone.yaml\nNAME: x\n")
    with pytest.raises(UserError, match=r"orphan\.yaml: 'extends: gone\.yaml' names a file that does not exist"):
        load_config(orphan)
    with pytest.raises(UserError, match="must name a config file"):
        load_config(_write(tmp_path, "bad.yaml", "extends: [a.yaml]\n"))
    with pytest.raises(UserError, match="unknown config key 'extends'"):
        load_config(overrides=["extends=a.yaml"])


def test_unknown_key_in_a_parent_names_the_parent(tmp_path):
    _write(tmp_path, "parent.yaml", "train:\n  lrr: 0.1\n")
    child = _write(tmp_path, "child.yaml", "extends: parent.yaml\n")
    with pytest.raises(UserError, match=r"parent\.yaml: unknown config key 'train\.lrr'"):
        load_config(child)


STAGES = sorted(p for p in CONFIG_DIR.glob("*.yaml") if p != BASE_CONFIG)


def _leaves(cfg, prefix=""):
    for key, value in cfg.items_ex(resolve=False):
        if isinstance(value, DictConfig):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize("stage", STAGES, ids=lambda p: p.name)
def test_stage_files_state_only_what_differs(stage):
    """Each key of a stage file changes the value it would otherwise inherit (from base.yaml or its parent)."""
    parent = stage_parent(stage)
    inherited = load_config(parent)
    raw = OmegaConf.load(stage)
    raw.pop("extends", None)
    same = [key for key, value in _leaves(raw) if OmegaConf.select(inherited, key) == value]
    assert not same, f"{stage.name} restates inherited values: {same}"


def test_demo_stages_share_the_model_data_and_text_encoder():
    pre, finetune = (load_config(CONFIG_DIR / f"demo_{stage}.yaml") for stage in ("pre", "finetune"))
    for section in ("model", "data", "text_encoder"):
        assert pre[section] == finetune[section], section
    assert (pre.model.latent_dim, pre.model.max_frames, pre.text_encoder.clip_weights) == (64, 64, "random")
    changed = {key for key, value in _leaves(finetune.train) if pre.train[key] != value}
    assert changed == {"mode", "lr", "max_steps", "save_interval", "resume_checkpoint"}
    evaluator = load_config(CONFIG_DIR / "demo_evaluator.yaml")
    assert evaluator.data == pre.data and evaluator.model.max_frames == pre.model.max_frames


def test_pretrained_stages_share_the_model_and_data_and_match_the_evaluator():
    pre, fine = (load_config(CONFIG_DIR / f"pretrained_synthetic{suffix}.yaml") for suffix in ("_pre", ""))
    for section in ("model", "data", "text_encoder"):
        assert pre[section] == fine[section], section
    assert (pre.train.mode, fine.train.mode, fine.train.resume_checkpoint) == ("pretrain", "finetune",
                                                                             "save/pretrained_synthetic_pre")
    assert fine.train.ema_decay > 0 and fine.diffusion.sampler == "ddim"
    evaluator = load_config(CONFIG_DIR / "pretrained_evaluator.yaml")
    assert evaluator.data == fine.data and evaluator.model.max_frames == fine.model.max_frames


def test_crossdiff_pre_is_base_with_its_name():
    pre, base = load_config(CONFIG_DIR / "crossdiff_pre.yaml"), load_config()
    assert pre.NAME == "crossdiff_pre"
    assert {k: v for k, v in pre.items() if k != "NAME"} == {k: v for k, v in base.items() if k != "NAME"}
