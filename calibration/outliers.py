"""The one rule for dropping a view from a fit, shared by intrinsics and stereo.

A view is an outlier when its error is over ``reject_factor`` × the median *and* over
the median by ``min_excess`` px — the second clause keeps a very good fit (median
0.02 px) from throwing away views that are merely 0.05 px.
"""

from __future__ import annotations

import numpy as np


def worst_outlier(
    per_view: np.ndarray, reject_factor: float, min_excess: float
) -> tuple[int, str] | None:
    """Position of the worst view and why it is rejected, or None if none is an outlier."""
    med = float(np.median(per_view))
    limit = max(reject_factor * med, med + min_excess)
    worst = int(np.argmax(per_view))
    if per_view[worst] <= limit:
        return None
    return worst, f"error {per_view[worst]:.2f} px > {limit:.2f} px ({reject_factor:g}× median)"
