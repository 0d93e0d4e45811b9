"""The session file: layout as docs/formats/session.md documents it, exact round trip, bad files."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

import h5py
import numpy as np
import pytest

from drivers.errors import SessionError
from drivers.recorder import SessionWriter
from drivers.session import FORMAT, VERSION, SessionReader
from drivers.truth import DEFAULT_CLASSES, DEFAULT_KEYPOINTS
from tests.fakes import BOARD, FakeRig, fake_pixels, fake_rig, fake_specs, write_fake_session

MARKS = [(1000.25, "start pedaling"), (1000.5, "ölig — unicode ok")]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("session") / "s.h5"
    frames = write_fake_session(path, marks=MARKS)
    return path, frames


def by_stream(frames):
    out = {}
    for f in frames:
        out.setdefault(f.stream, []).append(f)
    return out


def test_layout_matches_design_with_plain_h5py(recorded):
    path, frames = recorded
    specs = fake_specs()
    counts = {n: len(v) for n, v in by_stream(frames).items()}
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == FORMAT and f.attrs["version"] == VERSION
        created = datetime.fromisoformat(f.attrs["created"])
        assert created.utcoffset() == timezone.utc.utcoffset(None)
        assert f.attrs["activity"] == "cycling"
        assert f.attrs["subject"] == "S01" and f.attrs["notes"] == "fake session"
        assert f.attrs["source"] == "fake:rig" and f.attrs["codec"] == "blosc2-lz4"
        assert json.loads(f["rig"].attrs["json"]) == fake_rig(specs)
        assert list(f["streams"]) == ["thermal", "depth", "color"]
        for name, spec in specs.items():
            g = f["streams"][name]
            n = counts[name]
            assert g.attrs["kind"] == spec.kind and g.attrs["units"] == spec.units
            assert g.attrs["fps"] == spec.fps and g.attrs["device"] == spec.device
            assert json.loads(g.attrs["spec"]) == spec.to_dict()
            frames_ds = g["frames"]
            assert frames_ds.shape == (n, *spec.shape) and frames_ds.dtype == spec.dtype
            assert frames_ds.chunks == (1, *spec.shape)
            assert frames_ds.maxshape[0] is None
            assert "32026" in frames_ds._filters  # Blosc2's registered HDF5 filter id
            assert g["timestamps"].shape == (n,) and g["timestamps"].dtype == np.float64
            assert g["indices"].dtype == np.int64 and g["indices"].shape == (n,)
            assert g["device_timestamps"].dtype == np.float64
            assert g["meta"].shape == (n,) and int(g["count"][0]) == n
        assert f["streams/depth"].attrs["depth_scale"] == 0.001
        assert "depth_scale" not in f["streams/thermal"].attrs
        assert json.loads(f["streams/thermal"].attrs["intrinsics"])["width"] == 16
        assert "intrinsics" not in f["streams/color"].attrs
        assert np.isnan(f["streams/thermal/device_timestamps"][:]).all()
        assert np.isfinite(f["streams/depth/device_timestamps"][:]).all()
        assert json.loads(f["streams/thermal/meta"][0])["counter"] == 100
        assert f["streams/depth/meta"][0] == b""
        assert f["events/time"][:].tolist() == [t for t, _ in MARKS]
        assert [s.decode() for s in f["events/text"][:]] == [s for _, s in MARKS]
        t = f["truth"]
        assert json.loads(t.attrs["classes"]) == list(DEFAULT_CLASSES)
        assert json.loads(t.attrs["keypoints"]) == list(DEFAULT_KEYPOINTS)
        assert t.attrs["board"] == BOARD
        assert json.loads(t["rig"].attrs["json"]) == fake_rig(specs)
        for name, spec in specs.items():
            n = counts[name]
            labels = t[name]["labels"]
            assert labels.shape == (n, *spec.shape[:2]) and labels.dtype == np.uint8
            assert labels.chunks == (1, *spec.shape[:2]) and labels.compression is not None
            assert t[name]["keypoints"].shape == (n, len(DEFAULT_KEYPOINTS), 2)
            assert t[name]["keypoints"].dtype == np.float32
            assert t[name]["board_pose"].shape == (n, 4, 4)
            assert t[name]["board_pose"].dtype == np.float64


def test_round_trip_is_bit_exact(recorded):
    path, frames = recorded
    rig = FakeRig()
    rig.open()
    with SessionReader(path) as reader:
        assert reader.streams == rig.streams
        assert list(reader.streams) == list(rig.streams)
        assert reader.rig == rig.info.rig and reader.truth == rig.info.truth
        assert reader.events() == MARKS
        assert reader.attrs["subject"] == "S01" and reader.attrs["activity"] == "cycling"
        for name, written in by_stream(frames).items():
            assert reader.count(name) == len(written)
            assert np.array_equal(reader.timestamps(name), [f.timestamp for f in written])
            assert np.array_equal(reader.indices(name), [f.index for f in written])
            for i, src in enumerate(written):
                got = reader.frame(name, i)
                assert got.stream == name and got.index == src.index
                assert got.timestamp == src.timestamp
                assert got.device_timestamp == src.device_timestamp
                assert got.meta == src.meta
                assert got.array.dtype == src.array.dtype
                assert np.array_equal(got.array, src.array)
                assert got.truth.keys() == src.truth.keys()
                for key, value in src.truth.items():
                    assert got.truth[key].dtype == value.dtype
                    assert np.array_equal(got.truth[key], value, equal_nan=True)


def test_reader_info_describes_the_session_as_a_replay_source(recorded):
    path, _ = recorded
    with SessionReader(path) as reader:
        info = reader.info
    assert info.spec == f"replay:{path.absolute()}"
    assert info.activity == "cycling"
    assert info.devices["thermal"] == "fake-thermal-001"
    assert info.truth["board"] == BOARD and info.rig["reference"] == "depth"


def test_frame_out_of_range_raises_index_error(recorded):
    path, _ = recorded
    with SessionReader(path) as reader, pytest.raises(IndexError, match="thermal has 9"):
        reader.frame("thermal", 9)


def _not_a_session(path):
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(10)


def _newer_version(path, source):
    shutil.copy(source, path)
    with h5py.File(path, "r+") as f:
        f.attrs["version"] = VERSION + 1


def _truncated(path, source):
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p, s: None, "not found"),
        (lambda p, s: p.write_text("time,value\n1,2\n"), "not an HDF5 file"),
        (_truncated, "truncated"),
        (lambda p, s: _not_a_session(p), "not a thermorig session"),
        (_newer_version, "update thermorig"),
        (lambda p, s: p.mkdir(), "is a folder"),
    ],
    ids=["missing", "text", "truncated", "foreign-hdf5", "newer", "folder"],
)
def test_bad_files_raise_one_line_session_error(tmp_path, recorded, make, expected):
    path = tmp_path / "bad.h5"
    make(path, recorded[0])
    with pytest.raises(SessionError) as err:
        SessionReader(path)
    message = str(err.value)
    assert expected in message and "\n" not in message and "bad.h5" in message


def test_session_being_recorded_reads_only_flushed_frames(tmp_path):
    rig = FakeRig(duration=5.0)
    rig.open()
    frames = rig.frames()
    path = tmp_path / "live.h5"
    with SessionWriter(path, rig.streams, rig.info, min_free_bytes=0) as writer:
        for _ in range(10):
            writer.write(next(frames))
        writer.flush()
        flushed = writer.counts()
        with SessionReader(path) as reader:
            with h5py.File(path, "r") as raw:  # rows are pre-allocated beyond the count
                assert raw["streams/thermal/frames"].shape[0] > flushed["thermal"]
            assert {n: reader.count(n) for n in reader.streams} == flushed
            for _ in range(5):
                writer.write(next(frames))
            reader.refresh()  # written but not yet flushed: not declared
            assert {n: reader.count(n) for n in reader.streams} == flushed
            writer.flush()
            reader.refresh()
            assert {n: reader.count(n) for n in reader.streams} == writer.counts()
            last = reader.frame("depth", reader.count("depth") - 1)
            assert np.array_equal(last.array, fake_pixels(rig.streams["depth"], last.index))


def test_reader_uses_the_consistent_minimum_of_counts(tmp_path, recorded):
    path = tmp_path / "s.h5"
    shutil.copy(recorded[0], path)
    with h5py.File(path, "r+") as f:
        f["streams/thermal/count"][0] = 5
        f["streams/depth/timestamps"].resize((7,))
    with SessionReader(path) as reader:
        assert reader.count("thermal") == 5
        assert reader.count("depth") == 7
        assert reader.count("color") == 15


def test_minimal_design_layout_without_counts_is_trimmed(tmp_path):
    """A file with only the original contract's datasets (no count/indices) still reads."""
    path = tmp_path / "minimal.h5"
    with h5py.File(path, "w") as f:
        f.attrs.update(format=FORMAT, version=1, activity="treadmill")
        g = f.create_group("streams/thermal")
        g.attrs.update(kind="thermal", units="centikelvin", fps=30.0)
        g["frames"] = np.arange(5 * 4 * 4, dtype=np.uint16).reshape(5, 4, 4)
        g["timestamps"] = np.array([0.0, 0.1, 0.2, np.nan, np.nan])
    with SessionReader(path) as reader:
        assert reader.count("thermal") == 3
        assert reader.streams["thermal"].shape == (4, 4)
        assert reader.frame("thermal", 2).index == 2 and reader.events() == []
        assert reader.truth is None and reader.rig is None
        assert reader.info.activity == "treadmill"
