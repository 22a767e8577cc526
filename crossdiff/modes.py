"""Train/eval switching that restores what was there before: the one helper for it in the package.

It matters because eval mode turns off dropout and the condition dropout of classifier-free guidance:
sampling or evaluating in train mode gives noisier, unguided results, and the reference never
switched back to train mode after evaluating (docs/original_code.md §13.2), so training continued
without dropout. Every module's own flag is restored, not just the outer one, so a submodule that
was deliberately frozen in eval mode stays so.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def module_mode(*modules: torch.nn.Module, training: bool) -> Iterator[None]:
    """Put `modules` (and all their submodules) in train (`training=True`) or eval mode inside the block;
    afterwards, also after an exception, every submodule gets its previous flag back."""
    previous = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.train(training)
    try:
        yield
    finally:
        for m, flag in previous:
            m.training = flag
