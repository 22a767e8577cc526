"""The T2M text-motion evaluator (Guo et al., CVPR 2022) with the official checkpoint layout.

Networks and key names as the original's: docs/original_code.md §9.1.

Three networks: `MovementConvEncoder` turns features `[B, T, C]` into movement tokens
`[B, T/4, 512]`, `MotionEncoderBiGRUCo` reads those into a motion embedding `[B, 512]`, and
`TextEncoderBiGRUCo` reads GloVe vectors + POS one-hots into a text embedding `[B, 512]`.
`T2MEvaluator` bundles them with the feature columns of one body part (all / upper / lower,
docs/original_code.md §9.2), loads official files (`all.tar`, `upper.tar`, `lower.tar`, `finest.tar`, gzip
accepted) strictly, and writes its own in the same layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from crossdiff.errors import UserError
from crossdiff.io import torch_load, torch_save
from crossdiff.modes import module_mode
from crossdiff.skeleton import get_skeleton

PARTS = ("all", "upper", "lower")
UNIT_LENGTH = 4            # frames per movement token: two stride-2 convolutions
NETWORK_KEYS = ("movement_encoder", "text_encoder", "motion_encoder")
CONTACT_COLUMNS = 4        # foot contacts close every feature vector; no evaluator reads them


def _feature_groups(joints_num: int) -> dict[str, np.ndarray]:
    """Column numbers of each joint's features in the 263-d (t2m) / 251-d (kit) layout (docs/original_code.md §3.1).

    Returns root [4], ric [J-1, 3] (row j-1 for joint j), rot [J-1, 6] (same rows), vel [J, 3].
    """
    ric_start = 4
    rot_start = ric_start + 3 * (joints_num - 1)
    vel_start = rot_start + 6 * (joints_num - 1)
    return {
        "root": np.arange(4),
        "ric": ric_start + np.arange(3 * (joints_num - 1)).reshape(-1, 3),
        "rot": rot_start + np.arange(6 * (joints_num - 1)).reshape(-1, 6),
        "vel": vel_start + np.arange(3 * joints_num).reshape(-1, 3),
    }


def eval_feature_index(part: str = "all", skeleton="t2m") -> np.ndarray:
    """Ascending feature columns an evaluator of `part` reads: 259 / 156 / 103 for t2m (docs/original_code.md §9.2).

    `all` is every column but the foot contacts. `lower` is the root plus the ric, rot and velocity
    columns of the lower-body joints; `upper` is everything else except the contacts.
    """
    if part not in PARTS:
        raise UserError(f"unknown evaluator part {part!r}; choose one of {', '.join(PARTS)}")
    sk = get_skeleton(skeleton)
    contacts_start = sk.feature_dim - CONTACT_COLUMNS
    if part == "all":
        return np.arange(contacts_start)
    groups = _feature_groups(sk.joints_num)
    lower_joints = np.array(sorted(sk.lower_body))
    non_root = lower_joints[lower_joints > 0] - 1
    lower = np.concatenate([groups["root"], groups["ric"][non_root].ravel(), groups["rot"][non_root].ravel(),
                            groups["vel"][lower_joints].ravel()])
    is_lower = np.zeros(sk.feature_dim, dtype=bool)
    is_lower[lower] = True
    columns = np.flatnonzero(is_lower if part == "lower" else ~is_lower)
    return columns[columns < contacts_start]   # neither part reads the foot contacts


class MovementConvEncoder(nn.Module):
    """Features `[B, T, input_size]` -> movement tokens `[B, T/4, output_size]` (two stride-2 convs)."""

    def __init__(self, input_size: int, hidden_size: int = 512, output_size: int = 512):
        super().__init__()
        # Indices 0 and 3 are the key names of the official checkpoint (`main.0`, `main.3`).
        self.main = nn.Sequential(
            nn.Conv1d(input_size, hidden_size, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden_size, output_size, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(output_size, output_size)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.out_net(self.main(features.permute(0, 2, 1)).permute(0, 2, 1))


class _BiGRUCoEncoder(nn.Module):
    """Linear input embedding, a 1-layer bidirectional GRU from a learned state, and an MLP head."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.input_emb = nn.Linear(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = nn.Sequential(
            nn.Linear(2 * hidden_size, hidden_size), nn.LayerNorm(hidden_size), nn.LeakyReLU(0.2),
            nn.Linear(hidden_size, output_size),
        )
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden_size))   # learned initial state, both directions

    def _encode(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """inputs [B, L, input_size], lengths [B] -> [B, output_size]; steps past a length are ignored."""
        embedded = self.input_emb(inputs)
        initial = self.hidden.repeat(1, inputs.shape[0], 1)
        # enforce_sorted=False: any order works; the result equals the reference's sorted packing.
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, last = self.gru(packed, initial)                    # [2, B, hidden]: forward, backward
        return self.output_net(torch.cat([last[0], last[1]], dim=-1))


class TextEncoderBiGRUCo(_BiGRUCoEncoder):
    """GloVe vectors `[B, 22, 300]` + POS one-hots `[B, 22, 15]` + lengths `[B]` -> `[B, 512]`."""

    def __init__(self, word_size: int = 300, pos_size: int = 15, hidden_size: int = 512, output_size: int = 512):
        super().__init__(word_size, hidden_size, output_size)
        self.pos_emb = nn.Linear(pos_size, word_size)

    def forward(self, word_embs: torch.Tensor, pos_ohot: torch.Tensor, cap_lens: torch.Tensor) -> torch.Tensor:
        return self._encode(word_embs + self.pos_emb(pos_ohot), cap_lens)


class MotionEncoderBiGRUCo(_BiGRUCoEncoder):
    """Movement tokens `[B, T/4, 512]` + token counts `[B]` -> `[B, 512]`."""

    def __init__(self, input_size: int = 512, hidden_size: int = 1024, output_size: int = 512):
        super().__init__(input_size, hidden_size, output_size)

    def forward(self, movements: torch.Tensor, token_lens: torch.Tensor) -> torch.Tensor:
        return self._encode(movements, token_lens)


def length_order(m_lens) -> np.ndarray:
    """Batch order by motion length, longest first: numpy argsort reversed (docs/original_code.md §9.3)."""
    lengths = m_lens.cpu().numpy() if torch.is_tensor(m_lens) else np.asarray(m_lens)
    return np.argsort(lengths)[::-1].copy()


def _init_weights(module: nn.Module) -> None:
    """Xavier-normal weights and zero biases for convolutions and linear layers (T2M's initialisation)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv1d, nn.Linear)):
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)


def evaluator_file(folder, part: str = "all") -> Path:
    """The evaluator checkpoint of `part` in `folder`: `<part>.tar` (or `.tar.gz`); for `all` also `finest.tar`."""
    folder = Path(folder)
    names = [f"{part}.tar", f"{part}.tar.gz"] + (["finest.tar", "finest.tar.gz"] if part == "all" else [])
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"no {part!r} evaluator in {folder} (looked for {', '.join(names)}); run "
                    f"`bash prepare/download_t2m_evaluators.sh`, or train one with train_evaluator.py")


def _part_hint(input_width: int, skeleton) -> str:
    """' (a lower evaluator: pass part=lower)' when `input_width` matches another body part."""
    for part in PARTS:
        if len(eval_feature_index(part, skeleton)) == input_width:
            return f"; the file holds the {part!r} evaluator, select it with part={part} (eval_part={part})"
    return ""


class T2MEvaluator(nn.Module):
    """The three evaluator networks for one body part, plus the feature columns that part reads.

    The constructor builds untrained networks (T2M's initialisation); `load` reads an official or
    self-trained checkpoint; `checkpoint()` / `save` write the official layout. Embedding methods
    take tensors or arrays and return tensors on the evaluator's device.
    """

    def __init__(self, part: str = "all", skeleton="t2m"):
        super().__init__()
        self.part = part
        self.skeleton = get_skeleton(skeleton)
        self.register_buffer("eval_index", torch.from_numpy(eval_feature_index(part, skeleton)), persistent=False)
        self.movement_encoder = MovementConvEncoder(len(self.eval_index))
        self.text_encoder = TextEncoderBiGRUCo()
        self.motion_encoder = MotionEncoderBiGRUCo()
        _init_weights(self)
        self.eval()

    @property
    def device(self) -> torch.device:
        return self.eval_index.device

    @classmethod
    def load(cls, path, part: str = "all", skeleton="t2m", device="cpu") -> "T2MEvaluator":
        """Read `path` (a checkpoint file, or a folder holding `<part>.tar` / `finest.tar`) strictly."""
        path = Path(path)
        if path.is_dir():
            path = evaluator_file(path, part)
        evaluator = cls(part, skeleton)
        evaluator.load_networks(torch_load(path), source=path)
        return evaluator.to(device)

    def load_networks(self, checkpoint, source="<checkpoint>") -> None:
        """Load the three state_dicts of an official-layout dict; any missing key or shape is a UserError."""
        if not isinstance(checkpoint, dict):
            raise UserError(f"{source}: expected a dict with keys {', '.join(NETWORK_KEYS)}, got {type(checkpoint).__name__}")
        for name in NETWORK_KEYS:
            if name not in checkpoint:
                raise UserError(f"{source}: missing key {name!r}; a T2M evaluator checkpoint holds "
                                f"{', '.join(NETWORK_KEYS)} (found {', '.join(map(str, checkpoint))})")
            self._check_state(name, checkpoint[name], source)
        for name in NETWORK_KEYS:
            getattr(self, name).load_state_dict(checkpoint[name], strict=True)

    def _check_state(self, name: str, state, source) -> None:
        expected = getattr(self, name).state_dict()
        if not isinstance(state, dict):
            raise UserError(f"{source}: {name!r} is a {type(state).__name__}, expected a state_dict")
        missing, unexpected = sorted(expected.keys() - state.keys()), sorted(state.keys() - expected.keys())
        if missing or unexpected:
            key, problem = (missing[0], "is missing") if missing else (unexpected[0], "is not an evaluator key")
            raise UserError(f"{source}: {name}.{key} {problem} ({len(missing)} missing, {len(unexpected)} unexpected keys)")
        for key, tensor in expected.items():
            shape = tuple(getattr(state[key], "shape", ()))
            if shape != tuple(tensor.shape):
                hint = _part_hint(shape[1], self.skeleton) if key == "main.0.weight" and len(shape) == 3 else ""
                raise UserError(f"{source}: {name}.{key} has shape {list(shape)}, the {self.part!r} evaluator "
                                f"expects {list(tensor.shape)}{hint}")

    def checkpoint(self, epoch: int = 0, iteration: int = 0, opt_text_encoder: dict | None = None,
                   opt_motion_encoder: dict | None = None) -> dict:
        """The official layout: the three state_dicts, the two Adam state_dicts, `epoch` and `iter`.

        Missing optimiser states are written as fresh Adam states, as the official loader ignores them.
        """
        def fresh_adam(module: nn.Module) -> dict:
            return torch.optim.Adam(module.parameters()).state_dict()

        return {
            "text_encoder": self.text_encoder.state_dict(),
            "motion_encoder": self.motion_encoder.state_dict(),
            "movement_encoder": self.movement_encoder.state_dict(),
            "opt_text_encoder": opt_text_encoder if opt_text_encoder is not None else fresh_adam(self.text_encoder),
            "opt_motion_encoder": opt_motion_encoder if opt_motion_encoder is not None else fresh_adam(self.motion_encoder),
            "epoch": int(epoch),
            "iter": int(iteration),
        }

    def save(self, path, **checkpoint_fields) -> None:
        """Write `checkpoint(**checkpoint_fields)` atomically (readable by `load` and the official code)."""
        torch_save(path, self.checkpoint(**checkpoint_fields))

    def _as_tensor(self, values, dtype=torch.float32) -> torch.Tensor:
        return torch.as_tensor(values, dtype=dtype, device=self.device)

    def embed_text(self, word_embs, pos_ohot, cap_lens) -> torch.Tensor:
        """[B, 22, 300], [B, 22, 15], [B] -> text embeddings [B, 512] in input order (gradients on)."""
        return self.text_encoder(self._as_tensor(word_embs), self._as_tensor(pos_ohot),
                                 self._as_tensor(cap_lens, torch.int64))

    def movements(self, motions) -> torch.Tensor:
        """Evaluator-normalised features [B, T, 263] -> movement tokens [B, T/4, 512] of this part's columns."""
        motions = self._as_tensor(motions)
        if motions.shape[-1] != self.skeleton.feature_dim:
            raise UserError(f"motions have {motions.shape[-1]} features per frame; the {self.skeleton.name} "
                            f"evaluator expects {self.skeleton.feature_dim}")
        return self.movement_encoder(motions[..., self.eval_index])

    def embed_motion(self, motions, m_lens) -> torch.Tensor:
        """[B, T, 263] features and lengths [B] in frames -> motion embeddings [B, 512] in input order.

        The GRU reads the first m_len // 4 movement tokens; all T frames go through the convolutions,
        so padding next to the end of a motion still touches its last tokens, as in the reference.
        """
        token_lens = self._as_tensor(m_lens, torch.int64) // UNIT_LENGTH
        if bool((token_lens < 1).any()):
            raise UserError(f"motion lengths must be at least {UNIT_LENGTH} frames, got {m_lens}")
        return self.motion_encoder(self.movements(motions), token_lens)

    def get_co_embeddings(self, word_embs, pos_ohot, cap_lens, motions, m_lens) -> tuple[torch.Tensor, torch.Tensor]:
        """(text_emb [B, 512], motion_emb [B, 512]), both reordered by `length_order(m_lens)` like the reference.

        Eval mode and no gradients; the previous train/eval mode is restored afterwards.
        """
        order = torch.from_numpy(length_order(m_lens)).to(self.device)
        with module_mode(self, training=False), torch.no_grad():
            text_emb = self.embed_text(word_embs, pos_ohot, cap_lens)
            motion_emb = self.embed_motion(motions, m_lens)
        return text_emb[order], motion_emb[order]

    def get_motion_embeddings(self, motions, m_lens) -> torch.Tensor:
        """Motion embeddings [B, 512] in `length_order(m_lens)` order, as `get_co_embeddings` returns them."""
        order = torch.from_numpy(length_order(m_lens)).to(self.device)
        with module_mode(self, training=False), torch.no_grad():
            return self.embed_motion(motions, m_lens)[order]
