"""``thermorig calibrate-images``: real and rendered folders, and one-line errors."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from calibration.boards import parse_board
from calibration.rig import Rig
from tests import real_data
from tests.board_images import pose_views, quad_from_pose, render, thermal
from tests.thermal_sessions import write_thermal_session

K_TRUE = np.array([[500.0, 0, 320], [0, 500, 256], [0, 0, 1]])


@pytest.fixture(scope="module")
def rendered_folder(tmp_path_factory):
    """Ten 16-bit thermal PNGs of a checkerboard seen by one pinhole camera."""
    folder = tmp_path_factory.mktemp("thermal_views")
    board = parse_board("checker:9x6:25")
    for k, (rvec, tvec) in enumerate(pose_views(10, distance=0.45)):
        img, _ = render(board, quad_from_pose(board, K_TRUE, rvec, tvec), (640, 512))
        cv2.imwrite(str(folder / f"view_{k:02d}.png"), thermal(img, seed=k))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_rendered_16bit_folder_recovers_the_camera(rendered_folder, tmp_path, capsys):
    out = tmp_path / "rig.json"
    rc = main(
        [
            "calibrate-images",
            str(rendered_folder),
            "--board",
            "checker:9x6:25",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert rc == 0
    rig = Rig.load(out)
    cam = rig["thermal"]
    assert (cam.width, cam.height) == (640, 512)
    assert cam.K[0, 0] == pytest.approx(500, rel=0.01)
    assert cam.K[0, 2] == pytest.approx(320, abs=3)
    np.testing.assert_array_equal(cam.T_ref_cam, np.eye(4))
    q = rig.quality["intrinsics"]["thermal"]
    assert q["images"] == 10 and q["board_found"] >= 8
    assert q["rms"] < 0.15 and q["heldout_rms"] < 0.2
    assert rig.board == "checker:9x6:25"


def test_real_coded_target_folder_with_report(tmp_path, capsys):
    folder = real_data.require()
    out, rep = tmp_path / "rig.json", tmp_path / "report"
    args = ["calibrate-images", str(folder), "--board", real_data.MRT_BOARD, "--camera", "thermal"]
    assert main([*args, "--out", str(out), "--report", str(rep)]) == 0
    captured = capsys.readouterr()
    assert "RMS" in captured.out
    assert "detecting" in captured.err  # progress bar on stderr
    assert "target_60x45cm" in captured.err  # the print file, another size, is skipped
    d = json.loads(out.read_text())
    q = d["quality"]["intrinsics"]["thermal"]
    assert q["board_found"] - 1 >= 47  # minus the print file
    assert q["rms"] <= 0.30 and q["views_used"] >= 45
    assert d["cameras"]["thermal"]["width"] == 382
    assert (rep / "thermal_calibration.txt").read_text().startswith("camera thermal: 382x288")
    assert cv2.imread(str(rep / "thermal_calibration.png")) is not None


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1
    return err[-1]


def test_user_errors_are_one_line_with_what_to_do(tmp_path, capsys, rendered_folder):
    out = str(tmp_path / "rig.json")
    base = ["--board", "checker:9x6:25", "--out", out, "-q"]
    msg = _error(capsys, ["calibrate-images", str(tmp_path / "nope"), *base])
    assert "folder not found" in msg
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no images" in _error(capsys, ["calibrate-images", str(empty), *base])
    blank = tmp_path / "blank"
    blank.mkdir()
    for k in range(3):
        noise = np.random.default_rng(k).integers(0, 255, (120, 160), dtype=np.uint8)
        cv2.imwrite(str(blank / f"b{k}.png"), noise)
    msg = _error(capsys, ["calibrate-images", str(blank), *base])
    assert "not found in any of 3 images" in msg and "--board" in msg
    msg = _error(capsys, ["calibrate-images", str(blank), "--board", "checker:9x6", "--out", out])
    assert "bad board spec" in msg
    two = tmp_path / "two"
    two.mkdir()
    for p in sorted(rendered_folder.glob("*.png"))[:3]:
        (two / p.name).write_bytes(p.read_bytes())
    msg = _error(capsys, ["calibrate-images", str(two), *base])
    assert "need at least 5" in msg and "capture more views" in msg
    msg = _error(
        capsys,
        [
            "calibrate-images",
            str(rendered_folder),
            "--board",
            "checker:9x6:25",
            "--out",
            str(tmp_path / "no" / "r.json"),
        ],
    )
    assert "does not exist" in msg
    assert not (tmp_path / "rig.json").exists()


def test_errors_from_the_real_command_have_no_traceback(tmp_path):
    for argv in (
        [str(tmp_path / "missing"), "--board", "checker:9x6:25"],
        [str(tmp_path), "--board", "hexagon:3"],
    ):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli",
                "calibrate-images",
                *argv,
                "--out",
                str(tmp_path / "r.json"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("thermorig: error:")


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _refused(capsys, *argv) -> str:
    """Run thermorig, expect exit 2 and one error line; return the line."""
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thermorig: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


# -- outputs never replace what this run did not make (issue 14, case 1) ---------------
def _images(folder: Path) -> dict[str, str]:
    return {p.name: _sha(p) for p in sorted(folder.iterdir())}


def _calibrate_images(folder, *argv):
    return ["calibrate-images", folder, "--board", "checker:9x6:25", "-q", *argv]


def test_calibrate_images_never_replaces_a_session(rendered_folder, tmp_path, capsys):
    target = write_thermal_session(tmp_path / "s.h5", np.full((2, 4, 4), 30.0))
    before = _sha(target)
    for extra in ((), ("--overwrite",)):
        _refused(capsys, *_calibrate_images(rendered_folder, "--out", target, *extra))
        assert _sha(target) == before


def test_calibrate_images_never_replaces_one_of_its_images(rendered_folder, tmp_path, capsys):
    before = _images(rendered_folder)
    image = rendered_folder / "view_03.png"
    err = _refused(capsys, *_calibrate_images(rendered_folder, "--out", image, "--overwrite"))
    assert "an input of this run" in err
    link = tmp_path / "rig.json"  # a link to an input is that input
    link.symlink_to(image)
    _refused(capsys, *_calibrate_images(rendered_folder, "--out", link, "--overwrite"))
    assert _images(rendered_folder) == before


def test_calibrate_images_report_never_writes_through_a_link_to_an_image(
    rendered_folder, tmp_path, capsys
):
    before = _images(rendered_folder)
    report = tmp_path / "report"
    report.mkdir()
    (report / "thermal_calibration.png").symlink_to(rendered_folder / "view_01.png")
    argv = ["--out", tmp_path / "rig.json", "--report", report, "--overwrite"]
    err = _refused(capsys, *_calibrate_images(rendered_folder, *argv))
    assert "an input of this run" in err
    assert _images(rendered_folder) == before and not (tmp_path / "rig.json").exists()


def test_calibrate_images_report_onto_a_file_fails_before_the_rig_is_written(
    rendered_folder, tmp_path, capsys
):
    existing = tmp_path / "notes.txt"
    existing.write_text("a person's notes")
    out = tmp_path / "rig.json"
    err = _refused(capsys, *_calibrate_images(rendered_folder, "--out", out, "--report", existing))
    assert "--report" in err
    assert not out.exists() and existing.read_text() == "a person's notes"


def test_calibrate_images_replaces_its_rig_only_with_overwrite(rendered_folder, tmp_path, capsys):
    out = tmp_path / "rig.json"
    out.write_text("an older rig")
    err = _refused(capsys, *_calibrate_images(rendered_folder, "--out", out))
    assert "--overwrite" in err and out.read_text() == "an older rig"
    assert (
        main([str(a) for a in _calibrate_images(rendered_folder, "--out", out, "--overwrite")]) == 0
    )
    assert Rig.load(out).cameras["thermal"].width == 640
