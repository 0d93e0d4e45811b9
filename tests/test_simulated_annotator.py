"""The simulated RGB annotator: each error of its model does what the model says, is
seeded, drifts slowly, and strength 0 is the truth (app/labels/simulated_annotator.py).
A label source ``simulated[:STRENGTH]`` wraps it (app/labels/sources.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli import main
from app.labels.sidecar import LabelReader
from app.labels.simulated_annotator import ErrorModel, SimulatedAnnotator, shrink_grow
from app.labels.sources import open_label_source
from drivers.errors import ThermorigError
from drivers.session import SessionReader
from tests.scene3d import apart, make_rig, write_session

CLASSES = ["background", "left_calf", "right_calf"]
H, W, N = 360, 640, 240
#: Only the named error on; the rest of the model switched off.
NO_ERRORS = {
    "lag_frames": 0.0,
    "missed_share": 0.0,
    "swap_share": 0.0,
    "bias_px": 0.0,
    "jitter_px": 0.0,
    "occlusion_share": 0.0,
}


def only(**errors: float) -> ErrorModel:
    return ErrorModel(**{**NO_ERRORS, **errors})


def truth(i: int) -> np.ndarray | None:
    """Two calves (rectangles) sliding 2 px right per frame; None outside 0..N-1."""
    if not 0 <= i < N:
        return None
    m = np.zeros((H, W), np.uint8)
    m[80:280, 100 + 2 * i // 4 : 170 + 2 * i // 4] = 1
    m[60:260, 350 + i // 2 : 420 + i // 2] = 2
    return m


def still(i: int) -> np.ndarray:
    """The same two calves in every frame: what changes is the annotator alone."""
    return truth(0)


def annotator(model: ErrorModel, strength: float = 1.0, seed: int = 7, of=truth):
    return SimulatedAnnotator(of, N, CLASSES, (H, W), seed, strength, model)


def iou(a: np.ndarray, b: np.ndarray, cls: int) -> float:
    return float(((a == cls) & (b == cls)).sum() / ((a == cls) | (b == cls)).sum())


def runs(flags: list[bool]) -> list[int]:
    """Lengths of the runs of True."""
    out, n = [], 0
    for f in [*flags, False]:
        if f:
            n += 1
        elif n:
            out.append(n)
            n = 0
    return out


def test_strength_zero_is_the_truth_exactly():
    ann = annotator(ErrorModel(), strength=0.0)
    for i in range(N):
        assert np.array_equal(ann.labels(i), truth(i))


def test_same_seed_same_labels_other_seed_other_labels():
    a, b, c = (annotator(ErrorModel(), 0.5, seed) for seed in (3, 3, 4))
    frames = range(0, N, 7)
    same = [
        (x is None and y is None) or np.array_equal(x, y)
        for x, y in ((a.labels(i), b.labels(i)) for i in frames)
    ]
    assert all(same)
    differ = [
        x is None or y is None or not np.array_equal(x, y)
        for x, y in ((a.labels(i), c.labels(i)) for i in frames)
    ]
    assert sum(differ) > len(differ) // 2


def test_lag_returns_an_earlier_truth_and_changes_slowly():
    ann = annotator(only(lag_frames=3.0))
    lags = [ann.errors(i).lag for i in range(N)]
    assert max(lags) >= 2 and lags.count(0) > 0
    for i, k in enumerate(lags):
        assert np.array_equal(ann.labels(i), truth(i - k))
    # A model's latency drifts; it does not jump about from frame to frame.
    assert max(abs(a - b) for a, b in zip(lags, lags[1:], strict=False)) <= 1


def test_missed_frames_have_no_label_and_come_in_runs():
    ann = annotator(only(missed_share=0.3, missed_run=6.0))
    missed = [ann.errors(i).missed for i in range(N)]
    for i, m in enumerate(missed):
        got = ann.labels(i)
        assert (got is None) == m
        if not m:
            assert np.array_equal(got, truth(i))
    lengths = runs(missed)
    assert 0.1 < sum(missed) / N < 0.6
    assert np.mean(lengths) > 2.5, lengths


def test_a_swap_run_exchanges_left_and_right():
    ann = annotator(only(swap_share=0.3, swap_run=8.0))
    swapped = [ann.errors(i).swapped for i in range(N)]
    assert any(swapped) and not all(swapped)
    for i, s in enumerate(swapped):
        t, got = truth(i), ann.labels(i)
        want = np.where(t == 1, 2, np.where(t == 2, 1, t)) if s else t
        assert np.array_equal(got, want)
    assert np.mean(runs(swapped)) > 3


def test_shrink_grow_moves_the_boundary_by_the_bias():
    t = truth(0)
    grown, shrunk = shrink_grow(t, 1, 3.0), shrink_grow(t, 1, -3.0)
    # 70 x 200 px rectangle: 3 px out or in on every side.
    assert (grown == 1).sum() == pytest.approx(76 * 206, rel=0.03)
    assert (shrunk == 1).sum() == pytest.approx(64 * 194, rel=0.03)
    assert np.all(grown[t == 1] == 1) and np.all(t[shrunk == 1] == 1)
    assert np.array_equal(grown == 2, t == 2) and np.array_equal(shrunk == 2, t == 2)
    assert shrink_grow(t, 1, 0.2) is t  # under half a pixel: nothing to do


def test_shrink_grow_bias_is_per_class_and_drifts_slowly():
    ann = annotator(only(bias_px=4.0), of=still)
    biases = np.array([ann.errors(i).bias_px for i in range(N)])
    assert np.abs(biases[:, 1:]).max() > 2.0
    assert np.abs(np.diff(biases[:, 1:], axis=0)).max() < 0.6  # px per frame
    i = int(np.argmax(biases[:, 1]))
    area = (ann.labels(i) == 1).sum()
    assert area > (still(i) == 1).sum()  # the largest bias of class 1 grows it


def test_boundary_jitter_wobbles_the_edge_by_a_few_pixels_and_drifts():
    ann = annotator(only(jitter_px=6.0), of=still)  # 3 px std at 640 px wide
    t = still(0)
    masks = [ann.labels(i) for i in range(N)]
    for m in masks[::20]:
        changed = m != t
        assert changed.any()
        # Changes lie near the true boundary only.
        near = shrink_grow(shrink_grow(t, 1, 15.0), 2, 15.0) != shrink_grow(
            shrink_grow(t, 1, -15.0), 2, -15.0
        )
        assert not (changed & ~near).any()
        assert 0.8 < iou(m, t, 1) < 1.0
    # Slow: the next frame's edge is closer to this one's than a second later's.
    step = np.mean([(masks[i] != masks[i + 1]).sum() for i in range(0, N - 30, 10)])
    later = np.mean([(masks[i] != masks[i + 30]).sum() for i in range(0, N - 30, 10)])
    assert step < 0.5 * later


def test_occlusion_misses_a_blob_or_bleeds_background_into_the_calf():
    ann = annotator(only(occlusion_share=0.5, occlusion_run=10.0))
    kinds = set()
    for i in range(N):
        e, t, got = ann.errors(i), truth(i), ann.labels(i)
        if not e.occlusion:
            assert np.array_equal(got, t)
            continue
        kinds.add(e.occlusion)
        c = e.occluded_class
        others = (t != c) & (got != c)
        assert np.array_equal(got[others], t[others])  # the other calf is untouched
        if e.occlusion == "miss":
            assert np.all(t[got == c] == c)
            lost = (t == c).sum() - (got == c).sum()
            assert 0.02 * (t == c).sum() < lost < 0.6 * (t == c).sum()
        else:
            assert np.all(got[t == c] == c)
            assert (got == c).sum() > 1.02 * (t == c).sum()
    assert kinds == {"miss", "bleed"}


def test_a_stronger_annotator_is_worse():
    def mean_iou(strength: float) -> float:
        ann = annotator(ErrorModel(), strength)
        got = [(ann.labels(i), truth(i)) for i in range(0, N, 3)]
        return np.mean([np.mean([iou(m, t, 1), iou(m, t, 2)]) for m, t in got if m is not None])

    weak, default, strong = mean_iou(0.25), mean_iou(0.5), mean_iou(1.0)
    assert 1.0 > weak > default + 0.02 > strong + 0.05, (weak, default, strong)


@pytest.fixture(scope="module")
def legs(tmp_path_factory):
    path = tmp_path_factory.mktemp("simulated") / "legs.h5"
    write_session(path, make_rig(), [0.01 * i for i in range(4)], scene=apart)
    return path


def test_the_label_source_says_what_it_is(legs):
    with SessionReader(legs) as s:
        src = open_label_source("simulated:0.3", s)
        assert src.provenance == "simulated annotator (strength 0.3, seed 0)"
        assert src.classes == CLASSES
        exact = open_label_source("simulated:0", s)
        assert np.array_equal(exact.labels(2), s.frame("color", 2).truth["labels"])
        assert "strength 0.5" in open_label_source("simulated", s).provenance


@pytest.mark.parametrize("spec", ["simulated:2", "simulated:-0.1", "simulated:strong"])
def test_a_bad_strength_is_a_one_line_error(legs, spec):
    with SessionReader(legs) as s, pytest.raises(ThermorigError, match="from 0 .* to 1"):
        open_label_source(spec, s)


@pytest.mark.parametrize("scene", ["cycling", "treadmill"])
def test_simulated_labels_transfer_worse_than_truth_but_usably(scene, tmp_path, capsys):
    """Issue 17's Done-when: ``--rgb-labels simulated`` (default strength) transfers at
    thermal IoU >= 0.6 and at least 0.03 below truth labels. Measured on 1 s (30 frames,
    hardware-synced, seed 5): cycling truth 0.967, simulated 0.875; treadmill truth 0.954,
    simulated 0.871 (10 s sessions and other strengths: docs/simulated-annotator.md)."""
    session = tmp_path / f"{scene}.h5"
    simulate = ["simulate", session, "--scene", scene, "--seconds", "1", "--seed", "5"]
    assert main([str(a) for a in [*simulate, "--hw-sync", "--quiet"]]) == 0
    got = {}
    for spec in ("truth", "simulated"):
        out = tmp_path / f"{spec}.labels.h5"
        argv = ["autolabel", session, "--rig", "truth", "--rgb-labels", spec, "--out", out, "-q"]
        assert main([str(a) for a in argv]) == 0
        capsys.readouterr()
        assert main(["evaluate", str(out), "--truth", str(session), "--json"]) == 0
        got[spec] = json.loads(capsys.readouterr().out)["mean_iou_strict"]
    with LabelReader(tmp_path / "simulated.labels.h5") as labels:
        assert "simulated annotator (strength 0.5, seed 5)" in labels.provenance("thermal")
    assert got["simulated"] >= 0.7, got
    assert got["simulated"] <= got["truth"] - 0.04, got
