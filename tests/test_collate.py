"""Collate functions: the batch dicts of docs/original_code.md §2.7 (layout [B, C, 1, T], masks, sent_len order)."""

from __future__ import annotations

import numpy as np
import torch

from crossdiff.data.collate import eval_collate, train_collate

FRAMES = 16


def train_item(rng, length: int, text: str, valid: bool = True) -> dict:
    def padded(width):
        array = np.zeros((FRAMES, width), np.float32)
        array[:length] = rng.normal(size=(length, width))
        return array

    return {"text": text, "motion": padded(263), "joint": padded(134), "length": length, "valid": valid,
            "motion_mask": padded(263) > 0, "joint_mask": (padded(134) > 0).astype(np.float32)}


def eval_item(rng, length: int, sent_len: int) -> dict:
    item = train_item(rng, length, f"caption {sent_len}")
    del item["motion_mask"], item["joint_mask"]
    item.update(word_embeddings=rng.normal(size=(22, 300)).astype(np.float32),
                pos_one_hots=np.eye(15, dtype=np.float32)[rng.integers(15, size=22)],
                sent_len=sent_len, tokens=f"tokens of {sent_len}")
    return item


def test_train_batch_layout_and_masks():
    rng = np.random.default_rng(0)
    items = [train_item(rng, 12, "a"), train_item(rng, 4, "b", valid=False), train_item(rng, 16, "c")]
    batch = train_collate(items)
    assert batch["motion"].shape == (3, 263, 1, FRAMES) and batch["joint"].shape == (3, 134, 1, FRAMES)
    assert batch["motion_mask"].shape == (3, 263, 1, FRAMES) and batch["joint_mask"].dtype == torch.float32
    assert batch["motion_mask"].dtype == torch.float32
    for b, item in enumerate(items):
        np.testing.assert_array_equal(batch["motion"][b, :, 0, :].numpy(), item["motion"].T)
        np.testing.assert_array_equal(batch["joint_mask"][b, :, 0, :].numpy(), item["joint_mask"].T)
    assert batch["mask"].dtype == torch.bool and batch["mask"].shape == (3, 1, 1, FRAMES)
    assert batch["mask"][:, 0, 0].sum(1).tolist() == [12, 4, 16] and batch["mask"][1, 0, 0, :4].all()
    assert batch["lengths"].dtype == torch.int64 and batch["lengths"].tolist() == [12, 4, 16]
    assert batch["valid"].dtype == torch.bool and batch["valid"].tolist() == [True, False, True]
    assert batch["text"] == ["a", "b", "c"]


def test_eval_batch_is_sorted_by_sent_len_descending_with_every_field():
    rng = np.random.default_rng(1)
    items = [eval_item(rng, 8, 5), eval_item(rng, 12, 22), eval_item(rng, 4, 9), eval_item(rng, 16, 9)]
    batch = eval_collate(items)
    order = [1, 2, 3, 0]                                         # 22, 9, 9 (stable), 5
    assert batch["sent_len"].tolist() == [22, 9, 9, 5] and batch["sent_len"].dtype == torch.int64
    assert batch["lengths"].tolist() == [items[i]["length"] for i in order]
    assert batch["text"] == [items[i]["text"] for i in order]
    assert batch["tokens"] == [items[i]["tokens"] for i in order]
    assert batch["word_embeddings"].shape == (4, 22, 300) and batch["pos_one_hots"].shape == (4, 22, 15)
    for b, i in enumerate(order):
        np.testing.assert_array_equal(batch["word_embeddings"][b].numpy(), items[i]["word_embeddings"])
        np.testing.assert_array_equal(batch["motion"][b, :, 0].numpy(), items[i]["motion"].T)
        assert batch["mask"][b, 0, 0].sum() == items[i]["length"]
    assert "motion_mask" not in batch
