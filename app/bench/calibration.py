"""Benchmarks of rig calibration: board detection per stream and the rig fit.

Frames come from the synthetic calibration scene (each stream at its own size:
thermal 640×512, RGB 1280×720, the depth camera's IR 640×480), at the scene's held
poses. Detection is timed per frame for the default coded target and, beside it, a
plain checkerboard with OpenCV's ``findChessboardCornersSB`` alone as the peer (our
detector adds preprocessing variants, X-junction refinement and validation).
"""

from __future__ import annotations

import time

import numpy as np

from app.bench import Result, benchmark, time_calls

_STREAMS = ("thermal", "color", "ir")


def _frames(board: str, poses: list[int], per_pose: int) -> tuple[object, dict]:
    """``{stream: [(pose, frame), ...]}`` of the held poses, ``per_pose`` frames each."""
    from drivers.synthetic import open_synthetic

    drv = open_synthetic("calibration", realtime=False, board=board, duration=1.0)
    drv.open()
    slot = drv.config.board_hold_s + drv.config.board_move_s
    out: dict[str, list] = {s: [] for s in _STREAMS}
    for p in poses:
        for k in range(per_pose):
            t = p * slot + 0.3 + 0.3 * k
            for s in _STREAMS:
                out[s].append((p, drv.render_frame(s, 1 + k + 10 * p, t)))
    return drv, out


@benchmark("calibration")
def bench_calibration(quick: bool) -> list[Result]:
    """Board detection time per frame and stream; the rig fit from detected views."""
    import cv2

    from calibration.boards import parse_board
    from calibration.detect import detect
    from calibration.detector_input import to_gray
    from calibration.rig_calibration import calibrate_views
    from calibration.still import View, average

    poses = list(range(9)) if quick else list(range(20))
    per_pose = 1 if quick else 3
    from drivers.synthetic import SyntheticConfig

    drv, frames = _frames(SyntheticConfig().board, poses, per_pose)
    board = parse_board(drv.info.truth["board"])
    out: list[Result] = []
    detections: dict[str, list] = {}
    for s in _STREAMS:
        times, found = [], []
        for p, f in frames[s]:
            t0 = time.perf_counter()
            det = detect(f.array, board, kind=s)
            times.append(time.perf_counter() - t0)
            if det is not None:
                found.append((p, det))
        detections[s] = found
        h, w = frames[s][0][1].array.shape[:2]
        out.append(
            Result(
                "calibration",
                f"detect {board.spec} in {s} {w}x{h}",
                1e3 * float(np.median(times)),
                "ms/frame",
                note=f"found in {len(found)}/{len(times)} frames",
            )
        )
    # A plain checkerboard in the thermal stream, against OpenCV's detector alone.
    _, checker = _frames("checker:9x6:40", poses[:3], 1)
    cb = parse_board("checker:9x6:40")
    arr = checker["thermal"][0][1].array
    ours = time_calls(lambda: detect(arr, cb, kind="thermal"), 5 if quick else 15)
    gray = to_gray(arr)
    peer = time_calls(lambda: cv2.findChessboardCornersSB(gray, (9, 6)), 5 if quick else 15)
    out.append(
        Result(
            "calibration",
            "detect checker:9x6:40 in thermal 640x512",
            1e3 * float(np.median(ours)),
            "ms/frame",
            peer="findChessboardCornersSB",
            peer_value=1e3 * float(np.median(peer)),
            note="ours: variants + X-junction refinement + validation",
        )
    )
    # The rig fit on one averaged view per camera and pose.
    cams = {"thermal": "thermal", "color": "color", "ir": "depth"}
    views: dict[str, list[View]] = {}
    for s, cam in cams.items():
        by_pose: dict[int, list] = {}
        for p, det in detections[s]:
            by_pose.setdefault(p, []).append(det)
        views[cam] = [
            View(cam, s, p, 0.0, avg, [])
            for p, dets in sorted(by_pose.items())
            if (avg := average(dets, board, s)) is not None
        ]
    views = {c: views[c] for c in ("depth", "thermal", "color")}
    t0 = time.perf_counter()
    result = calibrate_views(views, board)
    fit = time.perf_counter() - t0
    rms = ", ".join(f"{n} {p.rms:.3f}" for n, p in result.pairs.items())
    out.append(
        Result(
            "calibration",
            f"rig fit, 3 cameras, {len(poses)} poses (intrinsics, pairs, held-out)",
            fit,
            "s",
            note=f"pair RMS px: {rms}",
        )
    )
    return out
