"""Temperature curves on hand-made sessions whose figures are worked out by hand."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from app.analysis.curves import (
    DEFAULT_ERODE_PX,
    compute_curves,
    erode,
    frame_stats,
    summarize,
    theil_sen,
)
from app.labels.sidecar import (
    SOURCE_NONE,
    SOURCE_PROJECTED,
    STATUS_ACCEPTED,
    STATUS_REJECTED,
    STATUS_UNREVIEWED,
    LabelsError,
)
from drivers.errors import SessionError
from tests.thermal_sessions import write_labels, write_thermal_session

N, H, W = 4, 8, 10


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    """Background 20 °C + i. left_calf: 3x4 pixels, columns 30.5, 31, 31.5, 32 °C (+ i);
    right_calf: 6 pixels, five at 33 °C and one at 36 °C (+ i). Frame 1 is rejected,
    frame 2's mask lacks right_calf, frame 3 is unlabeled."""
    d = tmp_path_factory.mktemp("curves")
    celsius = np.zeros((N, H, W))
    masks = np.zeros((N, H, W), np.uint8)
    for i in range(N):
        celsius[i] = 20.0 + i
        celsius[i, 1:4, 1:5] = 30.0 + 0.5 * np.arange(1, 5) + i
        celsius[i, 5:7, 6:9] = 33.0 + i
        celsius[i, 6, 8] = 36.0 + i
        masks[i, 1:4, 1:5] = 1
        if i != 2:
            masks[i, 5:7, 6:9] = 2
    session = write_thermal_session(d / "s.h5", celsius, fps=10.0, t0=100.0)
    labels = write_labels(
        d / "l.h5",
        session,
        masks,
        source=[SOURCE_PROJECTED] * 3 + [SOURCE_NONE],
        status=[STATUS_ACCEPTED, STATUS_REJECTED, STATUS_UNREVIEWED, STATUS_UNREVIEWED],
    )
    return session, labels, d


def test_mean_median_max_and_gaps(hand):
    session, labels, _ = hand
    c = compute_curves(session, labels, erode_px=0)
    assert c.classes == ["left_calf", "right_calf"] and len(c) == N
    assert np.array_equal(c.frames, np.arange(N))
    # The session starts with its first depth frame, one period before the thermal one.
    assert np.allclose(c.time, [0.1, 0.2, 0.3, 0.4])
    left, right = 0, 1
    assert c.mean[0, left] == pytest.approx(31.25, abs=1e-3)
    assert c.median[0, left] == pytest.approx(31.25, abs=1e-3)
    assert c.max[0, left] == pytest.approx(32.0, abs=1e-3)
    assert c.mean[0, right] == pytest.approx(33.5, abs=1e-3)
    assert c.median[0, right] == pytest.approx(33.0, abs=1e-3)
    assert c.max[0, right] == pytest.approx(36.0, abs=1e-3)
    assert c.count[0].tolist() == [12, 6]
    # Frame 1 rejected, frame 3 unlabeled: NaN, no pixels.
    for i in (1, 3):
        assert np.isnan(c.mean[i]).all() and np.isnan(c.max[i]).all() and c.count[i].sum() == 0
    # Frame 2: left calf there (+2 °C), right calf not in the mask.
    assert c.mean[2, left] == pytest.approx(33.25, abs=1e-3)
    assert np.isnan(c.mean[2, right]) and c.count[2, right] == 0
    assert np.array_equal(c.column("left_calf", "count"), c.count[:, 0])


def test_statuses_select_frames(hand):
    session, labels, _ = hand
    only_rejected = compute_curves(session, labels, statuses=(STATUS_REJECTED,), erode_px=0)
    assert np.isfinite(only_rejected.mean[:, 0]).tolist() == [False, True, False, False]
    assert only_rejected.mean[1, 0] == pytest.approx(32.25, abs=1e-3)
    reviewed = compute_curves(session, labels, statuses=(STATUS_ACCEPTED,), erode_px=0)
    assert np.isfinite(reviewed.mean[:, 0]).tolist() == [True, False, False, False]


