"""``thermorig propagate``: keyframe labels carried through a session by optical flow
(:mod:`app.labels.propagation`, :mod:`app.labels.propagate`), then into thermal."""

from __future__ import annotations

import hashlib
import json
import os
import signal

import cv2
import numpy as np
import pytest

from app.cli import main
from app.labels.propagate import propagate
from app.labels.propagation import PropagationParams, labels_of, one_hot, propagate_span
from app.labels.sidecar import SOURCE_MANUAL, SOURCE_MODEL, LabelReader
from app.labels.sidecar_writer import LabelWriter
from drivers.session import SessionReader
from drivers.stop_request import Interrupted, handling_stop_signals
from models.metrics import class_counts, iou, joint_histogram
from tests.scene3d import apart, make_rig, write_session


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _iou(a: np.ndarray, b: np.ndarray, classes: int = 2) -> float:
    """IoU of class 1 (the one IoU engine, models.metrics)."""
    tp, fp, fn = class_counts(joint_histogram(a, b, classes), classes)
    return float(iou(tp, fp, fn)[1])


# -- the pure function ------------------------------------------------------------
def _textured_scene(t: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A 160×240 grey frame: a textured square moving 3 px right and 1 px down per
    frame over a differently textured, still background (both blurred, as a camera
    sees surfaces: the flow needs gradients, not pixel noise); and its mask."""
    rng = np.random.default_rng(seed)

    def texture(h: int, w: int) -> np.ndarray:
        noise = cv2.GaussianBlur(rng.integers(0, 256, (h, w)).astype(np.uint8), (0, 0), 3)
        return cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX)

    frame, patch = texture(160, 240), texture(50, 50)
    mask = np.zeros((160, 240), np.uint8)
    y, x = 40 + t, 30 + 3 * t
    frame[y : y + 50, x : x + 50] = patch
    mask[y : y + 50, x : x + 50] = 1
    return frame, mask


def test_a_moving_textured_square_is_followed_between_two_keyframes():
    frames = [_textured_scene(t) for t in range(11)]
    greys = [f for f, _ in frames]
    params = PropagationParams(flow_width=240)
    size = (240, 160)
    start, end = one_hot(frames[0][1], 2, size), one_hot(frames[10][1], 2, size)
    out = list(propagate_span(greys, start, end, params))
    assert [t for t, _, _ in out] == list(range(1, 10))
    ious, confs = [], []
    for t, prob, conf in out:
        labels, per_class = labels_of(prob, conf, (160, 240))
        ious.append(_iou(frames[t][1], labels))
        confs.append(per_class[1])
    # Measured 0.90 (mid-way) to 0.97 (next to a keyframe), mean 0.93: the flow is
    # smoothed across the square's edge, so the label drifts a little each frame.
    assert min(ious) >= 0.8 and np.mean(ious) >= 0.88, ious
    # Confidence falls with the distance to the nearer keyframe (1, 2, ..., 5, ..., 1).
    assert confs[0] > confs[2] > confs[4] and confs[8] > confs[6] > confs[4], confs
    # Forward only (after the last keyframe): confidence keeps falling frame by frame.
    tail = list(propagate_span(greys, start, None, params))
    assert [t for t, _, _ in tail] == list(range(1, 11))
    tail_conf = [labels_of(p, c, (160, 240))[1][1] for _, p, c in tail]
    assert all(a > b for a, b in zip(tail_conf, tail_conf[1:], strict=False)), tail_conf
    # ... and drifts: one-sided, the square is followed worse than from both sides
    # (measured: mean IoU 0.76 one-sided over frames 1-9, 0.93 two-sided).
    one_sided = [_iou(frames[t][1], labels_of(p, c, (160, 240))[0]) for t, p, c in tail[:9]]
    assert np.mean(one_sided) < np.mean(ious), (one_sided, ious)


# -- end to end on the synthetic rig ------------------------------------------------
@pytest.fixture(scope="module")
def cycling(tmp_path_factory):
    """Two seconds of the synthetic cycling rig (free-running clocks, 60 frame sets),
    propagated from the truth of every 30th colour frame, carried into thermal."""
    root = tmp_path_factory.mktemp("propagate")
    session, rgb, thermal = root / "ride.h5", root / "rgb.h5", root / "thermal.h5"
    assert main(["simulate", str(session), "--seconds", "2", "--seed", "2", "-q"]) == 0
    argv = ["propagate", session, "--keyframes", "truth:30", "--out", rgb, "--json", "-q"]
    assert main([str(a) for a in argv]) == 0
    argv = ["autolabel", session, "--rig", "truth", "--rgb-labels", rgb, "--out", thermal, "-q"]
    assert main([str(a) for a in argv]) == 0
    return {"session": session, "rgb": rgb, "thermal": thermal}


def test_keyframes_every_30_frames_reach_thermal_iou_085(cycling, capsys):
    code, out, _ = _run(
        capsys, "evaluate", cycling["thermal"], "--truth", cycling["session"], "--json"
    )
    thermal = json.loads(out)
    code, out, _ = _run(
        capsys,
        "evaluate",
        cycling["rgb"],
        "--truth",
        cycling["session"],
        "--stream",
        "color",
        "--json",
    )
    colour = json.loads(out)
    print(f"colour IoU {colour['mean_iou_strict']}, thermal IoU {thermal['mean_iou_strict']}")
    assert thermal["frames_evaluated"] == 60
    # Measured: colour 0.95, thermal 0.94 (seed 2); the issue asks for 0.85.
    assert colour["mean_iou_strict"] >= 0.9, colour
    assert thermal["mean_iou_strict"] >= 0.85, thermal


def test_keyframe_rows_stay_manual_and_confidence_decays_away_from_them(cycling):
    with LabelReader(cycling["rgb"]) as r:
        source, status = r.array("color", "source"), r.array("color", "status")
        conf = r.array("color", "confidence")
        assert np.nonzero(source == SOURCE_MANUAL)[0].tolist() == [0, 30]
        assert (source[[i for i in range(60) if i not in (0, 30)]] == SOURCE_MODEL).all()
        assert (status == 0).all()
        prov = r.provenance("color")
        assert "optical flow from 2 keyframes (rows 0, 30; ground truth every 30)" in prov
        with SessionReader(cycling["session"]) as s:
            assert np.array_equal(r.mask("color", 30), s.frame("color", 30).truth["labels"])
    worst = np.nanmin(conf[:, 1:], axis=1)
    assert np.allclose(worst[[0, 30]], 1.0)
    # Between the keyframes the lowest confidence is in the middle; after the last one
    # it keeps falling.
    assert worst[1] > worst[8] > worst[15] and worst[29] > worst[22] > worst[15], worst
    assert worst[31] > worst[45] > worst[59], worst


# -- label files, refusals, stops: a tiny session ------------------------------------
@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "legs.h5"
    write_session(path, make_rig(), [0.01 * i for i in range(8)], scene=apart)
    return path


def _label_file(path, session, rows: dict[int, int]) -> None:
    """A label file of ``session`` whose colour rows ``rows`` (row → source) hold the
    truth."""
    with (
        SessionReader(session) as s,
        LabelWriter(path, session=session, classes=s.truth["classes"]) as w,
    ):
        w.create_stream("color", s.count("color"), s.streams["color"].shape[:2])
        for i, source in rows.items():
            w.write("color", i, s.frame("color", i).truth["labels"], source)


def test_out_may_be_the_keyframes_own_file_whose_manual_rows_stay(tiny, tmp_path, capsys):
    labels = tmp_path / "legs.labels.h5"
    _label_file(labels, tiny, {0: SOURCE_MANUAL, 7: SOURCE_MANUAL})
    with LabelReader(labels) as r:
        before = [r.mask("color", i).copy() for i in (0, 7)]
    code, out, err = _run(capsys, "propagate", tiny, "--keyframes", labels, "--out", labels, "-q")
    assert code == 0, err
    assert "6/8 color frames propagated from 2 keyframes" in out
    with LabelReader(labels) as r, SessionReader(tiny) as s:
        source = r.array("color", "source")
        assert source.tolist() == [SOURCE_MANUAL] + [SOURCE_MODEL] * 6 + [SOURCE_MANUAL]
        assert np.array_equal(r.mask("color", 0), before[0])
        assert np.array_equal(r.mask("color", 7), before[1])
        assert _iou(s.frame("color", 4).truth["labels"] > 0, r.mask("color", 4) > 0) >= 0.8


@pytest.mark.parametrize(
    "case, message",
    [
        ("no-keyframes", "has no labeled color frames"),
        ("other-session", "was made from another session"),
        ("no-stream", "has no 'ir' stream"),
        ("n-zero", "N of truth:N is a whole number"),
        ("out-is-session", "--out"),
    ],
)
def test_bad_inputs_are_one_line_errors(case, message, tiny, tmp_path, capsys):
    keyframes, out, extra = "truth:2", tmp_path / "out.h5", []
    if case == "no-keyframes":
        keyframes = tmp_path / "model.h5"
        _label_file(keyframes, tiny, {1: SOURCE_MODEL})
    elif case == "other-session":
        other = tmp_path / "other.h5"
        write_session(other, make_rig(), [0.02 * i for i in range(8)], scene=apart)
        keyframes = tmp_path / "other.labels.h5"
        _label_file(keyframes, other, {0: SOURCE_MANUAL})
    elif case == "no-stream":
        extra = ["--stream", "ir"]
    elif case == "n-zero":
        keyframes = "truth:0"
    elif case == "out-is-session":
        out = tiny
    before = hashlib.sha256(tiny.read_bytes()).hexdigest()
    code, _, err = _run(capsys, "propagate", tiny, "--keyframes", keyframes, "--out", out, *extra)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert hashlib.sha256(tiny.read_bytes()).hexdigest() == before
    if case != "out-is-session":
        assert not out.exists()


def test_a_stop_signal_leaves_the_old_out_untouched(tiny, tmp_path):
    out = tmp_path / "legs.labels.h5"
    _label_file(out, tiny, {3: SOURCE_MANUAL})
    before = hashlib.sha256(out.read_bytes()).hexdigest()

    def ctrl_c_midway(done: int, total: int) -> None:
        if done >= 3:
            os.kill(os.getpid(), signal.SIGINT)

    with handling_stop_signals(), pytest.raises(Interrupted) as stopped:
        propagate(tiny, "truth:4", out, progress=ctrl_c_midway)
    assert "unchanged" in str(stopped.value)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["legs.h5", "legs.labels.h5"]
