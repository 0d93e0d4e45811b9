"""The command line as a user meets it: the Done-when lines of the foundation issue."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from app.cli import main
from tests.real_data import unavailable

THERMORIG = [sys.executable, "-m", "app.cli"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*THERMORIG, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def cycling_session(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "s.h5"
    assert (
        main(["simulate", str(out), "--scene", "cycling", "--seconds", "3", "--seed", "1", "-q"])
        == 0
    )
    return out


def test_simulate_writes_design_layout(cycling_session):
    with h5py.File(cycling_session, "r") as f:
        assert f.attrs["format"] == "thermorig-session"
        assert int(f.attrs["version"]) == 1
        assert f.attrs["activity"] == "cycling"
        expect = {
            "thermal": ((512, 640), np.uint16, "centikelvin"),
            "depth": ((480, 640), np.uint16, None),
            "color": ((720, 1280, 3), np.uint8, None),
        }
        for name, (shape, dtype, units) in expect.items():
            g = f["streams"][name]
            frames, ts = g["frames"], g["timestamps"]
            n = len(ts)
            assert n >= 80, f"{name}: only {n} frames in 3 s"
            assert frames.shape[1:] == shape and frames.dtype == dtype
            assert frames.chunks == (1, *shape), "one frame per chunk"
            assert ts.dtype == np.float64
            assert np.all(np.diff(ts[:n]) > 0), f"{name} timestamps not monotonic"
            if units:
                assert g.attrs["units"] == units
        assert 0 < f["streams/depth"].attrs["depth_scale"] < 0.01
        rig = json.loads(f["truth/rig"].attrs["json"])
        assert set(rig["cameras"]) >= {"thermal", "depth", "color"}
        classes = json.loads(f["truth"].attrs["classes"])
        assert classes[:3] == ["background", "left_calf", "right_calf"]
        labels = f["truth/thermal/labels"]
        n = len(f["streams/thermal/timestamps"])
        both = sum(1 for i in range(n) if (labels[i] == 1).any() and (labels[i] == 2).any())
        assert both >= 0.8 * n, f"both calves visible in only {both}/{n} thermal frames"
        kp = f["truth/thermal/keypoints"]
        assert kp.shape[1:] == (6, 2) and kp.dtype == np.float32
        # Thermal in centikelvin: skin 30-35 C somewhere, background near 22 C.
        t0 = f["streams/thermal/frames"][0].astype(float) / 100 - 273.15
        calf = t0[labels[0] > 0]
        assert 29.0 < np.median(calf) < 36.0
        assert 19.0 < np.median(t0[labels[0] == 0]) < 26.0


def test_info_json_agrees_with_file(cycling_session):
    r = run_cli("info", str(cycling_session), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    with h5py.File(cycling_session, "r") as f:
        for name, s in d["streams"].items():
            ts = f["streams"][name]["timestamps"]
            assert s["frames"] == len(ts)
            assert s["shape"] == list(f["streams"][name]["frames"].shape[1:])
            assert s["dtype"] == str(f["streams"][name]["frames"].dtype)
            assert s["timestamps_monotonic"]
            assert abs(s["measured_fps"] - 30) < 2
    assert d["truth"]["rig"] is True and d["sync"]["complete_sets"] > 0
    table = run_cli("info", str(cycling_session))
    assert table.returncode == 0 and "thermal" in table.stdout and "ground truth" in table.stdout


@pytest.mark.slow
def test_record_from_replay_is_bit_exact(cycling_session, tmp_path):
    out = tmp_path / "r.h5"
    assert (
        main(["record", str(out), "--source", f"replay:{cycling_session}", "--seconds", "2", "-q"])
        == 0
    )
    with h5py.File(cycling_session, "r") as src, h5py.File(out, "r") as dst:
        for name in ("thermal", "depth", "color"):
            ts_src = src["streams"][name]["timestamps"][:]
            ts_dst = dst["streams"][name]["timestamps"][:]
            n = len(ts_dst)
            assert n >= 55, f"{name}: {n} frames in 2 s"
            np.testing.assert_array_equal(ts_dst, ts_src[:n])
            for i in range(n):
                assert np.array_equal(
                    dst["streams"][name]["frames"][i], src["streams"][name]["frames"][i]
                )
            np.testing.assert_array_equal(
                dst["truth"][name]["labels"][:n], src["truth"][name]["labels"][:n]
            )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "make_args",
    [
        pytest.param(lambda d, s: ["info", str(d / "missing.h5")], id="missing-file"),
        pytest.param(lambda d, s: ["info", str(d / "notes.txt")], id="not-hdf5"),
        pytest.param(lambda d, s: ["info", str(d / "cut.h5")], id="truncated"),
        pytest.param(
            lambda d, s: ["record", str(d / "o.h5"), "--source", "webcam:7"], id="unknown-source"
        ),
        pytest.param(
            lambda d, s: ["record", str(d / "o.h5"), "--source", f"replay:{d / 'notes.txt'}"],
            id="replay-not-hdf5",
        ),
        pytest.param(
            lambda d, s: ["simulate", str(d / "o.h5"), "--seconds", "-3"], id="bad-seconds"
        ),
        pytest.param(
            lambda d, s: ["simulate", str(d / "o.h5"), "--scene", "swimming"], id="bad-scene"
        ),
        pytest.param(lambda d, s: ["simulate", str(s), "--seconds", "1"], id="would-overwrite"),
        pytest.param(lambda d, s: ["frobnicate"], id="unknown-command"),
    ],
)
def test_bad_input_one_line_no_traceback_nothing_lost(make_args, cycling_session, tmp_path):
    (tmp_path / "notes.txt").write_text("not a session\n")
    data = cycling_session.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    before = {p: _sha(p) for p in [cycling_session, tmp_path / "notes.txt", tmp_path / "cut.h5"]}
    r = run_cli(*make_args(tmp_path, cycling_session))
    assert r.returncode == 2, (r.returncode, r.stderr)
    err = r.stderr.strip()
    assert "Traceback" not in r.stderr and len(err.splitlines()) == 1, err
    assert "error" in err
    assert not (tmp_path / "o.h5").exists()
    assert {p: _sha(p) for p in before} == before


def test_help_lists_commands():
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("simulate", "record", "info", "bench"):
        assert cmd in r.stdout


def test_cli_runs_as_console_script():
    exe = Path(sys.executable).with_name("thermorig")
    if not exe.exists():
        unavailable(
            f"console script not installed beside {sys.executable} (pip install -e . makes it)"
        )
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True, env=os.environ.copy())
    assert r.returncode == 0 and "simulate" in r.stdout


def test_plain_h5py_with_hdf5plugin_reads_frames(cycling_session):
    """Outside thermorig: h5py plus `import hdf5plugin` (for Blosc2) reads every dataset."""
    code = (
        "import sys, h5py, hdf5plugin\n"
        "f = h5py.File(sys.argv[1], 'r')\n"
        "for n in ('thermal', 'depth', 'color'):\n"
        "    a = f['streams'][n]['frames'][-1]\n"
        "    assert a.any(), n\n"
        "    assert f['truth'][n]['labels'][-1].shape == a.shape[:2]\n"
        "print('ok')\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(cycling_session)], capture_output=True, text=True
    )
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
