"""CLIP text features for the condition: local ViT-B/32 weights, fp16-rounded, cached per caption.

The original's text encoder: docs/original_code.md §5.9.

The reference loads the whole CLIP model, converts it to fp16 (`clip.model.convert_weights`) and
calls `encode_text(tokenize(captions, context_length=22, truncate=True) padded to 77).float()`,
a `[B, 512]` float32 vector that is not L2-normalised. Only the text path is needed, so this module
builds CLIP's text tower alone (same parameter names, CLIP's own `Transformer` and `LayerNorm`
blocks, the same operations as `CLIP.encode_text`) and skips the 88M-parameter vision tower.

Precision: the weights CLIP converts to fp16 (linear, attention and projection weights) are rounded
to fp16. On CUDA they stay fp16 and the tower computes in fp16, as the reference; on CPU they are
cast back to float32 (same weight values, float32 arithmetic, because CPU fp16 matmuls are slow).

Cache: the reference runs CLIP on every training step; here each caption is encoded once per
weights fingerprint and kept in memory and, unless `cache_dir` is None, in shard files
`cache_dir/<fingerprint[:16]>/<shard>.pt` (dict: fingerprint, captions, embeddings [N, D]). A new
shard holds only new captions, so processes (e.g. DDP ranks) never overwrite each other's entries.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
import types
import uuid
import warnings
import weakref
import zipfile
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from crossdiff.errors import UserError
from crossdiff.io import torch_load, torch_save

CONTEXT_LENGTH = 22  # SOT + at most 20 BPE tokens + EOT, as the reference (docs/original_code.md §5.9)
RANDOM_SEED = 0  # seed of the random-weights tower (tests and the synthetic demo)
VIT_B32_TEXT = dict(vocab_size=49408, context_length=77, width=512, layers=12, embed_dim=512)
FLUSH_EVERY = 4096  # new cache entries written to disk as one shard
WEIGHT_CHOICES = ("file", "random")

_NON_TEXT_KEYS = ("logit_scale", "input_resolution", "context_length", "vocab_size")


def _torchvision_stand_in() -> dict[str, types.ModuleType]:
    """Modules providing the names `clip.clip` imports from torchvision.transforms at import time.

    They serve only CLIP's image preprocessing, which the text path never calls; calling one says so.
    """
    def unavailable(*args, **kwargs):
        raise RuntimeError("torchvision is not installed: CLIP image preprocessing is unavailable "
                           "(crossdiff uses only the CLIP text tower)")

    transforms = types.ModuleType("torchvision.transforms")
    for name in ("Compose", "Resize", "CenterCrop", "ToTensor", "Normalize"):
        setattr(transforms, name, unavailable)
    package = types.ModuleType("torchvision")
    package.__path__ = []  # a package, so `from torchvision.transforms import ...` resolves via sys.modules
    package.transforms = transforms
    return {"torchvision": package, "torchvision.transforms": transforms}


def _torchvision_importable() -> bool:
    try:
        import torchvision  # noqa: F401
    except Exception:  # missing, or installed for another torch version
        return False
    return True


def import_clip() -> types.ModuleType:
    """Import the `clip` package; without torchvision, a stand-in is in sys.modules during the import only."""
    if "clip" in sys.modules:
        return sys.modules["clip"]
    stand_ins = {} if _torchvision_importable() else _torchvision_stand_in()
    sys.modules.update(stand_ins)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
            import clip
    except ImportError as e:
        raise UserError(f"cannot import the `clip` package ({e}); install it with "
                        "`pip install clip-anytorch==2.6.0 --no-deps ftfy regex 'setuptools<81'`") from e
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    return clip


def causal_mask(length: int) -> torch.Tensor:
    """[L, L] additive mask: -inf above the diagonal, so token i attends to tokens <= i (CLIP's text mask)."""
    return torch.full((length, length), float("-inf"), device="cpu").triu_(1)


class TextTower(nn.Module):
    """CLIP's text path with CLIP's parameter names: tokens [B, L] -> features [B, embed_dim].

    `forward` performs the operations of `clip.model.CLIP.encode_text` in the dtype of
    `text_projection` (fp16 on CUDA as the reference, float32 on CPU).
    """

    def __init__(self, vocab_size: int, context_length: int, width: int, layers: int, embed_dim: int):
        super().__init__()
        clip = import_clip()
        self.context_length = context_length
        # from_pretrained skips the default normal_ init (on the meta device that would import torch._dynamo)
        self.token_embedding = nn.Embedding.from_pretrained(torch.empty(vocab_size, width), freeze=False)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        # heads = width // 64, as clip.model.build_model infers it from a state_dict
        # Only the first CONTEXT_LENGTH positions ever hold tokens and the mask is causal, so the
        # 55 zero-padding positions of the reference's 77 cannot change the EOT feature: skipping
        # them gives the same features about 3.5x faster on a CPU.
        self.transformer = clip.model.Transformer(width, layers, width // 64,
                                                  attn_mask=causal_mask(min(context_length, CONTEXT_LENGTH)))
        self.ln_final = clip.model.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))

    @classmethod
    def empty(cls, config: dict) -> "TextTower":
        """Uninitialised CPU tower: built on the meta device, so no time or global RNG draws are spent on init."""
        import_clip()  # outside the meta-device context
        with torch.device("meta"):
            tower = cls(**config)
        return tower.to_empty(device="cpu")

    @property
    def embed_dim(self) -> int:
        return self.text_projection.shape[1]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, L] (L <= context_length, EOT = the largest id in a row) -> [B, embed_dim]."""
        dtype = self.text_projection.dtype
        n_ctx = tokens.shape[-1]
        x = self.token_embedding(tokens).to(dtype) + self.positional_embedding[:n_ctx].to(dtype)  # [B, L, W]
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)  # CLIP's blocks take [L, B, W]
        x = self.ln_final(x).to(dtype)
        eot = tokens.argmax(dim=-1)  # the causal mask makes everything after EOT irrelevant
        return x[torch.arange(x.shape[0], device=x.device), eot] @ self.text_projection


def text_config(state_dict: dict, source: str) -> dict:
    """The TextTower arguments a CLIP state_dict implies (the text half of clip.model.build_model)."""
    needed = ("token_embedding.weight", "positional_embedding", "ln_final.weight", "text_projection")
    missing = [k for k in needed if k not in state_dict]
    layers = len({k.split(".")[2] for k in state_dict if k.startswith("transformer.resblocks.")})
    if missing or layers == 0:
        raise UserError(f"{source}: not a CLIP checkpoint (missing {missing or 'transformer.resblocks.*'}); "
                        "expected the OpenAI ViT-B-32.pt or its state_dict")
    return dict(vocab_size=state_dict["token_embedding.weight"].shape[0],
                context_length=state_dict["positional_embedding"].shape[0],
                width=state_dict["ln_final.weight"].shape[0], layers=layers,
                embed_dim=state_dict["text_projection"].shape[1])


def _is_torchscript(path: Path) -> bool:
    """The official ViT-B-32.pt is a TorchScript archive (a zip with code/ and constants.pkl)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") or "/code/" in name for name in archive.namelist())


