"""Fuzz and property tests of every reader of a person's files (issue 14).

Each reader — session, rig JSON and YAML, label sidecar, review journal, model package —
is given small valid files changed by hypothesis: structured changes (a dataset
deleted, retyped or refilled, an attribute replaced, a JSON value swapped for NaN, a
string, a list of the wrong length) and byte changes (bytes overwritten, the file cut
short). Whatever the change, the reader must

- return a correct result (the invariants below hold), or raise a ThermorigError whose
  message is one line (the command line prints it and exits 2);
- never raise anything else, crash or hang (each example runs in a forked child with a
  time limit: :mod:`tests.isolated`);
- leave the file exactly as it was.

Runs are deterministic (``derandomize``, no example database) and sized to take well
under two minutes together on one core (``FUZZ_SCALE`` multiplies the example counts
for a longer local run).
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli import build_parser
from app.labels.journal import _HEAD, MAGIC, Change, Journal, Record
from app.labels.recovery import read_state
from app.labels.sidecar import LabelReader
from app.labels.sidecar_writer import LabelWriter
from calibration.camera_math import undistort_pixels
from calibration.rig import Camera, Rig
from calibration.rig_yaml import load_rig_yaml, rig_to_yaml
from drivers.session import SessionReader
from drivers.session_checks import FRAME_FORMATS
from models.package import load_package
from models.runner import ModelRunner
from tests.fuzz_support import (
    apply_bytes,
    apply_h5,
    byte_edits,
    check_reader,
    cli_one_line,
    h5_edits,
    small_session,
    weird_values,
)
from tests.isolated import run_isolated
from tests.scene3d import make_rig
from tests.tiny_models import SIZE, nan_segmenter

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))

# Import every command module now, in the parent: each forked child would otherwise
# import them again for its `thermorig info` / `stats` call.
build_parser()


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


# -- session --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def session_base(tmp_path_factory) -> Path:
    return small_session(tmp_path_factory.mktemp("fuzz") / "base.h5")


def read_session(path: Path) -> None:
    """Everything a command reads from a session, and its invariants when it reads."""
    with SessionReader(path) as s:
        for name, spec in s.streams.items():
            n = s.count(name)
            ts, idx = s.timestamps(name), s.indices(name)
            assert n >= 0 and len(ts) == len(idx) == n
            problem = s.timestamp_problem(name)
            assert problem is None or "\n" not in problem
            if problem is None and n > 1:
                assert np.isfinite(ts).all() and (np.diff(ts) >= 0).all()
            formats = FRAME_FORMATS.get(spec.kind)
            for i in {0, n - 1} if n else ():
                frame = s.frame(name, i)
                assert frame.array.shape == spec.shape and str(frame.array.dtype) == spec.dtype
                if formats:
                    assert spec.dtype in formats[0] and frame.array.ndim == formats[1] - 1
        s.events()
        s.gaps()
    cli_one_line("info", path)


def _session_case(base: Path, tmp: Path) -> Path:
    path = tmp / "s.h5"
    shutil.copy(base, path)
    return path


SESSION_DATASETS = [
    "streams/thermal/frames", "streams/thermal/timestamps", "streams/thermal/count",
    "streams/thermal/indices", "streams/thermal/meta", "streams/depth/frames",
    "streams/color/frames", "streams/color/device_timestamps", "truth/thermal/labels",
    "truth/thermal/keypoints", "events/time", "events/text", "events/count",
    "gaps/count", "gaps/end",
]  # fmt: skip
SESSION_GROUPS = ["/", "streams", "streams/thermal", "streams/depth", "truth", "rig", "events"]
SESSION_ATTRS = ["format", "version", "kind", "units", "fps", "depth_scale", "json",
                 "classes", "keypoints", "intrinsics", "activity", "hw_sync"]  # fmt: skip


@pytest.mark.slow
@fuzz_settings(80)
@given(edits=st.lists(h5_edits(SESSION_DATASETS, SESSION_GROUPS, SESSION_ATTRS), min_size=1,
                      max_size=3))  # fmt: skip
def test_session_reader_survives_structured_changes(session_base, tmp_path_factory, edits):
    path = _session_case(session_base, tmp_path_factory.getbasetemp())
    apply_h5(path, edits)
    check_reader(path, lambda: read_session(path))


@pytest.mark.slow
@fuzz_settings(80)
@given(edits=byte_edits)
def test_session_reader_survives_damaged_bytes(session_base, tmp_path_factory, edits):
    path = tmp_path_factory.getbasetemp() / "s.h5"
    path.write_bytes(apply_bytes(session_base.read_bytes(), edits))
    check_reader(path, lambda: read_session(path))


# -- rig JSON and YAML ----------------------------------------------------------------

RIG_FIELDS = ["width", "height", "K", "dist", "T_ref_cam"]
rig_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e3, 1e3),
    st.integers(-(10**30), 10**30),
)


@st.composite
def rig_dicts(draw) -> dict:
    """The small test rig with one to three of its values changed."""
    d = make_rig().to_dict()
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(d.get("cameras"), dict) or not d["cameras"]:
            break  # an earlier change replaced the cameras themselves
        cam = d["cameras"][draw(st.sampled_from(sorted(d["cameras"])))]
        key = draw(st.sampled_from(RIG_FIELDS))
        how = draw(st.sampled_from(["number", "entry", "weird", "delete", "top"]))
        if how == "number":
            cam[key] = draw(rig_numbers)
        elif how == "entry" and key in ("K", "dist", "T_ref_cam") and key in cam:
            a = np.array(cam[key], dtype=object)  # still the valid matrix: change one entry
            flat = a.ravel()
            flat[draw(st.integers(0, len(flat) - 1))] = draw(rig_numbers)
            cam[key] = flat.reshape(a.shape).tolist()
        elif how == "weird":
            cam[key] = draw(st.one_of(weird_values, st.lists(rig_numbers, max_size=20)))
        elif how == "delete":
            cam.pop(key, None)
        else:
            d[draw(st.sampled_from(["cameras", "reference", "board", "quality", "created"]))] = (
                draw(weird_values)
            )
    return d


def _use_rig(rig: Rig) -> None:
    """A loaded rig works: every camera's border undistorts and every pose composes."""
    for name, cam in rig.cameras.items():
        assert cam.problem() is None
        corners = np.array([[0, 0], [cam.width - 1, cam.height - 1]], float)
        assert np.isfinite(undistort_pixels(cam.K, cam.dist, corners)).all()
        for other in rig.cameras:
            assert np.isfinite(rig.T_dst_src(name, other)).all()


