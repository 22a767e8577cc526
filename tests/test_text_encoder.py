"""CLIP text encoder: reference tokenisation, fp16-rounded weights equal to clip's encode_text, cache."""

from __future__ import annotations

import gc
import importlib.util
import logging
import shutil
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from crossdiff.errors import UserError
from crossdiff.text_encoder import (CONTEXT_LENGTH, TextEncoder, build_text_encoder, import_clip, tokenize)

SOT, EOT = 49406, 49407
LONG = ("a person walks forward slowly, then turns around to the left, raises both arms above the head "
        "and finally sits down on the floor")
CAPTIONS = ["a person walks forward", "someone jumps up and down", LONG]


@pytest.fixture(scope="module")
def clip():
    return import_clip()


@pytest.fixture(scope="module")
def random_encoder():
    torch.set_num_threads(1)
    return build_text_encoder(clip_weights="random", cache_dir=None)


def _bpe_length(clip, text: str) -> int:
    return len(clip.simple_tokenizer.SimpleTokenizer().encode(text))


class CallCounter:
    """Counts forward calls of a module (the CLIP network) while active."""

    def __init__(self, module):
        self.calls = 0
        self._handle = module.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        self.calls += 1

    def remove(self):
        self._handle.remove()


@pytest.fixture
def count_calls(random_encoder):
    counter = CallCounter(random_encoder.tower)
    yield counter
    counter.remove()


def test_random_features_shape_dtype_and_distinct(random_encoder):
    out = random_encoder(["a person walks forward", "someone jumps up and down", "a person walks forward"])
    assert out.shape == (3, 512) and out.dtype == torch.float32 and out.device.type == "cpu"
    assert not out.requires_grad
    assert torch.equal(out[0], out[2])
    assert (out[0] - out[1]).abs().max() > 1e-2
    assert not torch.allclose(out.norm(dim=1), torch.ones(3))  # not L2-normalised (docs/original_code.md §5.9)
    assert random_encoder([]).shape == (0, 512)
    with pytest.raises(TypeError):
        random_encoder("a single string")


def test_random_weights_are_deterministic_and_leave_the_global_rng_alone(random_encoder, caplog):
    state = torch.random.get_rng_state()
    with caplog.at_level(logging.WARNING):
        again = build_text_encoder(clip_weights="random", cache_dir=None)
    assert torch.equal(state, torch.random.get_rng_state())
    assert any("random weights" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert again.fingerprint == random_encoder.fingerprint
    assert torch.equal(again.encode_uncached(CAPTIONS[:2]), random_encoder.encode_uncached(CAPTIONS[:2]))


def test_tokenisation_truncates_to_22_with_eot_last(clip):
    assert _bpe_length(clip, LONG) > CONTEXT_LENGTH - 2
    tokens = tokenize([LONG, "a person walks"])
    full = clip.tokenize([LONG], context_length=77, truncate=True)[0]
    assert tokens.shape == (2, 77) and tokens.dtype == torch.long
    assert tokens[0, 0] == SOT and tokens[0, 21] == EOT and (tokens[0, 22:] == 0).all()
    assert torch.equal(tokens[0, :21], full[:21])  # SOT + the first 20 BPE tokens
    short_len = _bpe_length(clip, "a person walks")
    assert tokens[1, short_len + 1] == EOT and (tokens[1, short_len + 2:] == 0).all()


def test_truncation_warning_once_per_caption_and_only_past_20_tokens(random_encoder, clip, caplog):
    exactly_20 = " ".join(["walk"] * 20)
    assert _bpe_length(clip, exactly_20) == 20
    with caplog.at_level(logging.WARNING):
        random_encoder.encode_uncached([LONG, exactly_20])
        random_encoder.encode_uncached([LONG])
    warnings = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warnings) == 1 and LONG in warnings[0]


def test_cache_hit_returns_identical_vectors_without_running_clip(random_encoder, count_calls):
    encoder = TextEncoder(random_encoder.tower, random_encoder.fingerprint, cache_dir=None)
    first = encoder(["a", "b", "a"])
    assert count_calls.calls == 1  # one batched call for the two distinct captions
    second = encoder(["b", "a"])
    assert count_calls.calls == 1
    assert torch.equal(second, first[[1, 0]])
    # alone, "b" runs with another batch shape: the same up to float rounding
    assert torch.allclose(first[1], random_encoder.encode_uncached(["b"])[0], atol=1e-5)


def _shards(folder):
    return sorted(p for p in folder.rglob("*.pt") if not p.name.startswith("."))


def test_disk_cache_is_reused_for_the_same_fingerprint_only(random_encoder, count_calls, tmp_path, caplog):
    tower, fingerprint = random_encoder.tower, random_encoder.fingerprint
    writer = TextEncoder(tower, fingerprint, cache_dir=tmp_path)
    written = writer(CAPTIONS)
    assert _shards(tmp_path) == []
    writer.flush()
    assert [p.parent.name for p in _shards(tmp_path)] == [fingerprint[:16]]
    calls = count_calls.calls

    reader = TextEncoder(tower, fingerprint, cache_dir=tmp_path)
    assert torch.equal(reader(CAPTIONS), written) and count_calls.calls == calls

    other = "f" * 64
    shutil.copytree(tmp_path / fingerprint[:16], tmp_path / other[:16])  # a stale shard in the other folder
    with caplog.at_level(logging.WARNING):
        stranger = TextEncoder(tower, other, cache_dir=tmp_path)
    assert any("other weights" in r.getMessage() for r in caplog.records)
    stranger(CAPTIONS[:1])
    assert count_calls.calls == calls + 1


