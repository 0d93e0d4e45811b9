"""The one IoU engine (models.metrics) on masks small enough to count by hand."""

import numpy as np
import pytest

from models.metrics import boundary_distance_sums, class_counts, dice, iou, joint_histogram


def test_joint_histogram_keeps_unknown_and_stray_ids_apart():
    a = np.array([[0, 1, 1], [2, 255, 7]], np.uint8)
    b = np.array([[0, 1, 2], [2, 1, 255]], np.uint8)
    j = joint_histogram(a, b, 3)
    assert j.shape == (5, 5) and j.sum() == a.size
    assert j[0, 0] == 1 and j[1, 1] == 1 and j[1, 2] == 1 and j[2, 2] == 1
    assert j[3, 1] == 1  # unknown in a, 1 in b
    assert j[4, 3] == 1  # id 7 is no class: its own bin, not folded into one


def test_iou_and_dice_from_counts_and_nan_for_an_absent_class():
    a = np.array([1, 1, 1, 0, 0, 2], np.uint8)
    b = np.array([1, 1, 0, 0, 1, 0], np.uint8)
    tp, fp, fn = class_counts(joint_histogram(a, b, 4), 4)
    assert tp.tolist() == [1, 2, 0, 0] and fp.tolist() == [2, 1, 0, 0]
    assert fn.tolist() == [1, 1, 1, 0]
    got = iou(tp, fp, fn)
    assert got[1] == pytest.approx(2 / 4) and got[0] == pytest.approx(1 / 4)
    assert got[2] == 0.0 and np.isnan(got[3])
    assert dice(tp, fp, fn)[1] == pytest.approx(4 / 6)


def test_masks_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="shapes"):
        joint_histogram(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), 2)


def test_boundary_distance_of_a_shifted_square_is_its_shift_on_the_sides_it_crosses():
    a = np.zeros((50, 60), np.uint8)
    a[10:30, 10:30] = 1
    b = np.zeros_like(a)
    b[10:30, 13:33] = 1  # 3 px to the right
    assert boundary_distance_sums(a, a, 2) == (0.0, 152)  # 4 * 20 - 4 border pixels, twice
    total, count = boundary_distance_sums(a, b, 2)
    # The vertical sides (2 x 20 px, each way) are 3 px off; the horizontal ones lie on
    # each other where the squares overlap and 1-3 px off where they do not.
    assert count == 152 and 3 * 80 > total > 3 * 76 - 3 * 20
    b[b == 1] = 255  # unknown is no class: nothing to compare
    assert boundary_distance_sums(a, b, 2) == (0.0, 0)