@fuzz_settings(120)
@given(d=rig_dicts())
def test_rig_json_reader_survives_changed_values(tmp_path_factory, d):
    path = tmp_path_factory.getbasetemp() / "rig.json"
    path.write_text(json.dumps(d, default=repr))
    check_reader(path, lambda: _use_rig(Rig.load(path)))


@fuzz_settings(80)
@given(edits=byte_edits)
def test_rig_json_reader_survives_damaged_bytes(tmp_path_factory, edits):
    path = tmp_path_factory.getbasetemp() / "rig.json"
    path.write_bytes(apply_bytes(make_rig().to_json().encode(), edits))
    check_reader(path, lambda: _use_rig(Rig.load(path)))


@fuzz_settings(60)
@given(d=rig_dicts())
def test_rig_yaml_reader_survives_changed_values(tmp_path_factory, d):
    try:  # the YAML writer takes any numbers (it does not check): write what it can
        rig = Rig(cameras={n: Camera(**c) for n, c in d["cameras"].items()})
        text = rig_to_yaml(rig)
    except Exception:  # noqa: BLE001 - a dict the writer cannot even hold: nothing to read
        return
    path = tmp_path_factory.getbasetemp() / "rig.yaml"
    path.write_text(text)
    check_reader(path, lambda: _use_rig(load_rig_yaml(path)))


@fuzz_settings(80)
@given(edits=byte_edits)
def test_rig_yaml_reader_survives_damaged_bytes(tmp_path_factory, edits):
    path = tmp_path_factory.getbasetemp() / "rig.yaml"
    path.write_bytes(apply_bytes(rig_to_yaml(make_rig()).encode(), edits))
    check_reader(path, lambda: _use_rig(load_rig_yaml(path)))


# -- label sidecar --------------------------------------------------------------------


@pytest.fixture(scope="module")
def labels_base(tmp_path_factory) -> tuple[Path, Path]:
    from tests.thermal_sessions import write_thermal_session

    root = tmp_path_factory.mktemp("fuzz_labels")
    session = write_thermal_session(root / "s.h5", np.full((3, 6, 8), 30.0))
    labels = root / "s.labels.h5"
    with LabelWriter(labels, session=session, classes=["background", "calf"]) as w:
        w.create_stream("thermal", 3, (6, 8), ("confidence", "validity", "time_gap", "keypoints"),
                        keypoint_names=("knee",))  # fmt: skip
        for i in range(3):
            mask = np.zeros((6, 8), np.uint8)
            mask[2:4, 2 + i : 5 + i] = 1
            w.write("thermal", i, mask, 1, confidence=np.array([0.9, 0.8], np.float32),
                    time_gap=0.01, keypoints=np.array([[1.0, 2.0]], np.float32))  # fmt: skip
    return session, labels


