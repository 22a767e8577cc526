"""CrossDiff: official key layout and counts, golden case 3 outputs (atol/rtol 1e-4,
golden README §3, §10), the fused four-path pass, condition dropout, input checks and the model registry."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from crossdiff.errors import UserError
from crossdiff.model import CrossDiff, build_model
from crossdiff.model.layers import PE_MAX_LEN, attention, sinusoid_table

TOL = dict(atol=1e-4, rtol=1e-4)
SMALL = dict(latent_dim=48, layers=2, layers2=3)  # the golden small model
BASE_YAML = Path(__file__).resolve().parents[1] / "configs" / "base.yaml"


def layout(model) -> list[dict]:
    """The state_dict as the golden key files describe it: key, shape, kind, requires_grad."""
    params = dict(model.named_parameters(remove_duplicate=False))
    return [{"key": k, "shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""),
             "kind": "parameter" if k in params else "buffer",
             "requires_grad": bool(params[k].requires_grad) if k in params else False}
            for k, v in model.state_dict().items()]


def counts(model) -> dict:
    return {"n_keys": len(model.state_dict()),
            "state_dict_numel": sum(v.numel() for v in model.state_dict().values()),
            "parameters_numel_unique": sum(p.numel() for p in model.parameters()),
            "trainable_numel": sum(p.numel() for p in model.parameters() if p.requires_grad)}


@pytest.fixture(scope="module")
def small_golden(golden_dir):
    """The golden small model, loaded strictly, in eval mode."""
    weights = np.load(golden_dir / "case3_crossdiff_small_state_dict.npz")
    model = CrossDiff(**SMALL)
    model.load_state_dict({k: torch.from_numpy(weights[k]) for k in weights.files}, strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def case3(golden):
    return golden("case3_crossdiff_io")


def test_small_layout_matches_golden(golden_dir):
    ref = json.loads((golden_dir / "case3_crossdiff_small_keys.json").read_text())
    model = CrossDiff(**SMALL)
    assert layout(model) == ref["keys"]
    assert counts(model) == {k: ref[k] for k in counts(model)}


def test_full_layout_and_parameter_counts(golden_dir):
    ref = json.loads((golden_dir / "case3_crossdiff_full_keys.json").read_text())
    model = CrossDiff()
    assert layout(model) == ref["keys"]
    assert counts(model) == {"n_keys": 530, "state_dict_numel": 90_640_269,
                             "parameters_numel_unique": 88_080_269, "trainable_numel": 85_520_269}


def test_kit_widths_parameter_count():
    model = CrossDiff(njoints_m=251, njoints_j=128)
    assert sum(p.numel() for p in model.parameters()) == 88_061_819
    assert model.state_dict()["p_linear2_j.weight"].shape == (126, 512)


def test_positional_table_is_shared_frozen_and_golden(golden_dir, small_golden):
    weights = np.load(golden_dir / "case3_crossdiff_small_state_dict.npz")
    fresh = CrossDiff(**SMALL)
    # Built from the formula, not loaded: equal to the reference's table.
    np.testing.assert_array_equal(fresh.sequence_pos_encoder.pe.detach().numpy(), weights["sequence_pos_encoder.pe"])
    assert fresh.embed_timestep.sequence_pos_encoder is fresh.sequence_pos_encoder
    assert not fresh.sequence_pos_encoder.pe.requires_grad
    p, i, d = 917, 5, 48
    assert sinusoid_table(d)[p, 0, 2 * i + 1].item() == pytest.approx(np.cos(p / 10000 ** (2 * i / d)), abs=1e-3)
    assert sinusoid_table(d).shape == (PE_MAX_LEN, 1, d)


@pytest.mark.parametrize("x_name", ["x3d", "x2d"])
@pytest.mark.parametrize("force", [0, 1])
def test_golden_outputs(small_golden, case3, x_name, force):
    x, t, y = (torch.from_numpy(case3[k]) for k in (x_name, "timesteps", "text_emb"))
    with torch.no_grad():
        out = small_golden(x, t, y, force_mask=bool(force), return_m=True, return_j=True)
    for head, channels in (("m", 263), ("j", 134)):
        assert out[head].shape == (2, channels, 1, 196)
        np.testing.assert_allclose(out[head].numpy(), case3[f"out_{head}_{x_name}_force{force}"], **TOL)


def test_single_head_and_null_text(small_golden, case3):
    x, t, y = (torch.from_numpy(case3[k]) for k in ("x2d", "timesteps", "text_emb"))
    with torch.no_grad():
        both = small_golden(x, t, y, return_m=True, return_j=True)
        only_j = small_golden(x, t, y, return_m=False, return_j=True)
        forced = small_golden(x, t, y, force_mask=True)
        zero_text = small_golden(x, t, torch.zeros_like(y))
    assert only_j["m"] is None and torch.equal(only_j["j"], both["j"])
    assert torch.equal(forced["m"], zero_text["m"])
    assert not torch.allclose(forced["m"], both["m"], atol=1e-3)


TINY = dict(latent_dim=16, layers=1, layers2=2, ff_size=32, max_frames=12)


def random_inputs(batch: int, seed: int = 0, frames: int = 196):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 263, 1, frames, generator=gen), torch.randn(batch, 134, 1, frames, generator=gen),
            torch.randint(0, 1000, (batch,), generator=gen), torch.randn(batch, 512, generator=gen))


def test_forward_both_equals_two_calls(small_golden):
    m_t, j_t, t, y = random_inputs(2)
    with torch.no_grad():
        fused = small_golden.forward_both(m_t, j_t, t, y)
        from_m = small_golden(m_t, t, y, return_m=True, return_j=True)
        from_j = small_golden(j_t, t, y, return_m=True, return_j=True)
    expected = {"m_from_m": from_m["m"], "j_from_m": from_m["j"], "m_from_j": from_j["m"], "j_from_j": from_j["j"]}
    assert fused.keys() == expected.keys()
    for key, value in expected.items():
        assert fused[key].shape == value.shape
        torch.testing.assert_close(fused[key], value, atol=1e-5, rtol=1e-5)


def which_rows_dropped(model, out_by_path: dict, m_t, j_t, t, y) -> dict:
    """Per path input, a bool per sample: True where the training pass used the null text."""
    with torch.no_grad():
        model.eval()
        ref = {src: (model(x, t, y)["m"], model(x, t, y, force_mask=True)["m"]) for src, x in (("m", m_t), ("j", j_t))}
        model.train()
    dropped = {}
    for src in ("m", "j"):
        got = out_by_path[f"m_from_{src}"]
        cond = (got - ref[src][0]).flatten(1).abs().amax(1) < 1e-5
        null = (got - ref[src][1]).flatten(1).abs().amax(1) < 1e-5
        assert torch.all(cond ^ null), "every row is either the conditional or the null-text output"
        dropped[src] = null
    return dropped


def test_training_condition_dropout_is_per_sample_and_per_modality():
    torch.manual_seed(0)
    model = CrossDiff(**TINY, dropout=0.0, cond_mask_prob=0.5).train()
    m_t, j_t, t, y = random_inputs(48, seed=1, frames=12)
    with torch.no_grad():
        fused = model.forward_both(m_t, j_t, t, y)
    dropped = which_rows_dropped(model, fused, m_t, j_t, t, y)
    for src in ("m", "j"):
        assert 0 < dropped[src].sum() < 48, "about half the samples lose their text"
    assert not torch.equal(dropped["m"], dropped["j"]), "the two modality inputs draw independently"


def test_training_with_certain_dropout_is_the_null_condition():
    torch.manual_seed(0)
    model = CrossDiff(**TINY, dropout=0.0, cond_mask_prob=1.0)
    m_t, j_t, t, y = random_inputs(2, frames=12)
    with torch.no_grad():
        trained = model.train()(j_t, t, y, return_j=True)
        null = model.eval()(j_t, t, y, force_mask=True, return_j=True)
    torch.testing.assert_close(trained["j"], null["j"], atol=1e-6, rtol=0)


def test_forward_both_backward_reaches_every_trainable_part():
    torch.manual_seed(0)
    model = CrossDiff(**TINY).train()
    out = model.forward_both(*random_inputs(2, frames=12))
    sum(v.square().mean() for v in out.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    assert model.sequence_pos_encoder.pe.grad is None


def test_input_checks():
    model = CrossDiff(**TINY)
    m_t, j_t, t, y = random_inputs(1, frames=12)
    with pytest.raises(ValueError, match="100 channels"):
        model(torch.zeros(1, 100, 1, 12), t, y)
    with pytest.raises(ValueError, match="max_frames=12"):
        model(m_t[..., :10], t, y)
    with pytest.raises(ValueError, match=r"\[B, C, 1, T\]"):
        model(m_t[:, :, 0], t, y)
    with pytest.raises(ValueError, match="3D then 2D"):
        model.forward_both(j_t, m_t, t, y)
    with pytest.raises(UserError, match="layers2"):
        CrossDiff(**{**TINY, "layers2": 1})
    with pytest.raises(UserError, match="num_heads"):
        CrossDiff(**{**TINY, "latent_dim": 18})


def test_other_frame_count_and_kit_widths_run():
    model = CrossDiff(njoints_m=251, njoints_j=128, **TINY).eval()
    t, y = torch.tensor([0, 999]), torch.zeros(2, 512)
    with torch.no_grad():
        out = model(torch.randn(2, 128, 1, 12), t, y, return_m=True, return_j=True)
    assert out["m"].shape == (2, 251, 1, 12) and out["j"].shape == (2, 128, 1, 12)
    assert torch.isfinite(out["m"]).all()


def test_build_model_registry():
    kwargs = {**OmegaConf.to_container(OmegaConf.load(BASE_YAML).model), **TINY}
    assert isinstance(build_model(**kwargs), CrossDiff)
    with pytest.raises(UserError, match="crossdiff, mdm"):
        build_model(**{**kwargs, "model_type": "MDMX"})



def _first_cross_attention(model: CrossDiff, x: torch.Tensor) -> torch.Tensor:
    """Attention weights [B, T, T+1] of the first 3D cross-decoder layer (queries over the memory)."""
    captured = {}

    def keep_memory(module, args, output):
        captured["memory"] = output

    handle = model.bridge[0].register_forward_hook(keep_memory)
    with torch.no_grad():
        model(x, torch.tensor([0]), torch.zeros(1, 512))
        handle.remove()
        layer = model.decoder_m[0]
        query = model.motion_token
        query = layer.norm1(query + attention(layer.self_attn, query, None, training=False))
        _, weights = layer.multihead_attn(query, captured["memory"], captured["memory"], need_weights=True)
    return weights


def test_positional_query_init_attends_to_each_frame_from_the_start():
    """query_init=positional: decoder query f starts on memory token f + 1 (token 0 is the step);
    the reference's randn queries spread over every frame. Keys and shapes are unchanged."""
    kwargs = dict(latent_dim=64, ff_size=128, layers=2, layers2=2, max_frames=32, dropout=0.0)
    x = torch.randn(1, 263, 1, 32, generator=torch.Generator().manual_seed(0))
    own_frame, peak_near = {}, {}
    frames = torch.arange(32)
    for init in ("reference", "positional"):
        torch.manual_seed(0)
        model = CrossDiff(query_init=init, **kwargs).eval()
        weights = _first_cross_attention(model, x)[0]
        own_frame[init] = weights[frames, frames + 1].mean().item()
        peak_near[init] = ((weights.argmax(1) - (frames + 1)).abs() <= 2).float().mean().item()
        shapes = {k: v.shape for k, v in model.state_dict().items()}
        if init == "reference":
            reference_shapes = shapes
    assert shapes == reference_shapes
    assert own_frame["positional"] > 4 * own_frame["reference"], own_frame  # uniform would be 1/33
    assert peak_near["reference"] < 0.3 < 0.9 <= peak_near["positional"], peak_near


def test_unknown_query_init_is_a_user_error():
    with pytest.raises(UserError, match="model.query_init='zeros'.*reference, positional"):
        CrossDiff(query_init="zeros", **TINY)
