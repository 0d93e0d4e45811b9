"""The GigE Vision driver against the real protocol: Aravis's fake camera on 127.0.0.1
(tests/gige_fake.py, our thermal GenICam file), recorded through ``thermorig record``,
killed mid-recording, brought back, and looked for where there is none.

Loopback only, opened by address: nothing here runs a discovery broadcast.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest

from tests.gige_fake import BODY_CK, RADIOMETRIC_GAIN, RADIOMETRIC_ZERO_CK, ROOM_CK, running_fake
from tests.real_data import import_or_unavailable, unavailable

gi = import_or_unavailable("gi", "the GigE driver needs PyGObject: bash scripts/install gige")
try:
    gi.require_version("Aravis", "0.8")
except ValueError as exc:
    unavailable(
        f"Aravis 0.8 is not installed ({exc}): bash scripts/install gige", module_level=True
    )

from drivers.errors import SourceError, one_line  # noqa: E402
from drivers.recorder import record  # noqa: E402
from drivers.session import SessionReader  # noqa: E402
from drivers.sources import open_source  # noqa: E402

THERMORIG = [sys.executable, "-m", "app.cli"]
pytestmark = pytest.mark.slow


def thermorig(*args: str, timeout: float = 40) -> subprocess.CompletedProcess:
    return subprocess.run([*THERMORIG, *args], capture_output=True, text=True, timeout=timeout)


def frames_of(driver, n: int, timeout: float = 5.0) -> list[np.ndarray]:
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        frame = driver.read(timeout=0.5)
        if frame is not None:
            out.append(frame.array)
    assert len(out) == n, f"only {len(out)} of {n} frames in {timeout} s"
    return out


def test_record_from_a_gige_camera_for_4_s_gets_its_frames_in_centikelvin(tmp_path):
    out = tmp_path / "gige.h5"
    with running_fake():
        r = thermorig("record", str(out), "--source", "gige:127.0.0.1", "--seconds", "4", "-q")
    assert r.returncode == 0, r.stderr
    assert "thermal" in r.stdout and "gap" not in r.stdout
    with SessionReader(out) as reader:
        spec = reader.streams["thermal"]
        assert (spec.units, spec.dtype, spec.shape) == ("centikelvin", "uint16", (120, 160))
        assert spec.fps == pytest.approx(25.0)
        # 25 fps for 4 s is 100 frames; a busy machine may lose some, not most
        assert reader.count("thermal") >= 60
        period = float(np.median(np.diff(reader.timestamps("thermal"))))
        image = reader.frame("thermal", 10).array
        assert reader.gaps() == []
    # The fake's room is 20.0-20.5 °C and its body 34 °C, with 0.04 K of noise.
    assert period == pytest.approx(0.040, abs=0.004)  # the camera's 25 fps, on the host clock
    assert abs(float(np.median(image)) - (ROOM_CK + 25)) < 30
    assert abs(float(image.max()) - BODY_CK) < 30
    info = thermorig("info", str(out))
    assert info.returncode == 0 and "centikelvin" in info.stdout


#: (spec options, units, the room's median as the fake sends it, tolerance)
CONVERSIONS = [
    ("IRFormat=TemperatureLinear10mK", "centikelvin", ROOM_CK + 25, 10),
    ("IRFormat=TemperatureLinear100mK", "centikelvin", ROOM_CK + 25, 10),  # decikelvin ×10
    # the fake's Radiometric counts (4 per kelvin from 233.15 K), given the inverse
    (
        "IRFormat=Radiometric&kelvin_per_count=0.25&kelvin_offset=233.15",
        "centikelvin",
        ROOM_CK + 25,
        30,
    ),
    (
        "IRFormat=Radiometric",
        "counts",
        RADIOMETRIC_GAIN * (ROOM_CK + 25 - RADIOMETRIC_ZERO_CK) / 100,
        2,
    ),
    ("pixel_format=Mono8", "counts", 2.5, 2),  # 0.1 K per grey level above 20 °C
]


def test_irformat_and_a_calibration_give_temperatures_else_the_units_say_counts_and_bad_settings_are_one_line():
    seen = {}
    with running_fake():
        for options, _, _, _ in CONVERSIONS:
            driver = open_source(f"gige:127.0.0.1?{options}")
            try:
                image = frames_of(driver, 3)[-1]
                # the body covers an eighth of the image: the median is the room
                seen[options] = (driver.streams["thermal"].units, float(np.median(image)))
            finally:
                driver.close()
        refused = {}
        for options in ("NoSuchFeature=1", "IRFormat=Celsius"):
            with pytest.raises(SourceError) as info:
                open_source(f"gige:127.0.0.1?{options}")
            refused[options] = str(info.value)
    assert "no GenICam feature 'NoSuchFeature'" in refused["NoSuchFeature=1"]
    assert "cannot set IRFormat=Celsius" in refused["IRFormat=Celsius"]
    assert all("\n" not in line for line in refused.values())
    for options, units, room, tolerance in CONVERSIONS:
        assert seen[options][0] == units, options
        assert abs(seen[options][1] - room) < tolerance, (options, seen[options])


def wait_for_frames_in(path: Path, size: int = 150_000, timeout: float = 20) -> None:
    """Until the recording at ``path`` has grown past ``size`` bytes (frames flow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (path.exists() and path.stat().st_size > size):
        time.sleep(0.05)
    assert path.exists() and path.stat().st_size > size, "the recording never got frames"


def test_a_camera_killed_and_restarted_is_a_gap_in_one_line_and_the_recording_goes_on(
    tmp_path,
):
    out = tmp_path / "lost.h5"
    command = [*THERMORIG, "record", str(out), "--source", "gige:127.0.0.1", "--seconds", "8"]
    with ExitStack() as stack:
        fake = stack.enter_context(running_fake())
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_frames_in(out)
        time.sleep(1.0)  # a second of frames (25) before it
        fake.kill()  # the cable pulled
        time.sleep(1.0)
        stack.enter_context(running_fake())  # and plugged back
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert stdout.count("\n") == 1 and ", 1 gap (thermal for " in stdout
    assert "sent nothing" in stdout and "Traceback" not in stderr
    with SessionReader(out) as reader:
        gaps = reader.gaps()
        ts = reader.timestamps("thermal")
    assert len(gaps) == 1 and gaps[0][0] == "thermal"
    _, start, end, _ = gaps[0]
    # frames before the kill, frames again after the reconnection, none in between
    assert (ts <= start).sum() >= 10 and (ts >= end).sum() >= 10
    assert not ((ts > start) & (ts < end)).any()
    assert thermorig("info", str(out)).returncode == 0


def test_a_camera_killed_for_good_leaves_a_valid_file_a_gap_and_one_line(tmp_path):
    out = tmp_path / "killed.h5"
    with running_fake() as fake:
        driver = open_source("gige:127.0.0.1", stall_timeout_s=0.5)
        try:

            def pull_the_cable() -> None:
                wait_for_frames_in(out)
                time.sleep(1.0)  # a second of frames (25) before it
                fake.kill()

            unplug = threading.Thread(target=pull_the_cable)
            unplug.start()
            with pytest.raises(SourceError) as info:
                record(driver, out, seconds=30, stall_timeout=1.5, flush_interval=0.2)
            unplug.join()
        finally:
            driver.close()
    line = one_line(info.value)
    assert str(info.value) == line and "delivered no frame" in line and "keeps" in line
    with SessionReader(out) as reader:
        assert reader.count("thermal") >= 10
        gaps = reader.gaps()
    assert len(gaps) == 1 and gaps[0][0] == "thermal" and np.isnan(gaps[0][2])
    assert "sent nothing" in gaps[0][3]
    info = thermorig("info", str(out))
    assert info.returncode == 0, info.stderr


def test_no_camera_at_the_address_is_one_line_and_exit_2_without_a_hang(tmp_path):
    out = tmp_path / "none.h5"
    t0 = time.monotonic()
    r = thermorig("record", str(out), "--source", "gige:127.0.0.1", "--seconds", "2")
    took = time.monotonic() - t0
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "no GigE Vision camera answers at 127.0.0.1" in r.stderr
    assert took < 15 and not out.exists()
