"""Batching items into the dicts the training loop and the evaluator read (docs/original_code.md §2.7).

Per-frame arrays `[T, C]` become `[B, C, 1, T]` (the MDM layout). Train batch (`train_collate`):
    motion [B, 263, 1, T] float, joint [B, 134, 1, T] float,
    motion_mask [B, 263, 1, T] float, joint_mask [B, 134, 1, T] float,
    mask [B, 1, 1, T] bool (frame < length), lengths [B] int64, valid [B] bool, text list[str]
Evaluation batch (`eval_collate`, the reference's t2m_collate), sorted by `sent_len` descending
(the evaluator packs its GRU input):
    motion, joint, mask, lengths, valid, text as above, word_embeddings [B, 22, 300] float,
    pos_one_hots [B, 22, 15] float, sent_len [B] int64, tokens list[str]
"""

from __future__ import annotations

import numpy as np
import torch

FRAME_KEYS = ("motion", "joint", "motion_mask", "joint_mask")


def _frames_to_channels(arrays: list[np.ndarray]) -> torch.Tensor:
    """B arrays [T, C] -> [B, C, 1, T] float32."""
    return torch.from_numpy(np.stack(arrays)).float().permute(0, 2, 1).unsqueeze(2).contiguous()


def _common(items: list[dict]) -> dict:
    lengths = torch.tensor([item["length"] for item in items], dtype=torch.int64)
    frames = items[0]["motion"].shape[0]
    batch = {key: _frames_to_channels([item[key] for item in items]) for key in FRAME_KEYS if key in items[0]}
    batch["mask"] = (torch.arange(frames)[None, :] < lengths[:, None]).reshape(len(items), 1, 1, frames)
    batch["lengths"] = lengths
    batch["valid"] = torch.tensor([bool(item["valid"]) for item in items], dtype=torch.bool)
    batch["text"] = [item["text"] for item in items]
    return batch


def train_collate(items: list[dict]) -> dict:
    """Train items -> the train batch dict."""
    return _common(items)


def eval_collate(items: list[dict]) -> dict:
    """Evaluation items -> the evaluation batch dict, sorted by sent_len (longest caption first)."""
    items = sorted(items, key=lambda item: item["sent_len"], reverse=True)
    batch = _common(items)
    batch["word_embeddings"] = torch.from_numpy(np.stack([item["word_embeddings"] for item in items])).float()
    batch["pos_one_hots"] = torch.from_numpy(np.stack([item["pos_one_hots"] for item in items])).float()
    batch["sent_len"] = torch.tensor([item["sent_len"] for item in items], dtype=torch.int64)
    batch["tokens"] = [item["tokens"] for item in items]
    return batch
