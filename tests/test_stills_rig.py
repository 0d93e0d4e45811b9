"""A rig from folders of stills (calibration.stills_rig, ``calibrate-images --camera
NAME=DIR ...``) against the synthetic rig's truth, and plain OpenCV on the same images."""

import json
import os

import cv2
import numpy as np
import pytest

from app.cli import main
from calibration.boards import parse_board
from calibration.detect import detect
from calibration.images import read_board_image
from calibration.rig import Camera, Rig
from calibration.rig_calibration import rig_errors
from calibration.stills_rig import (
    calibrate_stills,
    camera_kind,
    flipped,
    match_stills,
    order_consistently,
)
from drivers.synthetic.stills import StillsOptions, write_stills

#: 8 x 6 inner corners: 9 x 7 squares, the same pattern after a 180° turn.
BOARD = "checker:8x6:40"
FOLDERS = {"depth": "ir", "thermal": "thermal", "color": "color"}


@pytest.fixture(scope="module")
def stills(tmp_path_factory):
    """Twelve poses, every other one turned 100° in its plane (where the detector's
    top-left numbering rule is nearly undecided); thermal 160×120 in rainbow."""
    folder = tmp_path_factory.mktemp("rig_stills")
    options = StillsOptions(
        board=BOARD,
        views=12,
        thermal_colormap="rainbow",
        thermal_size=(160, 120),
        color_size=(640, 360),
        depth_size=(320, 240),
        roll_deg=100.0,
    )
    return folder, write_stills(folder, options)