def test_disk_cache_flushes_every_n_entries_and_when_collected(random_encoder, tmp_path):
    encoder = TextEncoder(random_encoder.tower, random_encoder.fingerprint, cache_dir=tmp_path, flush_every=2)
    encoder(["one"])
    assert _shards(tmp_path) == []
    encoder(["two", "one"])
    assert len(_shards(tmp_path)) == 1
    encoder(["three"])
    del encoder
    gc.collect()
    assert len(_shards(tmp_path)) == 2
    reread = TextEncoder(random_encoder.tower, random_encoder.fingerprint, cache_dir=tmp_path)
    assert set(reread.cache.vectors) == {"one", "two", "three"}


# --- the "file" path: a small CLIP written to disk, compared with clip's own encode_text ---------------

def _tiny_clip(clip):
    """A small ViT CLIP (text width 64, 2 layers, the real vocabulary and context), every weight random."""
    with torch.random.fork_rng():
        torch.manual_seed(1)
        model = clip.model.CLIP(embed_dim=32, image_resolution=32, vision_layers=1, vision_width=64,
                                vision_patch_size=16, context_length=77, vocab_size=49408,
                                transformer_width=64, transformer_heads=1, transformer_layers=2)
        with torch.no_grad():
            for p in model.parameters():  # also perturb LayerNorms and biases (CLIP's init leaves them trivial)
                p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def tiny_clip_file(clip, tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "tiny_clip.pt"
    state = {k: v.clone() for k, v in _tiny_clip(clip).state_dict().items()}  # float32: the loader rounds
    torch.save(state, path)
    return path, state


def _clip_reference(clip, state, half: bool, texts):
    """clip.model.build_model (fp16 weights) -> encode_text of the reference tokens (22, zero-padded to 77)."""
    with torch.random.fork_rng():
        model = clip.model.build_model(dict(state))
    if not half:
        model.float()
    tokens = F.pad(clip.tokenize(texts, context_length=22, truncate=True), (0, 77 - 22))
    with torch.no_grad():
        return model.encode_text(tokens).float()


@pytest.mark.parametrize("half", [False, True])
def test_file_weights_match_clip_encode_text(clip, tiny_clip_file, half):
    path, state = tiny_clip_file
    encoder = build_text_encoder(clip_path=path, clip_weights="file", cache_dir=None, half=half)
    out = encoder(CAPTIONS)
    assert out.shape == (3, 32) and out.dtype == torch.float32
    # We run only the 22 token positions (the rest is causally irrelevant padding): the same maths,
    # rounded in another order; fp16 arithmetic rounds at about 1e-3 for values near 1.
    reference = _clip_reference(clip, state, half, CAPTIONS)
    torch.testing.assert_close(out, reference, rtol=0, atol=4e-3 if half else 1e-5)


def test_file_weights_are_rounded_to_fp16(clip, tiny_clip_file, random_encoder):
    path, state = tiny_clip_file
    encoder = build_text_encoder(clip_path=path, clip_weights="file", cache_dir=None)
    w = encoder.tower.transformer.resblocks[0].mlp.c_fc.weight
    assert w.dtype == torch.float32 and torch.equal(w, w.half().float())
    assert not torch.equal(w, state["transformer.resblocks.0.mlp.c_fc.weight"])
    assert encoder.fingerprint != random_encoder.fingerprint


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore:`torch.jit.*` is deprecated")
def test_torchscript_archive_loads_like_the_state_dict(clip, tiny_clip_file, tmp_path):
    path, state = tiny_clip_file
    model = clip.model.build_model(dict(state)).float()
    tokens = F.pad(clip.tokenize(CAPTIONS, context_length=22, truncate=True), (0, 55))
    archive = tmp_path / "tiny_clip_jit.pt"
    torch.jit.save(torch.jit.trace_module(model, {"encode_text": tokens}), str(archive))
    from_jit = build_text_encoder(clip_path=archive, clip_weights="file", cache_dir=None)
    from_state = build_text_encoder(clip_path=path, clip_weights="file", cache_dir=None)
    assert from_jit.fingerprint == from_state.fingerprint
    assert torch.equal(from_jit(CAPTIONS), from_state(CAPTIONS))


def test_bad_weights_are_user_errors(tmp_path):
    missing = tmp_path / "nowhere" / "ViT-B-32.pt"
    with pytest.raises(UserError) as e:
        build_text_encoder(clip_path=missing, clip_weights="file")
    assert str(missing) in str(e.value) and "download_clip.sh" in str(e.value)
    assert "clip_weights=random" in str(e.value)
    with pytest.raises(UserError, match="clip_weights='openai'"):
        build_text_encoder(clip_weights="openai")
    not_clip = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(2)}, not_clip)
    with pytest.raises(UserError, match="not a CLIP checkpoint"):
        build_text_encoder(clip_path=not_clip, clip_weights="file")


def test_torchvision_stand_in_only_while_clip_is_imported():
    script = (
        "import sys, crossdiff, crossdiff.text_encoder as te\n"
        "assert 'clip' not in sys.modules and 'torchvision' not in sys.modules\n"
        "clip = te.import_clip()\n"
        "assert 'torchvision' not in sys.modules and 'torchvision.transforms' not in sys.modules\n"
        "try:\n    clip.clip.Normalize((0.5,), (0.5,))\nexcept RuntimeError as e:\n"
        "    assert 'torchvision is not installed' in str(e)\nelse:\n    raise AssertionError('stand-in ran')\n"
        "assert clip.tokenize(['a person walks']).shape == (1, 77)\n"
    )
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed; the stand-in is not used")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