def read_clip_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A CLIP state_dict from a TorchScript archive (official release) or a plain saved state_dict."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"CLIP weights not found: {path}. Run `bash prepare/download_clip.sh` or place "
                        "ViT-B-32.pt there (text_encoder.clip_path), or set text_encoder.clip_weights=random "
                        "for the synthetic demo (random text features)")
    if not _is_torchscript(path):
        state = torch_load(path)  # weights_only=True
        if not isinstance(state, dict):
            raise UserError(f"{path}: expected a CLIP state_dict, found {type(state).__name__}")
        return state
    try:
        # TorchScript holds no pickled Python objects; map_location keeps CUDA-saved tensors loadable.
        # The official release exists only in this format, so torch's deprecation notice is not actionable.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="`torch.jit.load` is deprecated")
            return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
    except RuntimeError as e:
        raise UserError(f"{path}: not a readable TorchScript CLIP archive ({e})") from e


def load_text_tower(path: str | os.PathLike) -> TextTower:
    """The text tower of the CLIP checkpoint at `path` (any config build_model would infer), strictly loaded."""
    state = read_clip_state_dict(path)
    text_state = {k: v for k, v in state.items() if not k.startswith("visual.") and k not in _NON_TEXT_KEYS}
    tower = TextTower.empty(text_config(text_state, str(path)))
    try:
        tower.load_state_dict(text_state, strict=True)
    except RuntimeError as e:
        raise UserError(f"{path}: CLIP text weights do not fit the inferred tower: {e}") from e
    return tower


