"""crossdiff.modes.module_mode: the one train/eval switch restores every submodule's flag, even on error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from crossdiff.modes import module_mode


def _nested() -> nn.Module:
    """Outer (training) > inner (frozen in eval on purpose) > dropout, plus a training sibling."""
    inner = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    inner.eval()
    return nn.Sequential(inner, nn.Dropout(0.5))


def _flags(module: nn.Module) -> list[bool]:
    return [m.training for m in module.modules()]


@pytest.mark.parametrize("training", [False, True])
def test_every_submodule_is_switched_inside_and_restored_after(training):
    model = _nested()
    before = _flags(model)
    assert len(set(before)) == 2  # a mixed start, so restoring the outer flag alone would be wrong
    with module_mode(model, training=training):
        assert _flags(model) == [training] * len(before)
    assert _flags(model) == before


def test_flags_are_restored_when_the_block_raises():
    model, other = _nested(), nn.Dropout(0.1).eval()
    before, other_before = _flags(model), other.training
    with pytest.raises(RuntimeError, match="boom"):
        with module_mode(model, other, training=True):
            assert other.training and all(_flags(model))
            raise RuntimeError("boom")
    assert _flags(model) == before and other.training == other_before


def test_nested_blocks_unwind_in_order():
    model = _nested()
    before = _flags(model)
    with module_mode(model, training=False):
        with module_mode(model[0], training=True):
            assert model[0].training and not model.training and not model[1].training
        assert not any(_flags(model))
    assert _flags(model) == before


def test_eval_mode_turns_dropout_off():
    dropout = nn.Dropout(0.5).train()
    x = torch.ones(1000)
    with module_mode(dropout, training=False):
        assert torch.equal(dropout(x), x)
    assert not torch.equal(dropout(x), x)
