"""train.center_text: the centred text projection is the same function in the official checkpoint layout."""

from __future__ import annotations

import copy

import pytest
import torch

from crossdiff.model import CrossDiff, MDM
from crossdiff.training.text_centering import CenteredTextLinear, caption_mean, center_text_projection

FRAMES = 12


def _tiny(seed: int = 0) -> CrossDiff:
    torch.manual_seed(seed)
    return CrossDiff(latent_dim=16, ff_size=32, layers=1, layers2=2, num_heads=2, dropout=0.0,
                     max_frames=FRAMES).eval()


def _inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    # features with a large shared component, as CLIP's
    y = 3.0 + torch.randn(3, 512, generator=g)
    return torch.randn(3, 263, 1, FRAMES, generator=g), torch.tensor([0, 500, 999]), y


def _mean(seed: int = 2) -> torch.Tensor:
    return 3.0 + 0.1 * torch.randn(512, generator=torch.Generator().manual_seed(seed))


def test_centred_model_computes_the_same_and_saves_the_official_state_dict():
    plain = _tiny()
    centred = copy.deepcopy(plain)
    center_text_projection(centred, _mean())
    x, t, y = _inputs()
    assert not torch.allclose(centred.embed_text.bias, plain.embed_text.bias, atol=1e-3)  # b' = b + W·mu
    with torch.no_grad():
        for force_mask in (False, True):
            torch.testing.assert_close(centred(x, t, y, force_mask=force_mask)["m"],
                                       plain(x, t, y, force_mask=force_mask)["m"], atol=2e-5, rtol=1e-5)
    saved, official = centred.state_dict(), plain.state_dict()
    assert list(saved) == list(official)
    torch.testing.assert_close(saved["embed_text.bias"], official["embed_text.bias"], atol=1e-6, rtol=0)


def test_state_dicts_move_both_ways_with_strict_loading():
    trained = _tiny(seed=3)
    centred = _tiny(seed=4)
    center_text_projection(centred, _mean())
    centred.load_state_dict(trained.state_dict(), strict=True)  # official -> centred
    back = _tiny(seed=5)
    back.load_state_dict(centred.state_dict(), strict=True)     # centred -> official
    x, t, y = _inputs()
    with torch.no_grad():
        reference = trained(x, t, y)["m"]
        torch.testing.assert_close(centred(x, t, y)["m"], reference, atol=2e-5, rtol=1e-5)
        torch.testing.assert_close(back(x, t, y)["m"], reference, atol=2e-5, rtol=1e-5)


def test_the_weight_gradient_is_taken_on_centred_features():
    linear = torch.nn.Linear(512, 8)
    mean = _mean()
    centred = CenteredTextLinear(linear, mean)
    y = _inputs()[2]
    upstream = torch.randn(3, 8, generator=torch.Generator().manual_seed(6))
    (centred(y) * upstream).sum().backward()
    (linear(y) * upstream).sum().backward()
    torch.testing.assert_close(centred.weight.grad, upstream.T @ (y - mean), atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(centred.bias.grad, linear.bias.grad)
    assert (centred.weight.grad - linear.weight.grad).abs().max() > 1.0  # plain: upstream.T @ y


def test_mdm_is_centred_too_and_twice_is_an_error():
    torch.manual_seed(0)
    mdm = MDM(latent_dim=16, ff_size=32, layers=1, num_heads=2, dropout=0.0).eval()
    plain = copy.deepcopy(mdm)
    center_text_projection(mdm, _mean())
    x, t, y = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(mdm(x, t, y)["m"], plain(x, t, y)["m"], atol=2e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="embed_text"):
        center_text_projection(mdm, _mean())


def test_caption_mean_averages_distinct_captions_and_needs_some():
    table = {"a": torch.tensor([1.0, 0.0]), "b": torch.tensor([3.0, 2.0])}

    def encode(captions):
        return torch.stack([table[c] for c in captions])

    torch.testing.assert_close(caption_mean(encode, ["a", "b", "b", "b"], chunk=1), torch.tensor([2.0, 1.0]))
    from crossdiff.errors import UserError
    with pytest.raises(UserError, match="train.center_text=false"):
        caption_mean(encode, [])


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from prepare.synthetic import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("synthetic") / "data", clips=8, seed=0)


def test_training_with_center_text_resumes_and_saves_checkpoints_a_plain_model_loads(tmp_path, data_root):
    """A run killed at step 4 and resumed ends (almost) where the straight run ends: the bias goes
    through the official layout on save and back on load, float32 rounding apart. Centring really
    changed the training: the weights differ from a plain run's."""
    import train
    from train_helpers import tiny_config

    from crossdiff.config import section_kwargs
    from crossdiff.io import torch_load
    from crossdiff.weights import build_model_from

    def run(folder, steps, center="true"):
        cfg = tiny_config(tmp_path / folder, data_root, f"train.max_steps={steps}", "train.save_interval=4",
                          f"train.center_text={center}", "train.ema_decay=0.9")
        return cfg, train.main(cfg)

    cfg, straight = run("a", 8)
    run("b", 4)
    _, resumed = run("b", 8)
    _, plain = run("c", 8, center="false")
    assert "train.center_text: embed_text trained on features centred" in (straight / "log.txt").read_text()
    last = {name: torch_load(sorted((r / "checkpoints").glob("step*.pt"))[-1]) for name, r in
            (("straight", straight), ("resumed", resumed), ("plain", plain))}
    for part in ("model", "ema"):
        a, b = last["straight"][part], last["resumed"][part]
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-5, msg=f"{part} {key}")
    assert (last["straight"]["model"]["embed_text.weight"] - last["plain"]["model"]["embed_text.weight"]).abs().max() > 1e-4
    model = build_model_from(section_kwargs(cfg.model), straight)  # strict load into the plain network
    assert type(model.embed_text) is torch.nn.Linear
