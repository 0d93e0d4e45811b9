"""UVC thermal and plain OpenCV cameras, through a fake V4L2 capture.

The fake behaves like OpenCV's V4L2 backend in the one way that matters: setting the
FOURCC re-initialises the capture and switches RGB conversion back on, so Y16 words
come out only if ``CONVERT_RGB = 0`` is set *after* ``FOURCC = 'Y16 '``; otherwise it
hands out 8-bit BGR images, as the real backend does.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivers.errors import SourceError
from drivers.faults import Backoff
from drivers.opencv_cam import OpenCVCamera, parse_device
from drivers.uvc import PROFILES, UVCThermalCamera, parse_lepton_row_a, profile_for_shape
from tests.lepton_telemetry import (
    AGC,
    FFC_DESIRED,
    FFC_STATE_SHIFT,
    OVERTEMP,
    ROW_A,
    ROW_A_LEPTON2,
    SHUTTER_LOCKOUT,
    lepton_frame,
    row_a,
)

Y16 = float(cv2.VideoWriter_fourcc(*"Y16 "))


def lepton_sequence(
    n_unique: int = 5, ffc_at: int = 2
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each new image sent three times (9 new images/s at 27 Hz); one taken during FFC."""
    rng = np.random.default_rng(3)
    images = [rng.integers(29000, 31500, (120, 160), dtype=np.uint16) for _ in range(n_unique)]
    frames = []
    for k, img in enumerate(images):
        for _ in range(3):
            frames.append(lepton_frame(img, counter=3 * k, ffc_state=2 if k == ffc_at else 3))
    return images, frames


class FakeV4L2:
    """Records every call; serves frames like OpenCV's V4L2 backend would."""

    def __init__(self, frames, *, honours_convert=True, fail_after=None, raw_bytes=False):
        self.frames = list(frames)
        self.calls: list[tuple] = []
        self.props: dict[int, float] = {}
        self.convert_rgb = True
        self.honours_convert = honours_convert
        self.fail_after = fail_after
        self.raw_bytes = raw_bytes
        self.reads = 0
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def set(self, prop: int, value: float) -> bool:
        self.calls.append(("set", prop, value))
        self.props[prop] = value
        if prop == cv2.CAP_PROP_FOURCC:
            self.convert_rgb = True  # what cap_v4l does when the format changes
        elif prop == cv2.CAP_PROP_CONVERT_RGB and self.honours_convert:
            self.convert_rgb = bool(value)
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FPS: 27.0}.get(prop, 0.0)

    def read(self):
        self.calls.append(("read",))
        if self.fail_after is not None and self.reads >= self.fail_after:
            return False, None
        if not self.frames:
            return False, None
        words = self.frames.pop(0)
        self.reads += 1
        if self.props.get(cv2.CAP_PROP_FOURCC) != Y16 or self.convert_rgb:
            img8 = (words >> 8).astype(np.uint8)
            return True, np.dstack([img8] * 3)
        if self.raw_bytes:
            return True, words.astype("<u2").view(np.uint8).reshape(1, -1)
        return True, words.copy()

    def release(self) -> None:
        self.calls.append(("release",))
        self.released = True