def random_text_tower(seed: int = RANDOM_SEED) -> TextTower:
    """A ViT-B/32-shaped tower with CLIP's initial std per weight, drawn from torch.Generator(seed).

    Biases are zero and LayerNorms the identity; the global RNG is not touched.
    """
    tower = TextTower.empty(VIT_B32_TEXT)
    width, layers = VIT_B32_TEXT["width"], VIT_B32_TEXT["layers"]
    proj_std = width ** -0.5 * (2 * layers) ** -0.5
    stds = {"token_embedding.weight": 0.02, "positional_embedding": 0.01, "text_projection": width ** -0.5,
            "attn.in_proj_weight": width ** -0.5, "attn.out_proj.weight": proj_std,
            "mlp.c_fc.weight": (2 * width) ** -0.5, "mlp.c_proj.weight": proj_std}
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in tower.named_parameters():  # fixed registration order -> fixed draws
            if name.endswith("bias"):
                param.zero_()
            elif "ln_" in name:
                param.fill_(1.0)
            else:
                block_name = name.split(".", 3)[-1]  # transformer.resblocks.N.<block_name>
                param.normal_(0.0, stds[name] if name in stds else stds[block_name], generator=generator)
    return tower


def _fingerprint(tower: TextTower, recipe: str) -> str:
    """sha256 over the recipe and every (name, shape, float32 bytes) of the tower's weights."""
    digest = hashlib.sha256(recipe.encode())
    for name, tensor in tower.state_dict().items():
        digest.update(f"{name}{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy())
    return digest.hexdigest()


def prepare_tower(tower: TextTower, half: bool) -> str:
    """Round the weights CLIP keeps in fp16 (docs/original_code.md §5.9); keep fp16 if `half`, else float32; freeze.

    Returns the weights fingerprint (the cache key).
    """
    import_clip().model.convert_weights(tower)  # linear/attention/projection weights -> fp16, as the reference
    # the compute dtype is part of the key: fp16 and float32 arithmetic give features ~1e-3 apart
    recipe = f"clip-text|ctx={CONTEXT_LENGTH}|fp16-weights|compute={'fp16' if half else 'fp32'}"
    fingerprint = _fingerprint(tower, recipe)
    if not half:
        tower.float()
    tower.eval().requires_grad_(False)
    return fingerprint


def tokenize(texts: Sequence[str], pad_to: int = 77) -> torch.Tensor:
    """The reference tokenisation: clip.tokenize(context_length=22, truncate=True), zero-padded -> [B, pad_to]."""
    tokens = import_clip().tokenize(list(texts), context_length=CONTEXT_LENGTH, truncate=True)
    return F.pad(tokens, (0, pad_to - CONTEXT_LENGTH))


class EmbeddingCache:
    """caption -> embedding [D] (float32, CPU) in memory, plus shard files under `directory` if given."""

    def __init__(self, fingerprint: str, directory: str | os.PathLike | None, logger: logging.Logger,
                 flush_every: int = FLUSH_EVERY):
        self.fingerprint = fingerprint
        self.folder = Path(directory) / fingerprint[:16] if directory is not None else None
        self.log = logger
        self.flush_every = flush_every
        self.vectors: dict[str, torch.Tensor] = {}
        self.pending: list[str] = []  # captions not yet on disk
        if self.folder is not None and self.folder.is_dir():
            self._load()

    def __contains__(self, caption: str) -> bool:
        return caption in self.vectors

    def _load(self) -> None:
        # names starting with "." are other processes' half-written temporary files (crossdiff.io.atomic_path)
        for shard in sorted(p for p in self.folder.glob("*.pt") if not p.name.startswith(".")):
            try:
                content = torch_load(shard)
            except UserError as e:
                self.log.warning("text cache: ignoring unreadable shard (%s)", e)
                continue
            if not isinstance(content, dict) or content.get("fingerprint") != self.fingerprint:
                self.log.warning("text cache: ignoring %s (written for other weights)", shard)
                continue
            self.vectors.update(zip(content["captions"], content["embeddings"].unbind(0)))
        if self.vectors:
            self.log.info("text cache: %d captions from %s", len(self.vectors), self.folder)

    def add(self, captions: Sequence[str], vectors: torch.Tensor) -> None:
        """vectors [N, D] float32 on the CPU, row i for captions[i]."""
        for caption, vector in zip(captions, vectors.unbind(0)):
            self.vectors[caption] = vector
        self.pending.extend(captions)
        if len(self.pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write the captions not yet on disk as one new shard (atomically); nothing if none or no folder."""
        if self.folder is None or not self.pending:
            return
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}.pt"
        shard = {"fingerprint": self.fingerprint, "captions": list(self.pending),
                 "embeddings": torch.stack([self.vectors[c] for c in self.pending])}
        try:
            torch_save(self.folder / name, shard)
        except OSError as e:  # a cache must not stop training: keep the memory cache, stop writing
            self.log.warning("text cache: cannot write %s (%s); continuing without the disk cache", self.folder, e)
            self.folder = None
        self.pending = []


class TextEncoder:
    """captions -> CLIP text features [B, D] float32 on `device` (D = 512 for ViT-B/32), no grad, cached.

    `fingerprint` identifies the weights and recipe (the cache key); `flush()` writes new cache
    entries to disk (also done every `flush_every` new captions and when the encoder is collected
    or the process exits).
    """

    def __init__(self, tower: TextTower, fingerprint: str, device: str | torch.device = "cpu",
                 cache_dir: str | os.PathLike | None = None, logger: logging.Logger | None = None,
                 flush_every: int = FLUSH_EVERY, batch_size: int = 256):
        self.tower = tower
        self.fingerprint = fingerprint
        self.device = torch.device(device)
        self.log = logger or logging.getLogger("crossdiff")
        self.batch_size = batch_size
        self.cache = EmbeddingCache(fingerprint, cache_dir, self.log, flush_every)
        self._bpe = import_clip().simple_tokenizer.SimpleTokenizer()
        self._warned: set[str] = set()
        weakref.finalize(self, self.cache.flush)  # holds the cache only, so the encoder can still be collected

    @property
    def dim(self) -> int:
        return self.tower.embed_dim

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """texts: B captions -> [B, D] float32 on `device`; each distinct caption runs CLIP once."""
        if isinstance(texts, str):
            raise TypeError("TextEncoder takes a list of captions, not a single string")
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start:start + self.batch_size]
            self.cache.add(chunk, self.encode_uncached(chunk).cpu())
        if not texts:
            return torch.zeros(0, self.dim, device=self.device)
        return torch.stack([self.cache.vectors[t] for t in texts]).to(self.device)

    @torch.no_grad()
    def encode_uncached(self, texts: Sequence[str]) -> torch.Tensor:
        """Run CLIP (no cache): texts -> [B, D] float32 on `device`."""
        self._warn_truncated(texts)
        tokens = tokenize(texts, pad_to=CONTEXT_LENGTH).to(self.device)
        return self.tower(tokens).float()

    def flush(self) -> None:
        self.cache.flush()

    def _warn_truncated(self, texts: Sequence[str]) -> None:
        for text in texts:
            if text not in self._warned and len(self._bpe.encode(text)) > CONTEXT_LENGTH - 2:
                self._warned.add(text)
                self.log.warning("caption longer than %d CLIP tokens, truncated as the reference does "
                                 "(docs/original_code.md §5.9): %r", CONTEXT_LENGTH - 2, text)


def build_text_encoder(clip_path: str | os.PathLike = "data/clip/ViT-B-32.pt", clip_weights: str = "file",
                       cache_dir: str | os.PathLike | None = "data/clip_cache", device: str | torch.device = "cpu",
                       logger: logging.Logger | None = None, half: bool | None = None) -> TextEncoder:
    """The `text_encoder:` config section (+ device, logger) -> a frozen, cached TextEncoder.

    clip_weights: "file" loads `clip_path` (the official TorchScript ViT-B-32.pt or a CLIP state_dict);
    "random" uses seeded random ViT-B/32 weights (tests and the synthetic demo only; logged as a warning).
    half: compute in fp16 (default: on CUDA only, as the reference; CPU computes in float32).
    """
    log = logger or logging.getLogger("crossdiff")
    device = torch.device(device)
    half = device.type == "cuda" if half is None else half
    start = time.perf_counter()
    if clip_weights == "file":
        tower, source = load_text_tower(clip_path), str(clip_path)
    elif clip_weights == "random":
        tower, source = random_text_tower(RANDOM_SEED), f"RANDOM weights (seed {RANDOM_SEED})"
        log.warning("text_encoder.clip_weights=random: the CLIP text features come from random weights; "
                    "use this only for tests and the synthetic demo, never for real training or evaluation")
    else:
        raise UserError(f"text_encoder.clip_weights={clip_weights!r} is not one of {list(WEIGHT_CHOICES)}")
    fingerprint = prepare_tower(tower, half)
    tower.to(device)
    log.info("CLIP text encoder from %s: %d layers, width %d, %d-d output, %s compute, %.1fs (fingerprint %s)",
             source, len(tower.transformer.resblocks), tower.transformer.width, tower.embed_dim,
             "fp16" if half else "fp32", time.perf_counter() - start, fingerprint[:16])
    return TextEncoder(tower, fingerprint, device, cache_dir, log)
