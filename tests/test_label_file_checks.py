"""Label files that break the label format: refused on opening in one line naming the
dataset, not a traceback from stats, export or review (issue 14, case 7)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app.labels.sidecar import LabelReader, LabelsError
from app.labels.sidecar_writer import LabelWriter
from app.labels.store import LabelStore
from tests.broken_inputs import (
    assert_one_line_error,
    broken_copy,
    leg_session,
    replace_dataset,
    run_cli,
)
from tests.thermal_sessions import write_labels, write_thermal_session

N, H, W = 4, 6, 8


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    session = write_thermal_session(root / "s.h5", np.full((N, H, W), 30.0))
    masks = np.zeros((N, H, W), np.uint8)
    masks[:, 2:4, 2:6] = 1
    return session, write_labels(root / "s.labels.h5", session, masks)


def _attr(key, value):
    def edit(f):
        f.attrs[key] = value

    return edit


def _status(values):
    return lambda f: replace_dataset(f, "thermal/status", np.asarray(values, np.uint8))


CASES = {
    "classes-not-json": (
        _attr("classes", "background, left_calf"),
        "attribute 'classes' is not JSON",
    ),
    "classes-not-names": (_attr("classes", '{"0": "background"}'), "is not a JSON list of names"),
    "status-missing": (lambda f: f["thermal"].__delitem__("status"), "/thermal/status is missing"),
    "status-out-of-range": (_status([0, 1, 7, 0]), "/thermal/status holds code 7, outside 0-3"),
    "status-wrong-length": (_status([0, 1]), "/thermal/status is (2,), expected (4,)"),
    "source-float": (
        lambda f: replace_dataset(f, "thermal/source", np.ones(N, np.float32)),
        "/thermal/source is float32, not integer values",
    ),
    "float-masks": (
        lambda f: replace_dataset(f, "thermal/masks", np.zeros((N, H, W), np.float32)),
        "/thermal/masks is float32 of shape (4, 6, 8), not (N, H, W) uint8 class ids",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_label_files_breaking_the_format_are_refused_in_one_line(files, tmp_path, capsys, case):
    session, labels = files
    edit, message = CASES[case]
    bad = broken_copy(labels, tmp_path / "bad.labels.h5", edit)
    before = bad.read_bytes()
    with pytest.raises(LabelsError, match=re.escape(message)):
        LabelReader(bad)
    with pytest.raises(LabelsError, match=re.escape(message)):
        LabelStore.open(bad, session)  # the review window's way in
    code, _, err = run_cli(capsys, "stats", session, "--labels", bad)
    assert_one_line_error(code, err, str(bad), message)
    assert bad.read_bytes() == before


def test_evaluate_refuses_masks_of_another_size_than_the_frames(tmp_path, capsys):
    """Case 7: `evaluate` raised "masks of different shapes" from the IoU engine."""
    session = leg_session(tmp_path / "legs.h5")
    labels = tmp_path / "small.labels.h5"
    with LabelWriter(
        labels, session=session, classes=("background", "left_calf", "right_calf")
    ) as w:
        w.create_stream("thermal", 8, (64, 80))
        for i in range(8):
            w.write("thermal", i, np.zeros((64, 80), np.uint8), 1)
    code, _, err = run_cli(capsys, "evaluate", labels, "--truth", session)
    assert_one_line_error(code, err, "thermal masks of 80x64", "are 160x128")
