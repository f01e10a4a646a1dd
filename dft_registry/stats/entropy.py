"""Entropy in bits, from counts."""

from __future__ import annotations

import math
from collections.abc import Iterable


def shannon_entropy(counts: Iterable[int]) -> float:
    """Entropy (bits) of the distribution proportional to ``counts``; 0.0 when empty."""
    values = [c for c in counts if c > 0]
    total = sum(values)
    if total == 0:
        return 0.0
    return -sum(c / total * math.log2(c / total) for c in values) + 0.0
