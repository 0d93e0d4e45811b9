"""``thermorig calibrate``: a synthetic session to a rig file, YAML and report; and
one-line errors for what a user can get wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from calibration.rig import Rig
from calibration.rig_calibration import rig_errors
from calibration.rig_yaml import load_rig_yaml
from drivers.session import SessionReader
from tests.synthetic_sessions import session
from tests.thermal_sessions import write_thermal_session


@pytest.mark.slow
def test_session_to_rig_yaml_and_report(tmp_path, capsys):
    path = session("calibration", 20.0)
    out, yaml, rep = tmp_path / "rig.json", tmp_path / "rig.yaml", tmp_path / "report"
    rc = main(
        ["calibrate", str(path), "--out", str(out), "--yaml", str(yaml), "--report", str(rep)]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "depth-thermal: 9 poses, RMS" in printed and "thermal-color (checked)" in printed
    rig = Rig.load(out)
    assert load_rig_yaml(yaml).to_dict() == rig.to_dict()
    with SessionReader(path) as reader:
        truth = Rig.from_dict(reader.truth["rig"])
    for name, e in rig_errors(rig, truth).items():
        assert e["focal_pct"] < 1 and e["translation_mm"] < 3 and e["rotation_deg"] < 0.2, name
    names = sorted(p.name for p in rep.iterdir())
    assert names == sorted(
        ["rig_calibration.txt", "rig_calibration.png"]
        + [f"{c}_calibration.{x}" for c in ("depth", "thermal", "color") for x in ("txt", "png")]
    )
    text = (rep / "rig_calibration.txt").read_text()
    assert "board coded:11x9:40, reference camera depth" in text
    assert "depth    (ir) 640x480" in text and "depth-color" in text
    png = cv2.imread(str(rep / "rig_calibration.png"))
    # Title, three cameras and three pairs of error bars, all views kept (green).
    assert png.shape[1] == 900 and png.shape[0] == 30 + 6 * 170
    green = (png[:, :, 1] > 150) & (png[:, :, 0] < 90) & (png[:, :, 2] < 90)
    assert green.sum() > 5000


def _error(capsys, argv) -> str:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thermorig: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.slow
def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    out = str(tmp_path / "rig.json")
    err = _error(capsys, ["calibrate", str(tmp_path / "nope.h5"), "--out", out])
    assert "session file not found" in err
    calib = str(session("calibration", 3.0))
    err = _error(capsys, ["calibrate", calib, "--board", "chess-9-6", "--out", out])
    assert "bad board spec" in err
    err = _error(capsys, ["calibrate", calib, "--out", str(tmp_path / "no" / "rig.json")])
    assert "folder for --out does not exist" in err
    err = _error(
        capsys,
        ["calibrate", calib, "--board", "checker:9x6:25", "--samples", "1", "--out", out, "-q"],
    )
    assert "never saw board checker:9x6:25" in err and "--board" in err
    # 3 s: the board stands still at two poses only.
    err = _error(capsys, ["calibrate", calib, "--out", out, "-q"])
    assert "usable views" in err and "capture more views" in err
    err = _error(capsys, ["calibrate", str(session("cycling", 0.5)), "--out", out, "-q"])
    assert "does not say which board" in err and "--board" in err
    no_ir = str(session("calibration", 1.0, ir_stream="off"))
    err = _error(capsys, ["calibrate", no_ir, "--out", out, "-q"])
    assert "no 'ir' stream" in err
    assert not (tmp_path / "rig.json").exists()


def test_samples_must_be_positive(tmp_path, capsys):
    calib = str(session("calibration", 3.0))
    err = _error(capsys, ["calibrate", calib, "--samples", "0", "--out", str(tmp_path / "r.json")])
    assert "--samples 0" in err


def test_calibration_benchmark_reports_every_stream_and_the_fit():
    from app.bench import load_benchmarks

    results = load_benchmarks()["calibration"](True)
    names = [r.name for r in results]
    for stream in ("thermal 640x512", "color 1280x720", "ir 640x480"):
        hit = [r for r in results if r.name.endswith(stream) and "coded" in r.name]
        assert len(hit) == 1 and hit[0].unit == "ms/frame" and hit[0].value > 0
        assert hit[0].note == "found in 9/9 frames"
    peer = next(r for r in results if r.peer)
    assert peer.peer == "findChessboardCornersSB" and peer.peer_value > 0
    fit = results[-1]
    assert fit.unit == "s" and "rig fit" in fit.name and "depth-thermal" in fit.note, names


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- outputs never replace what this run did not make (issue 14, case 1) ---------------
@pytest.mark.slow
def test_calibrate_never_replaces_a_session_or_its_input(tmp_path, capsys):
    calib = session("calibration", 20.0)  # one calibrate succeeds on
    other = write_thermal_session(tmp_path / "other.h5", np.full((2, 4, 4), 30.0))
    sums = {p: _sha(p) for p in (calib, other)}
    rig = tmp_path / "rig.json"
    for argv in (
        ["--out", other],
        ["--out", rig, "--yaml", other],
        ["--out", rig, "--yaml", calib, "--overwrite"],
        ["--out", calib, "--overwrite"],
    ):
        _error(capsys, ["calibrate", calib, "-q", *argv])
        assert {p: _sha(p) for p in sums} == sums and not rig.exists()
    existing = tmp_path / "report.txt"
    existing.write_text("a person's notes")
    err = _error(capsys, ["calibrate", calib, "-q", "--out", rig, "--report", existing])
    assert "--report" in err and not rig.exists()
    assert existing.read_text() == "a person's notes"