def read_labels(session: Path, path: Path) -> None:
    with LabelReader(path) as lr:
        assert isinstance(lr.classes, list) and all(isinstance(c, str) for c in lr.classes)
        for stream in lr.streams:
            n, (h, w) = lr.count(stream), lr.shape(stream)
            status, source = lr.array(stream, "status"), lr.array(stream, "source")
            assert len(status) == len(source) == n
            assert set(status.tolist()) <= {0, 1, 2, 3} and set(source.tolist()) <= {0, 1, 2, 3}
            for name in ("confidence", "time_gap", "edited", "validity", "keypoints"):
                a = lr.array(stream, name)
                assert a is None or len(a) == n
            for i in {0, n - 1} if n else ():
                m = lr.mask(stream, i)
                assert m.shape == (h, w) and m.dtype == np.uint8
    cli_one_line("stats", session, "--labels", path, "--quiet")


LABEL_DATASETS = ["thermal/masks", "thermal/source", "thermal/status", "thermal/edited",
                  "thermal/confidence", "thermal/validity", "thermal/time_gap",
                  "thermal/keypoints"]  # fmt: skip
LABEL_ATTRS = ["format", "version", "classes", "session", "session_hash", "generation", "names"]


@pytest.mark.slow
@fuzz_settings(80)
@given(edits=st.lists(h5_edits(LABEL_DATASETS, ["/", "thermal"], LABEL_ATTRS), min_size=1,
                      max_size=3))  # fmt: skip
def test_label_reader_survives_structured_changes(labels_base, tmp_path_factory, edits):
    session, base = labels_base
    path = tmp_path_factory.getbasetemp() / "l.labels.h5"
    shutil.copy(base, path)
    apply_h5(path, edits)
    check_reader(path, lambda: read_labels(session, path))


@fuzz_settings(60)
@given(edits=byte_edits)
def test_label_reader_survives_damaged_bytes(labels_base, tmp_path_factory, edits):
    session, base = labels_base
    path = tmp_path_factory.getbasetemp() / "l.labels.h5"
    path.write_bytes(apply_bytes(base.read_bytes(), edits))
    check_reader(path, lambda: read_labels(session, path))


# -- review journal -------------------------------------------------------------------

GENERATION = "0123456789abcdef"


@pytest.fixture(scope="module")
def journal_base(tmp_path_factory) -> bytes:
    """A journal holding three edits: a brush stroke, a status change, an undo."""
    path = tmp_path_factory.mktemp("fuzz_journal") / "l.labels.h5.journal"
    j = Journal(path)
    j.start(GENERATION)
    old, new = np.zeros((2, 3), np.uint8), np.ones((2, 3), np.uint8)
    stroke = Change("thermal", 1, 2, 3, old, new, (1, 0, 0), (1, 2, 1))
    flags = Change("thermal", 2, 0, 0, np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.uint8),
                   (1, 0, 0), (1, 1, 0))  # fmt: skip
    for record in (Record("do", "brush", [stroke]), Record("do", "accept", [flags]),
                   Record("undo", "accept", [flags.inverse()])):  # fmt: skip
        j.append(record)
    j.close()
    return path.read_bytes()


def read_journal(labels: Path) -> None:
    """What review and every label command read of a journal, and its invariants: the
    state against a sidecar of the journal's generation (one thermal stream of 5 rows of
    4x6 masks, 3 classes); every edit it calls pending fits that sidecar."""
    layout = {"thermal": (5, 4, 6)}
    state = read_state(labels, GENERATION, "", layout, 3)
    assert state.pending == len(state.edits) or state.pending == 0
    for r in state.edits:
        assert r.kind in ("do", "undo", "redo")
        for c in r.changes:
            assert c.old.shape == c.new.shape and c.old.dtype == np.uint8
            assert 0 <= c.frame < 5


def check_journal(labels: Path, data: bytes) -> None:
    """As :func:`check_reader`, except that recovering may cut a torn tail off the
    journal (its design: a record cut by a kill is no one's edit) — nothing else."""
    path = Journal.path_for(labels)
    outcome = run_isolated(lambda: read_journal(labels), 20.0)
    assert outcome.kind in ("ok", "user"), f"{outcome.kind}: {outcome.value}"
    if outcome.kind == "user":
        assert "\n" not in outcome.value
    after = path.read_bytes()
    assert data.startswith(after), "recovering changed the journal other than cutting its tail"


