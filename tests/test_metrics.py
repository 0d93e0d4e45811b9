"""The one IoU engine (models.metrics) on masks small enough to count by hand."""

import numpy as np
import pytest

from models.metrics import class_counts, dice, iou, joint_histogram


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