def _plain_grey(path):
    g = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if g.ndim == 3:
        return cv2.cvtColor(g, cv2.COLOR_BGR2GRAY)
    return cv2.normalize(g, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def _plain_corners(folder, board, read) -> dict[str, dict[str, np.ndarray]]:
    """findChessboardCornersSB's own corners and order, per camera and file."""
    found = {}
    for cam, sub in FOLDERS.items():
        found[cam] = {}
        for p in sorted((folder / sub).iterdir()):
            ok, corners = cv2.findChessboardCornersSB(read(p, cam), (board.cols, board.rows))
            if ok:
                found[cam][p.name] = corners
    return found


def _plain_opencv_rig(folder, board, found) -> Rig:
    """What a plain OpenCV script does with the corners: calibrateCamera per camera,
    stereoCalibrate with fixed intrinsics to the reference on the shared views."""
    obj = board.object_points(np.arange(board.corner_count)).astype(np.float32)
    cams = {}
    for cam, sub in FOLDERS.items():
        size = cv2.imread(str(next((folder / sub).iterdir())), cv2.IMREAD_UNCHANGED).shape[1::-1]
        views = list(found[cam].values())
        _, K, dist, _, _ = cv2.calibrateCamera([obj] * len(views), views, size, None, None)
        cams[cam] = Camera(size[0], size[1], K, dist.ravel())
    ref = cams["depth"]
    for cam in ("thermal", "color"):
        keys = sorted(set(found["depth"]) & set(found[cam]))
        out = cv2.stereoCalibrate(
            [obj] * len(keys),
            [found["depth"][k] for k in keys],
            [found[cam][k] for k in keys],
            ref.K,
            ref.dist,
            cams[cam].K,
            cams[cam].dist,
            (ref.width, ref.height),
            flags=cv2.CALIB_FIX_INTRINSIC,
        )
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = out[5], out[6].ravel()
        cams[cam].T_ref_cam = np.linalg.inv(T)
    return Rig(cameras=cams, reference="depth")


def test_three_folders_give_the_true_rig_where_plain_opencv_does_not(stills):
    folder, truth_dict = stills
    board = parse_board(BOARD)
    truth = Rig.from_dict(truth_dict["rig"])
    cal = calibrate_stills({c: folder / s for c, s in FOLDERS.items()}, board)
    ours = rig_errors(cal.result.to_rig(), truth)
    # A grey conversion of rainbow is not monotonic in temperature: OpenCV finds
    # (almost) no board. Given the colour map's intensity instead, its corner order
    # still differs between cameras.
    grey = _plain_corners(folder, board, lambda p, cam: _plain_grey(p))
    found = _plain_corners(
        folder,
        board,
        lambda p, cam: read_board_image(p, "thermal")[0] if cam == "thermal" else _plain_grey(p),
    )
    print(
        f"plain OpenCV finds the board in {len(grey['thermal'])}/12 grey-converted rainbow "
        f"stills, {len(found['thermal'])}/12 of their colour-map intensity"
    )
    assert len(grey["thermal"]) < 3
    plain = rig_errors(_plain_opencv_rig(folder, board, found), truth)
    for name in FOLDERS:
        print(
            f"{name}: thermorig focal {ours[name]['focal_pct']:.2f} % baseline "
            f"{ours[name]['baseline_mm']:.2f} mm | plain OpenCV focal "
            f"{plain[name]['focal_pct']:.2f} % baseline {plain[name]['baseline_mm']:.1f} mm"
        )
    for name, e in ours.items():
        assert e["focal_pct"] <= 1.0, name
        assert e["baseline_mm"] <= 3.0, name
        assert e["rotation_deg"] <= 1.0, name
    # The plain script is off by centimetres: its corner order differs between cameras.
    assert max(plain[c]["baseline_mm"] for c in ("thermal", "color")) > 10.0
    q = cal.quality()
    assert set(q["pairs"]) == {"depth-thermal", "depth-color", "thermal-color"}
    assert all(p["heldout_rms"] < 0.5 for p in q["pairs"].values())


def _detections(folders: dict, board) -> dict:
    dets = {}
    for cam, files in match_stills(folders).items():
        dets[cam] = {}
        for k, p in files.items():
            image, _ = read_board_image(p, camera_kind(cam))
            det = detect(image, board, kind=camera_kind(cam))
            if det is not None:
                dets[cam][k] = det
    return dets


def test_views_numbered_180_degrees_apart_are_renumbered(stills):
    folder, _ = stills
    board = parse_board(BOARD)
    dets = _detections({c: folder / FOLDERS[c] for c in ("depth", "thermal")}, board)
    assert order_consistently(dets, "depth", board) == {"thermal": []}
    turned = sorted(dets["thermal"])[1::2]
    for k in turned:
        dets["thermal"][k] = flipped(dets["thermal"][k], board)
    assert order_consistently(dets, "depth", board) == {"thermal": turned}


def test_stills_are_matched_by_the_digits_that_vary_or_by_file_time(tmp_path):
    png = cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for i, t in ((3, 100.0), (7, 200.0), (12, 300.0)):
        (a / f"IR_20240101_{i:04d}.png").write_bytes(png)
        (b / f"rgb2-{i}.png").write_bytes(png)
        os.utime(a / f"IR_20240101_{i:04d}.png", (t, t))
        os.utime(b / f"rgb2-{i}.png", (t + 0.4, t + 0.4))
    (b / "rgb2-5.png").write_bytes(png)  # a still only the second camera has
    by_name = match_stills({"a": a, "b": b}, "name")
    assert {k: p.name for k, p in by_name["a"].items()} == {
        0: "IR_20240101_0003.png",
        2: "IR_20240101_0007.png",
        3: "IR_20240101_0012.png",
    }
    assert {k: p.name for k, p in by_name["b"].items()} == {
        0: "rgb2-3.png",
        1: "rgb2-5.png",
        2: "rgb2-7.png",
        3: "rgb2-12.png",
    }
    by_time = match_stills({"a": a, "b": b}, "time")
    pairs = {by_time["a"][k].name[-8:-4]: by_time["b"][k].name for k in by_time["b"]}
    assert pairs == {"0003": "rgb2-3.png", "0007": "rgb2-7.png", "0012": "rgb2-12.png"}


def test_the_rig_form_of_calibrate_images_writes_the_rig_and_its_figures(stills, tmp_path, capsys):
    folder, _ = stills
    out = tmp_path / "rig.json"
    args = ["calibrate-images", "--board", BOARD, "--out", str(out), "--json", "-q"]
    for cam in ("depth", "thermal"):
        args += ["--camera", f"{cam}={folder / FOLDERS[cam]}"]
    assert main(args) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures["intrinsics"]) == {"depth", "thermal"}
    assert figures["pairs"]["depth-thermal"]["fitted"] is True
    rig = Rig.load(out)
    assert rig.reference == "depth" and set(rig.cameras) == {"depth", "thermal"}