def test_csv_is_written_whole_with_empty_cells_for_gaps(hand, tmp_path):
    session, labels, _ = hand
    c = compute_curves(session, labels, erode_px=0)
    path = c.to_csv(tmp_path / "out.csv")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "frame",
        "time_s",
        "left_calf_mean_c",
        "left_calf_median_c",
        "left_calf_max_c",
        "left_calf_pixels",
        "right_calf_mean_c",
        "right_calf_median_c",
        "right_calf_max_c",
        "right_calf_pixels",
    ]
    assert rows[1] == ["0", "0.1000", "31.250", "31.250", "32.000", "12"] + [
        "33.500",
        "33.000",
        "36.000",
        "6",
    ]
    assert rows[2] == ["1", "0.2000", "", "", "", "0", "", "", "", "0"]
    assert rows[3][6:] == ["", "", "", "0"]
    assert len(rows) == N + 1
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"], "no temporary file left"
    with pytest.raises(LabelsError, match="is a folder"):
        c.to_csv(tmp_path)


def test_erosion_drops_the_boundary():
    """A 7x7 region with a 1-pixel ring at 28 °C around 34 °C skin."""
    celsius = np.full((12, 12), 20.0, np.float32)
    mask = np.zeros((12, 12), np.uint8)
    mask[2:9, 2:9] = 1
    celsius[2:9, 2:9] = 28.0
    celsius[3:8, 3:8] = 34.0
    mask[10, 1:11] = 2  # a 1-pixel strip: gone after any erosion
    counts = [frame_stats(celsius, mask, 3, e)[:, 3].tolist() for e in (0, 1, 2)]
    assert counts == [[49, 10], [25, 0], [9, 0]]
    s1 = frame_stats(celsius, mask, 3, 1)
    assert s1[0, 0] == pytest.approx(34.0) and np.isnan(s1[1, :3]).all()
    assert frame_stats(celsius, mask, 3, 0)[0, 0] < 32.0
    assert DEFAULT_ERODE_PX == 2
    # The image border is the frame's edge, not the limb's: it does not erode.
    edge = np.zeros((6, 6), bool)
    edge[:, :3] = True
    assert erode(edge, 1)[:, :2].all() and not erode(edge, 1)[:, 2].any()


def test_theil_sen_ignores_outliers_and_nan():
    t = np.arange(50, dtype=float)
    y = 2.0 + 0.5 * t
    y[[3, 17, 40]] = [90.0, -50.0, 7.0]
    y[[5, 6]] = np.nan
    a, b = theil_sen(t, y)
    assert b == pytest.approx(0.5) and a == pytest.approx(2.0)
    long_t = np.linspace(0, 1200, 36000)
    a, b = theil_sen(long_t, 30.0 + 0.01 * long_t + 0.3 * np.sin(long_t * 7.3))
    assert b == pytest.approx(0.01, abs=2e-4)
    assert np.isnan(theil_sen(np.array([1.0]), np.array([3.0]))[1])


def test_summary_start_end_and_trend(hand):
    session, labels, _ = hand
    rows = summarize(compute_curves(session, labels, erode_px=0))
    left, right = rows
    assert left["class"] == "left_calf" and left["frames"] == 2
    assert left["start_c"] == pytest.approx(31.25, abs=1e-3)
    assert left["end_c"] == pytest.approx(33.25, abs=1e-3)
    assert left["min_c"] == pytest.approx(31.25, abs=1e-3)
    assert left["max_c"] == pytest.approx(33.25, abs=1e-3)
    # +2 °C in 0.2 s.
    assert left["trend_c_per_min"] == pytest.approx(600.0, rel=1e-3)
    assert right["frames"] == 1 and right["trend_c_per_min"] is None


def test_bad_inputs(hand, tmp_path):
    session, labels, d = hand
    other = write_thermal_session(tmp_path / "other.h5", np.full((N, H, W), 30.0))
    with pytest.raises(LabelsError, match="made from another session"):
        compute_curves(other, labels)
    # Same session content, but a label file of another size (written for `other`).
    short = write_labels(tmp_path / "short.h5", other, np.zeros((N - 1, H, W), np.uint8))
    with pytest.raises(LabelsError, match="give the labels of this session"):
        compute_curves(other, short)
    with pytest.raises(SessionError, match="not temperatures"):
        compute_curves(session, labels, stream="depth")
    with pytest.raises(SessionError, match="no 'color' stream"):
        compute_curves(session, labels, stream="color")
    with pytest.raises(LabelsError, match="give 0 or more pixels"):
        compute_curves(session, labels, erode_px=-1)
