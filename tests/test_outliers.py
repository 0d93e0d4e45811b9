"""calibration.outliers: the rule for dropping views, and the refit loop around it."""

from __future__ import annotations

import numpy as np

from calibration.outliers import refit_without_outliers, worst_outlier

#: Each view's error, as if it did not depend on the other views.
ERRORS = {10: 0.30, 11: 0.32, 12: 0.29, 13: 2.0, 14: 0.31, 15: 1.2}


def _fit(fits: list[list[int]]):
    def fit(used: list[int]) -> tuple[str, np.ndarray]:
        fits.append(list(used))
        return f"fit of {len(used)}", np.array([ERRORS[k] for k in used])

    return fit


def test_worst_outlier_needs_both_the_factor_and_the_excess():
    assert worst_outlier(np.array([0.3, 0.3, 2.0]), 2.5, 0.1) == (
        2,
        "error 2.00 px > 0.75 px (2.5× median)",
    )
    assert worst_outlier(np.array([0.02, 0.02, 0.06]), 2.5, 0.1) is None  # 3× but only 0.04 px


def test_refit_drops_the_worst_view_one_at_a_time_with_why():
    fits: list[list[int]] = []
    used, rejected = list(ERRORS), {}
    result, per_view = refit_without_outliers(_fit(fits), used, rejected, 2.5, 0.1, 3)
    assert fits == [[10, 11, 12, 13, 14, 15], [10, 11, 12, 14, 15], [10, 11, 12, 14]]
    assert used == [10, 11, 12, 14] and sorted(rejected) == [13, 15]
    assert rejected[13] == "error 2.00 px > 0.79 px (2.5× median)"
    assert rejected[15] == "error 1.20 px > 0.78 px (2.5× median)"  # Median 0.31 by then.
    assert result == "fit of 4" and per_view.tolist() == [0.30, 0.32, 0.29, 0.31]


def test_refit_keeps_min_views_even_with_an_outlier_among_them():
    fits: list[list[int]] = []
    used, rejected = [10, 11, 13], {}
    result, per_view = refit_without_outliers(_fit(fits), used, rejected, 2.5, 0.1, 3)
    assert fits == [[10, 11, 13]] and used == [10, 11, 13] and rejected == {}
    assert result == "fit of 3" and per_view.max() == 2.0
