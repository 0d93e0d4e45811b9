"""Board detection on stills as vendor tools save them: colour-mapped 8-bit thermal,
inverted contrast, a 160×120 sensor (calibration.detect on drivers.colormaps' intensity)."""

import json

import cv2
import numpy as np
import pytest

from calibration.boards import parse_board
from calibration.detect import detect
from calibration.rig import Rig
from drivers.colormaps import invert_colormap
from drivers.synthetic.stills import StillsOptions, write_stills

BOARD = "checker:8x6:40"


@pytest.fixture(scope="module", params=[False, True], ids=["warm-dark", "inverted"])
def low_res_stills(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("stills")
    options = StillsOptions(
        board=BOARD,
        views=6,
        thermal_colormap="ironbow",
        invert_thermal=request.param,
        thermal_size=(160, 120),
        color_size=(320, 180),
        depth_size=(160, 120),
    )
    truth = write_stills(folder, options)
    return folder, truth


def _corner_errors(det, board, cam, T_cam_board):
    """Pixel distance of each corner to where the true camera sees it (either of the
    two labellings a plain checkerboard allows)."""
    truth_pts, _ = cv2.projectPoints(
        board.object_points(np.arange(board.corner_count)).astype(np.float64),
        cv2.Rodrigues(T_cam_board[:3, :3])[0],
        T_cam_board[:3, 3],
        cam.K,
        cam.dist,
    )
    truth_pts = truth_pts.reshape(-1, 2)
    errs = [
        np.hypot(*(det.image_points - truth_pts[ids]).T)
        for ids in (det.ids, board.corner_count - 1 - det.ids)
    ]
    return min(errs, key=np.median)


def test_colour_mapped_low_res_thermal_is_found_in_either_polarity(low_res_stills):
    folder, truth = low_res_stills
    board = parse_board(BOARD)
    cam = Rig.from_dict(truth["rig"])["thermal"]
    found, errors = 0, []
    for n, T in enumerate(truth["board_poses"]["thermal"]):
        rgb = cv2.cvtColor(
            cv2.imread(str(folder / "thermal" / f"still_{n:03d}.png")), cv2.COLOR_BGR2RGB
        )
        fit = invert_colormap(rgb)
        assert fit.name == "ironbow"
        det = detect(fit.as_uint8(), board, kind="thermal")
        if det is None:
            continue
        found += 1
        errors.append(_corner_errors(det, board, cam, np.asarray(T)))
    errors = np.concatenate(errors)
    print(
        f"thermal 160x120: board in {found}/6 stills, corner error median "
        f"{np.median(errors):.3f} px, 95th {np.percentile(errors, 95):.3f} px"
    )
    assert found >= 5  # one pose is aimed at the depth camera's border, outside thermal
    assert np.median(errors) < 0.15 and np.percentile(errors, 95) < 0.4


def test_truth_file_holds_the_true_rig_and_the_thermal_export(low_res_stills):
    folder, truth = low_res_stills
    on_disk = json.loads((folder / "truth.json").read_text())
    rig = Rig.from_dict(on_disk["rig"])
    assert set(rig.cameras) == {"depth", "thermal", "color"} and rig.reference == "depth"
    assert (rig["thermal"].width, rig["thermal"].height) == (160, 120)
    assert on_disk["thermal"]["colormap"] == "ironbow"
    names = {p.name for p in (folder / "thermal").iterdir()}
    assert (
        names
        == {p.name for p in (folder / "color").iterdir()}
        == {p.name for p in (folder / "ir").iterdir()}
    )
    assert len(names) == 6