@pytest.mark.parametrize(
    "cameras, message",
    [
        (["depth=X"], "two or more --camera"),
        (["depth=X", "depth=Y"], "given twice"),
        (["depth", "thermal=Y"], "give NAME=DIR"),
    ],
)
def test_bad_camera_lists_are_refused_in_one_line(cameras, message, tmp_path, capsys):
    args = ["calibrate-images", "--board", BOARD, "--out", str(tmp_path / "r.json")]
    for c in cameras:
        args += ["--camera", c]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_cameras_of_other_names_are_read_as_what_their_images_are(stills):
    folder, _ = stills
    first = {s: sorted((folder / s).iterdir()) for s in FOLDERS.values()}
    assert camera_kind("rgb", first["color"]) == "color"
    assert camera_kind("flir", first["thermal"]) == "thermal"  # colour-mapped
    assert camera_kind("depth", first["ir"]) == "ir"


def test_the_one_camera_form_reads_colour_mapped_stills_and_names_a_photo(stills, tmp_path, capsys):
    folder, _ = stills
    thermal = tmp_path / "thermal"
    thermal.mkdir()
    for p in sorted((folder / "thermal").iterdir()):
        (thermal / p.name).write_bytes(p.read_bytes())
    photo = next((folder / "color").iterdir())
    (thermal / "still_999.png").write_bytes(photo.read_bytes())
    out = tmp_path / "thermal.json"
    args = ["calibrate-images", str(thermal), "--board", BOARD, "--out", str(out), "-q"]
    assert main(args) == 0
    err = capsys.readouterr().err.strip()
    assert "still_999.png (a colour image that matches no thermal colour map)" in err
    assert "\n" not in err
    assert Rig.load(out)["thermal"].width == 160


def test_a_camera_mounted_upside_down_is_renumbered_in_every_view(stills, tmp_path):
    folder, truth_dict = stills
    upside = tmp_path / "upside"
    upside.mkdir()
    for p in sorted((folder / "color").iterdir()):
        cv2.imwrite(str(upside / p.name), cv2.rotate(cv2.imread(str(p)), cv2.ROTATE_180))
    board = parse_board(BOARD)
    upright = _detections({"depth": folder / "ir", "color": folder / "color"}, board)
    shared = set(upright["depth"]) & set(upright["color"])
    # The views the upright camera numbered apart from the reference now agree with it.
    apart = set(order_consistently(upright, "depth", board)["color"])
    cal = calibrate_stills({"depth": folder / "ir", "color": upside}, board)
    assert set(cal.renumbered["color"]) == shared - apart and len(apart) <= 1
    err = rig_errors(cal.result.to_rig(), Rig.from_dict(truth_dict["rig"]))["color"]
    print(
        f"upside-down color: baseline {err['baseline_mm']:.2f} mm, turned {err['rotation_deg']:.2f}°"
    )
    assert err["baseline_mm"] <= 3.0 and err["focal_pct"] <= 1.0
    assert abs(err["rotation_deg"] - 180.0) <= 1.0  # the mount itself is turned by 180°


def test_time_matching_reads_the_exif_capture_time_before_the_file_time(tmp_path):
    from PIL import Image

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for n, (sec, sub_a, sub_b) in enumerate(((10, "100", "400"), (12, "0", "250"), (15, "5", "9"))):
        for folder, sub, name in ((a, sub_a, f"x{n}.jpg"), (b, sub_b, f"y{2 - n}.jpg")):
            exif = Image.Exif()
            exif.get_ifd(0x8769)[36867] = f"2024:05:01 09:00:{sec:02d}"
            exif.get_ifd(0x8769)[37521] = sub
            Image.new("L", (8, 8)).save(folder / name, exif=exif)
            os.utime(folder / name, (1000.0, 1000.0))  # a copy: every file time the same
    by_time = match_stills({"a": a, "b": b}, "time")
    assert {by_time["a"][k].name: by_time["b"][k].name for k in by_time["b"]} == {
        "x0.jpg": "y2.jpg",
        "x1.jpg": "y1.jpg",
        "x2.jpg": "y0.jpg",
    }
