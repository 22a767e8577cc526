"""Interval means for training logs: each report averages only the steps since the previous one.

(The reference reported running means since the process started, docs/original_code.md §13.15.)
"""

from __future__ import annotations

import time
from collections import defaultdict


class IntervalLog:
    def __init__(self):
        self._sums: dict[str, float] = defaultdict(float)
        self._count = 0
        self._start = time.perf_counter()

    def add(self, **values) -> None:
        for key, value in values.items():
            self._sums[key] += float(value)
        self._count += 1

    def flush(self) -> tuple[dict[str, float], float]:
        """Return `(mean of each key over the interval, steps per second)` and start a new interval."""
        elapsed = time.perf_counter() - self._start
        means = {k: v / self._count for k, v in self._sums.items()} if self._count else {}
        rate = self._count / elapsed if elapsed > 0 else 0.0
        self._sums.clear()
        self._count = 0
        self._start = time.perf_counter()
        return means, rate
