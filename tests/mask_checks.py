"""Mask figures the tests compute by hand (independently of app.analysis.quality)."""

from __future__ import annotations

import numpy as np


def calf_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Mean IoU of the two calves (classes 1 and 2); a class absent from both counts 1."""
    ious = []
    for c in (1, 2):
        union = np.count_nonzero((a == c) | (b == c))
        ious.append(np.count_nonzero((a == c) & (b == c)) / union if union else 1.0)
    return float(np.mean(ious))