@fuzz_settings(120)
@given(edits=byte_edits)
def test_journal_reader_survives_damaged_bytes(journal_base, tmp_path_factory, edits):
    labels = tmp_path_factory.getbasetemp() / "l.labels.h5"
    data = apply_bytes(journal_base, edits)
    Journal.path_for(labels).write_bytes(data)
    check_journal(labels, data)


# -- model package --------------------------------------------------------------------

MODEL_KEYS = [
    ("task",), ("version",), ("format",), ("classes",), ("input",), ("input", "size"),
    ("input", "stream"), ("input", "window_c"), ("input", "representation"),
    ("input", "resize"), ("input", "layout"), ("input", "normalization"),
    ("input", "normalization", "mean"), ("input", "normalization", "std"), ("output",),
    ("output", "kind"), ("output", "name"), ("output", "min_score"), ("input", "name"),
]  # fmt: skip


@pytest.fixture(scope="module")
def model_base(tmp_path_factory) -> tuple[bytes, dict]:
    onnx_path = nan_segmenter(tmp_path_factory.mktemp("fuzz_model"), "base")
    return onnx_path.read_bytes(), json.loads(onnx_path.with_suffix(".json").read_text())


def use_model(onnx_path: Path) -> None:
    runner = ModelRunner(load_package(onnx_path, threads=1))
    frame = np.full((SIZE, SIZE), 35 * 100 + 27315, np.uint16)  # finite outputs here
    result = runner.run(frame)
    if result.mask is not None:
        assert result.mask.shape == frame.shape and result.mask.dtype == np.uint8
        assert int(result.mask.max()) < len(runner.manifest.classes)


@st.composite
def manifests(draw, base: dict) -> dict:
    d = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        keys = draw(st.sampled_from(MODEL_KEYS))
        node = d
        for k in keys[:-1]:
            node = node.setdefault(k, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            if draw(st.booleans()):
                node[keys[-1]] = draw(st.one_of(weird_values, st.lists(rig_numbers, max_size=4)))
            else:
                node.pop(keys[-1], None)
    return d


@fuzz_settings(60)
@given(data=st.data())
def test_model_package_reader_survives_changed_json(model_base, tmp_path_factory, data):
    onnx_bytes, manifest = model_base
    d = data.draw(manifests(manifest))
    onnx_path = tmp_path_factory.getbasetemp() / "m.onnx"
    onnx_path.write_bytes(onnx_bytes)
    onnx_path.with_suffix(".json").write_text(json.dumps(d, default=repr))
    check_reader(onnx_path.with_suffix(".json"), lambda: use_model(onnx_path))


@fuzz_settings(60)
@given(json_edits=byte_edits, onnx_edits=byte_edits, which=st.sampled_from(["json", "onnx"]))
def test_model_package_reader_survives_damaged_bytes(
    model_base, tmp_path_factory, json_edits, onnx_edits, which
):
    onnx_bytes, manifest = model_base
    onnx_path = tmp_path_factory.getbasetemp() / "m.onnx"
    text = json.dumps(manifest).encode()
    onnx_path.write_bytes(apply_bytes(onnx_bytes, onnx_edits) if which == "onnx" else onnx_bytes)
    onnx_path.with_suffix(".json").write_bytes(
        apply_bytes(text, json_edits) if which == "json" else text
    )
    check_reader(onnx_path, lambda: use_model(onnx_path))


@st.composite
def resealed_journals(draw, data: bytes) -> bytes:
    """The journal with one record's payload changed and its CRC made to match again:
    damage a checksum cannot see (a bug in a writer, a hand edit)."""
    frames, pos = [], 0
    while pos < len(data):
        _, n, _ = _HEAD.unpack_from(data, pos)
        frames.append(bytearray(data[pos + _HEAD.size : pos + _HEAD.size + n]))
        pos += _HEAD.size + n
    payload = frames[draw(st.integers(0, len(frames) - 1))]
    for where, value in draw(st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                                                st.integers(0, 255)), min_size=1, max_size=4)):  # fmt: skip
        payload[int(where * len(payload))] = value
    return b"".join(_HEAD.pack(MAGIC, len(p), zlib.crc32(p)) + bytes(p) for p in frames)


@fuzz_settings(60)
@given(data=st.data())
def test_journal_reader_survives_damage_its_checksums_cannot_see(
    journal_base, tmp_path_factory, data
):
    labels = tmp_path_factory.getbasetemp() / "l.labels.h5"
    damaged = data.draw(resealed_journals(journal_base))
    Journal.path_for(labels).write_bytes(damaged)
    check_journal(labels, damaged)