class FakeClock:
    def __init__(self, t: float = 10.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def make(frames, clock=None, **kw):
    caps = []
    cap_options = kw.pop("cap_options", {})

    def factory(device):
        cap = FakeV4L2(frames, **cap_options)
        caps.append(cap)
        return cap

    d = UVCThermalCamera(
        "0", capture_factory=factory, threaded=False, clock=clock or FakeClock(), **kw
    )
    return d, caps


def grab_all(d, clock, n, dt=1 / 27):
    out = []
    for _ in range(n):
        clock.t += dt
        d.grab_once()
        f = d.read(timeout=0)
        if f is not None:
            out.append(f)
    return out


def test_fourcc_is_set_before_convert_rgb_and_y16_words_come_through():
    images, frames = lepton_sequence()
    clock = FakeClock()
    d, caps = make(frames, clock)
    d.open()
    sets = [c[1] for c in caps[0].calls if c[0] == "set"]
    assert sets.index(cv2.CAP_PROP_FOURCC) < sets.index(cv2.CAP_PROP_CONVERT_RGB)
    assert (
        caps[0].props[cv2.CAP_PROP_FOURCC] == Y16 and caps[0].props[cv2.CAP_PROP_CONVERT_RGB] == 0
    )
    spec = d.streams["thermal"]
    assert (spec.shape, spec.dtype, spec.units, spec.kind) == (
        (120, 160),
        "uint16",
        "centikelvin",
        "thermal",
    )
    assert (
        d.profile.name == "lepton3-telemetry"
        and d.info.extra["thermal_profile"] == "lepton3-telemetry"
    )
    got = grab_all(d, clock, 14)  # open() consumed the first frame
    assert len(got) == 14
    # Telemetry rows stripped; centikelvin passed through bit-exact.
    assert np.array_equal(got[-1].array, images[4]) and np.array_equal(got[0].array, images[0])
    assert got[2].meta["frame_counter"] == 3 and got[2].meta["fpa_temp_ck"] == 30815
    assert got[2].meta["ms_since_ffc"] == 12_000 and got[2].meta["uptime_ms"] == 50_000


def test_duplicates_are_counted_and_can_be_dropped():
    images, frames = lepton_sequence()
    clock = FakeClock()
    d, _ = make(frames, clock)
    d.open()
    got = grab_all(d, clock, 14)
    assert d.health()["thermal"].duplicates == 9  # 2 of every 3 after the first pair
    assert len(got) == 14

    images, frames = lepton_sequence()
    clock = FakeClock()
    d, _ = make(frames, clock, drop_duplicates=True)
    d.open()
    got = grab_all(d, clock, 14)
    assert [int(f.meta["frame_counter"]) for f in got] == [0, 3, 6, 9, 12]
    assert all(np.array_equal(f.array, img) for f, img in zip(got, images, strict=True))
    assert d.health()["thermal"].duplicates == 9


def test_ffc_frames_are_flagged_and_can_be_dropped():
    _, frames = lepton_sequence(ffc_at=2)
    clock = FakeClock()
    d, _ = make(frames, clock)
    d.open()
    got = grab_all(d, clock, 14)
    flagged = [f.meta["frame_counter"] for f in got if f.meta["ffc"]]
    assert flagged == [6, 6, 6] and d.ffc_frames == 3
    assert got[0].meta["ffc_state"] == "done"

    _, frames = lepton_sequence(ffc_at=2)
    d, _ = make(frames, clock, drop_ffc=True)
    d.open()
    got = grab_all(d, clock, 14)
    assert all(not f.meta["ffc"] for f in got) and len(got) == 11


def test_a_capture_stuck_on_8_bit_conversion_is_refused_at_open():
    _, frames = lepton_sequence()
    d, _ = make(frames, cap_options={"honours_convert": False})
    with pytest.raises(SourceError, match="not Y16"):
        d.open()


def test_old_opencv_raw_byte_buffer_is_read_as_words():
    images, frames = lepton_sequence()
    clock = FakeClock()
    d, _ = make(frames, clock, cap_options={"raw_bytes": True})
    d.open()
    f = grab_all(d, clock, 1)[0]
    assert f.array.shape == (120, 160) and np.array_equal(f.array, images[0])


def test_boson_profiles_and_unknown_sizes():
    assert profile_for_shape((512, 640)).name == "boson640"
    assert profile_for_shape((122, 160)).telemetry_rows == 2
    assert profile_for_shape((63, 80)).name == "lepton2-telemetry"
    with pytest.raises(SourceError, match="unknown thermal camera"):
        profile_for_shape((100, 100))
    raw = np.full((512, 640), 3101, np.uint16)  # TLinear 0.1 K: 310.1 K
    clock = FakeClock()
    d, _ = make([raw, raw.copy()], clock, profile="boson640-lowres")
    d.open()
    f = grab_all(d, clock, 1)[0]
    assert f.array.dtype == np.uint16 and int(f.array[0, 0]) == 31010 and f.meta is None
    assert PROFILES["boson640"].convert(raw) is raw
    with pytest.raises(SourceError, match="unknown thermal profile"):
        UVCThermalCamera("0", profile="nope")


def test_lepton_row_a_layout():
    """Every field the parser reports, at the word the datasheet and the PureThermal
    firmware give it (``ROW_A`` above), with 32-bit values that need both words."""
    row = row_a(
        ROW_A,
        revision=14,
        time_counter_ms=0x0003_0001,
        status=(1 << FFC_STATE_SHIFT) | FFC_DESIRED | AGC,
        software_revision=0x0003_0002_0001_0000,
        frame_counter=0x0001_2345,
        frame_mean=29876,
        fpa_temp_counts=8123,
        fpa_temp_ck=30815,
        fpa_temp_last_ffc_ck=30790,
        time_counter_last_ffc_ms=0x0003_0001 - 70_000,
        agc_roi=0x009F_0077_0000_0000,
    )
    meta = parse_lepton_row_a(row)
    assert meta == {
        "telemetry_revision": 14,
        "uptime_ms": 0x0003_0001,
        "ffc_desired": True,
        "ffc_state": "imminent",
        "ffc": False,
        "agc": True,
        "shutter_lockout": False,
        "overtemp_imminent": False,
        "frame_counter": 0x0001_2345,
        "frame_mean": 29876,
        "fpa_temp_ck": 30815,
        "ms_since_ffc": 70_000,
    }, "and no housing temperature: words 25-28 are reserved on a Lepton 3"
    lepton2 = row_a(ROW_A_LEPTON2, housing_temp_counts=7000, housing_temp_ck=30415)
    assert parse_lepton_row_a(lepton2, housing=True)["housing_temp_ck"] == 30415


@pytest.mark.parametrize(
    "status, expected",
    [
        (0 << FFC_STATE_SHIFT, {"ffc_state": "never"}),
        (1 << FFC_STATE_SHIFT, {"ffc_state": "imminent"}),
        (2 << FFC_STATE_SHIFT, {"ffc_state": "in_progress", "ffc": True}),
        (3 << FFC_STATE_SHIFT, {"ffc_state": "done"}),
        (FFC_DESIRED, {"ffc_desired": True, "ffc_state": "never"}),
        (AGC, {"agc": True, "ffc_state": "never"}),
        (SHUTTER_LOCKOUT, {"shutter_lockout": True, "ffc_state": "never"}),
        (OVERTEMP, {"overtemp_imminent": True, "ffc_state": "never"}),
    ],
)
def test_lepton_status_bits_one_at_a_time(status, expected):
    flags = {"ffc_desired", "ffc", "agc", "shutter_lockout", "overtemp_imminent"}
    want = {**dict.fromkeys(flags, False), **expected}
    meta = parse_lepton_row_a(row_a(ROW_A, status=status))
    assert {k: meta[k] for k in want} == want


def test_lepton2_frames_report_the_housing_temperature_and_lepton3_frames_do_not():
    image = np.full((60, 80), 30000, np.uint16)
    frame = np.zeros((63, 80), np.uint16)
    frame[:60] = image
    frame[60] = row_a(ROW_A_LEPTON2, frame_counter=7, housing_temp_ck=30415, fpa_temp_ck=30815)
    clock = FakeClock()
    d, _ = make([frame, frame.copy()], clock)
    d.open()
    f = grab_all(d, clock, 1)[0]
    assert d.profile.name == "lepton2-telemetry" and np.array_equal(f.array, image)
    assert f.meta["housing_temp_ck"] == 30415 and f.meta["fpa_temp_ck"] == 30815
    assert f.meta["frame_counter"] == 7
    _, frames = lepton_sequence()
    d, _ = make(frames, clock)
    d.open()
    assert "housing_temp_ck" not in grab_all(d, clock, 1)[0].meta


def test_lost_camera_reconnects_with_backoff_and_reports_the_gap():
    images, frames = lepton_sequence(n_unique=8)
    clock = FakeClock(100.0)
    caps = []

    def factory(device):
        # The first capture dies after 5 frames (unplugged); reopening fails twice.
        if len(caps) in (1, 2):
            caps.append(None)
            return None
        cap = FakeV4L2(frames, fail_after=5 if not caps else None)
        caps.append(cap)
        return cap

    d = UVCThermalCamera(
        "/dev/video3",
        capture_factory=factory,
        threaded=False,
        clock=clock,
        max_failed_reads=3,
        backoff=Backoff(0.5, 2.0, 10.0, clock=clock),
    )
    d.open()
    got = grab_all(d, clock, 4, dt=0.04)
    last = got[-1].timestamp
    for _ in range(3):  # three failed reads: camera lost
        clock.t += 0.04
        assert not d.grab_once()
    assert caps[0].released
    (fault,) = d.fault_intervals()
    assert fault.ongoing and fault.start == last and "reconnecting" in fault.message
    assert d.health()["thermal"].fault
    # Attempts at once after 0.5 s, then 1 s, then 2 s: the first two fail to open.
    clock.t += 0.5
    assert not d.grab_once() and len(caps) == 2
    clock.t += 0.5
    assert not d.grab_once() and len(caps) == 2  # back-off: 1 s not over
    clock.t += 0.6
    assert not d.grab_once() and len(caps) == 3
    clock.t += 2.1
    assert d.grab_once() and len(caps) == 4
    f = d.read(timeout=0)
    (fault,) = d.fault_intervals()
    assert fault.end == f.timestamp and fault.retries == 3
    assert not d.health()["thermal"].fault


def test_stall_inside_read_is_reported_without_the_grab_loop():
    _, frames = lepton_sequence()
    clock = FakeClock()
    d, _ = make(frames, clock, stall_timeout_s=1.0)
    d.open()
    grab_all(d, clock, 2)
    clock.t += 3.0  # the grab thread would be stuck in read()
    assert d.read(timeout=0) is None
    assert "no frames for" in d.health()["thermal"].fault


def test_opencv_camera_converts_bgr_to_rgb_and_timestamps_on_v4l2_clock():
    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[..., 0] = 255  # blue in OpenCV's order

    class Cam(FakeV4L2):
        def read(self):
            self.reads += 1
            return True, bgr.copy()

        def get(self, prop):
            # V4L2 buffer timestamps are CLOCK_MONOTONIC, i.e. the host clock.
            return 10_000.0 - 3.0 if prop == cv2.CAP_PROP_POS_MSEC else 30.0

    clock = FakeClock(10.0)
    d = OpenCVCamera(
        "2", capture_factory=lambda dev: Cam([]), threaded=False, clock=clock, width=64, height=48
    )
    d.open()
    assert d.streams["color"].shape == (48, 64, 3) and d.streams["color"].fps == 30.0
    d.grab_once()
    f = d.read(timeout=0)
    assert f.array[0, 0].tolist() == [0, 0, 255]
    assert f.timestamp == pytest.approx(9.997) and f.device_timestamp == pytest.approx(9.997)


def test_device_specs():
    assert parse_device("0") == 0 and parse_device("/dev/video4") == "/dev/video4"
    with pytest.raises(SourceError):
        parse_device("webcam")
    with pytest.raises(SourceError, match="cannot open camera"):
        OpenCVCamera("1", capture_factory=lambda dev: None, threaded=False).open()


def test_threaded_grab_delivers_frames():
    images, frames = lepton_sequence()
    d = UVCThermalCamera("0", capture_factory=lambda dev: FakeV4L2(frames))
    d.open()
    try:
        f = d.read(timeout=2.0)
        assert f is not None and f.stream == "thermal"
    finally:
        d.close()
