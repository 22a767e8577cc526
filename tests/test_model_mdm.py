"""MDM baseline: the reference's key layout (golden case 4), its forward wiring and the 3D-only errors."""

import json

import pytest
import torch

from crossdiff.errors import UserError
from crossdiff.model import MDM, build_model

TINY = dict(latent_dim=16, layers=2, ff_size=32, max_frames=20)


@pytest.mark.parametrize("layers", [4, 8])
def test_layout_matches_golden(golden_dir, layers):
    ref = json.loads((golden_dir / "case4_mdm_keys.json").read_text())[f"layers{layers}"]
    assert ref["constructor_kwargs"]["num_layers"] == layers
    model = MDM(layers=layers)
    params = dict(model.named_parameters(remove_duplicate=False))
    ours = [{"key": k, "shape": list(v.shape), "dtype": "float32", "kind": "parameter",
             "requires_grad": params[k].requires_grad} for k, v in model.state_dict().items()]
    assert ours == ref["keys"]
    assert sum(p.numel() for p in model.parameters()) == ref["parameters_numel_unique"]
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == ref["trainable_numel"]
    assert sum(v.numel() for v in model.state_dict().values()) == ref["state_dict_numel"]


def inputs(batch=2, frames=20, channels=263, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, channels, 1, frames, generator=gen), torch.tensor([7, 640][:batch]),
            torch.randn(batch, 512, generator=gen))


def test_forward_is_token_then_frames_through_one_encoder():
    """The output equals the composition of the parts: step/text token prepended, PE, encoder, token dropped."""
    torch.manual_seed(0)
    model = MDM(**TINY).eval()
    x, t, y = inputs(frames=15)
    with torch.no_grad():
        out = model(x, t, y)
        token = model.embed_timestep.time_embed(model.sequence_pos_encoder.pe[t].squeeze(1)) + model.embed_text(y)
        frames = model.input_process.poseEmbedding(x[:, :, 0].transpose(1, 2)).transpose(0, 1)  # [T, B, d]
        seq = torch.cat([token[None], frames]) + model.sequence_pos_encoder.pe[:16]
        hidden = model.seqTransEncoder(seq)[1:]
        expected = model.output_process.poseFinal(hidden).permute(1, 2, 0)[:, :, None]
    assert out["j"] is None
    assert out["m"].shape == (2, 263, 1, 15)
    torch.testing.assert_close(out["m"], expected, atol=1e-6, rtol=1e-6)


def test_null_condition_and_training_dropout():
    torch.manual_seed(0)
    model = MDM(**TINY, dropout=0.0, cond_mask_prob=1.0)
    x, t, y = inputs()
    with torch.no_grad():
        forced = model.eval()(x, t, y, force_mask=True)["m"]
        zero = model(x, t, torch.zeros_like(y))["m"]
        cond = model(x, t, y)["m"]
        trained = model.train()(x, t, y)["m"]
    assert torch.equal(forced, zero)
    assert not torch.allclose(forced, cond, atol=1e-4)
    torch.testing.assert_close(trained, forced, atol=1e-6, rtol=0)


def test_three_d_only_errors():
    model = MDM(**TINY)
    x, t, y = inputs()
    with pytest.raises(UserError, match="train.mode=finetune"):
        model(x, t, y, return_j=True)
    with pytest.raises(UserError, match="MDM is 3D only"):
        model(torch.zeros(2, 134, 1, 20), t, y)
    with pytest.raises(ValueError, match="max_frames=20"):
        model(torch.zeros(2, 263, 1, 21), t, y)


def test_built_from_the_shared_model_keys():
    model = build_model("mdm", njoints_m=251, njoints_j=128, layers2=6, num_heads=4, dropout=0.1, text_dim=512,
                        cond_mask_prob=0.1, **TINY)
    assert isinstance(model, MDM)
    assert len(model.seqTransEncoder.layers) == 2
    assert model.output_process.poseFinal.out_features == 251
    assert model.sequence_pos_encoder is model.embed_timestep.sequence_pos_encoder
