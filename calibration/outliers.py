"""The one rule for dropping a view from a fit, shared by intrinsics and stereo.

A view is an outlier when its error is over ``reject_factor`` × the median *and* over
the median by ``min_excess`` px — the second clause keeps a very good fit (median
0.02 px) from throwing away views that are merely 0.05 px.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import numpy as np

R = TypeVar("R")


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


def refit_without_outliers(
    fit: Callable[[list], tuple[R, np.ndarray]],
    used: list,
    rejected: dict[Hashable, str],
    reject_factor: float,
    min_excess: float,
    min_views: int,
) -> tuple[R, np.ndarray]:
    """Fit on ``used``, then drop the worst outlier (into ``rejected``, with why) and fit
    again, one view at a time, until none stands out or only ``min_views`` are left.
    ``fit(used)`` returns its result and the per-view errors in ``used``'s order; both
    lists are changed in place and the last fit's (result, per-view errors) returned."""
    while True:
        result, per_view = fit(used)
        outlier = worst_outlier(per_view, reject_factor, min_excess)
        if outlier is None or len(used) <= min_views:
            return result, per_view
        worst, why = outlier
        rejected[used[worst]] = why
        del used[worst]
