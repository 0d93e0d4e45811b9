"""RealSense drivers against real librealsense, without a camera.

``rs.software_device`` is a device made in software that librealsense treats like a
camera: ``rs.recorder`` writes its frames to a real ``.db3`` recording (the same code
path as recording a D435), and the live driver can stream from it as from a connected
device. So both ``rsbag:`` and ``realsense`` are tested through pyrealsense2 itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.real_data import import_or_unavailable

rs = import_or_unavailable("pyrealsense2", "it is a dependency of thermorig")

from drivers.errors import EndOfStream, SourceError  # noqa: E402
from drivers.realsense import RealSenseDriver  # noqa: E402
from drivers.realsense_streams import transform_of  # noqa: E402
from drivers.rsbag import RsBagDriver  # noqa: E402
from drivers.sources import open_source  # noqa: E402

N_FRAMES = 24
DEPTH_SCALE = 0.00025  # metres per unit, stored as float32 by librealsense


def _intrinsics(w: int, h: int, f: float, coeffs=(0.11, -0.05, 0.001, 0.002, 0.01)):
    i = rs.intrinsics()
    i.width, i.height = w, h
    i.fx, i.fy, i.ppx, i.ppy = f, f * 1.01, w / 2 + 0.5, h / 2 - 0.25
    i.model = rs.distortion.brown_conrady
    i.coeffs = list(coeffs)
    return i


def _video_stream(kind, index, uid, w, h, bpp, fmt, fps, intr):
    s = rs.video_stream()
    s.type, s.index, s.uid = kind, index, uid
    s.width, s.height, s.fps, s.bpp, s.fmt = w, h, fps, bpp, fmt
    s.intrinsics = intr
    return s


def _extrinsics(angle: float, t: tuple[float, float, float]):
    c, s = np.cos(angle), np.sin(angle)
    R = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    ex = rs.extrinsics()
    ex.rotation = [float(v) for v in R.T.reshape(-1)]  # column-major
    ex.translation = list(t)
    return ex, R, np.asarray(t)


def _push(sensor, profile, array, bpp, ts_ms, number):
    f = rs.software_video_frame()
    f.pixels = array
    f.bpp = bpp
    f.stride = array.shape[1] * bpp
    f.timestamp = ts_ms
    f.domain = rs.timestamp_domain.hardware_clock
    f.frame_number = number
    f.profile = profile.as_video_stream_profile()
    sensor.on_video_frame(f)


# Recording layout: name -> (sensor, type, index, w, h, bpp, format, shape, dtype, focal)
STREAMS = {
    "depth": (
        "Stereo Module",
        rs.stream.depth,
        0,
        640,
        480,
        2,
        rs.format.z16,
        (480, 640),
        np.uint16,
        600.0,
    ),
    "color": (
        "RGB Camera",
        rs.stream.color,
        0,
        640,
        480,
        3,
        rs.format.rgb8,
        (480, 640, 3),
        np.uint8,
        610.0,
    ),
    "thermal": (
        "Thermal",
        rs.stream.infrared,
        2,
        640,
        512,
        2,
        rs.format.y16,
        (512, 640),
        np.uint16,
        700.0,
    ),
}
COLOR_GAP = 10  # the colour stream's frame number 10 is never sent: one drop


def _ts_ms(i: int, k: int) -> float:
    # Multiples of 1/4 ms are exact in binary and at the recording's 1 ns resolution.
    return 5000.0 + i * 33.25 + k * 0.5


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A .db3 written by rs.recorder from a software device; returns (path, truth)."""
    path = tmp_path_factory.mktemp("rs") / "rig.db3"
    rng = np.random.default_rng(7)
    sd = rs.software_device()
    sd.register_info(rs.camera_info.name, "Software D4xx")
    sd.register_info(rs.camera_info.serial_number, "000111222")
    sensors, profiles = {}, {}
    for uid, (name, (sname, kind, idx, w, h, bpp, fmt, *_rest, f)) in enumerate(STREAMS.items()):
        sensors[name] = sd.add_sensor(sname)
        vs = _video_stream(kind, idx, uid, w, h, bpp, fmt, 30, _intrinsics(w, h, f))
        profiles[name] = sensors[name].add_video_stream(vs)
    sensors["depth"].add_read_only_option(rs.option.depth_units, DEPTH_SCALE)
    ex_c, R_c, t_c = _extrinsics(0.05, (0.015, 0.001, -0.002))
    ex_t, R_t, t_t = _extrinsics(-0.1, (-0.06, 0.02, 0.004))
    profiles["depth"].register_extrinsics_to(profiles["color"], ex_c)
    profiles["depth"].register_extrinsics_to(profiles["thermal"], ex_t)

    recorder = rs.recorder(str(path), sd)
    for name in STREAMS:
        sensors[name].open(profiles[name])
        sensors[name].start(lambda f: None)
    truth: dict[str, list] = {n: [] for n in STREAMS}
    for i in range(N_FRAMES):
        for k, (name, (*_, bpp, _fmt, shape, dtype, _f)) in enumerate(STREAMS.items()):
            if name == "color" and i == COLOR_GAP:
                continue
            hi = 256 if dtype == np.uint8 else 65536
            array = rng.integers(0, hi, size=shape, dtype=dtype)
            _push(sensors[name], profiles[name], array, bpp, _ts_ms(i, k), i)
            truth[name].append((i, _ts_ms(i, k), array))
    for name in STREAMS:
        sensors[name].stop()
        sensors[name].close()
    recorder.pause()
    del recorder  # the file is finished when the recorder is destroyed
    extr = {"color": (R_c, t_c), "thermal": (R_t, t_t)}
    return path, truth, extr


def _play_all(driver) -> list:
    frames = []
    with driver:
        while True:
            try:
                f = driver.read(timeout=5.0)
            except EndOfStream:
                break
            assert f is not None, "playback stalled"
            frames.append(f)
        health = driver.health()
    return frames, health


def test_playback_returns_every_frame_bit_exact(recording):
    path, truth, _ = recording
    frames, health = _play_all(open_source(f"rsbag:{path}"))
    by_stream = {n: [f for f in frames if f.stream == n] for n in STREAMS}
    for name in STREAMS:
        got, want = by_stream[name], truth[name]
        assert len(got) == len(want), name
        for k, (f, (number, ts_ms, array)) in enumerate(zip(got, want, strict=True)):
            assert f.index == k
            assert f.timestamp == ts_ms / 1000.0
            assert f.device_timestamp == ts_ms / 1000.0
            assert f.array.dtype == array.dtype and f.array.shape == array.shape
            assert np.array_equal(f.array, array), f"{name} frame {number} differs"
    assert health["color"].drops == 1  # from the recorded frame numbers
    assert health["depth"].drops == 0 and health["thermal"].drops == 0


def test_playback_streams_intrinsics_depth_scale_and_rig(recording):
    path, _, extr = recording
    d = RsBagDriver(str(path))
    d.open()
    try:
        assert set(d.streams) == {"depth", "color", "thermal"}
        depth, color, thermal = d.streams["depth"], d.streams["color"], d.streams["thermal"]
        assert (depth.kind, depth.units, depth.dtype, depth.shape) == (
            "depth",
            "depth_units",
            "uint16",
            (480, 640),
        )
        assert depth.depth_scale == pytest.approx(DEPTH_SCALE, rel=1e-6)
        assert (color.dtype, color.shape, color.units) == ("uint8", (480, 640, 3), "rgb")
        assert (thermal.kind, thermal.units, thermal.shape) == (
            "thermal",
            "centikelvin",
            (512, 640),
        )
        assert depth.fps == 30.0
        K = thermal.intrinsics.matrix
        assert K[0, 0] == pytest.approx(700.0) and K[1, 1] == pytest.approx(707.0, rel=1e-6)
        assert K[0, 2] == pytest.approx(320.5) and K[1, 2] == pytest.approx(255.75)
        assert thermal.intrinsics.dist == pytest.approx((0.11, -0.05, 0.001, 0.002, 0.01), rel=1e-6)

        rig = d.info.rig
        assert rig["reference"] == "depth" and set(rig["cameras"]) == {"depth", "color", "thermal"}
        assert np.allclose(rig["cameras"]["depth"]["T_ref_cam"], np.eye(4))
        for name, (R, t) in extr.items():
            # The recorded depth→name transform, inverted: name's points into depth's frame.
            T_ref_cam = np.asarray(rig["cameras"][name]["T_ref_cam"])
            T_cam_ref = np.linalg.inv(T_ref_cam)
            assert np.allclose(T_cam_ref[:3, :3], R, atol=1e-6)
            assert np.allclose(T_cam_ref[:3, 3], t, atol=1e-6)
            cam = rig["cameras"][name]
            assert (cam["height"], cam["width"]) == d.streams[name].shape[:2]
            assert np.allclose(cam["K"], d.streams[name].intrinsics.matrix)
    finally:
        d.close()


def test_transform_matches_librealsense_point_transform(recording):
    path, _, _ = recording
    dev = rs.context().load_device(str(path))
    profiles = {p.stream_type(): p for s in dev.query_sensors() for p in s.get_stream_profiles()}
    ex = profiles[rs.stream.depth].get_extrinsics_to(profiles[rs.stream.color])
    p = [0.3, -0.2, 1.7]
    mine = transform_of(ex) @ np.array([*p, 1.0])
    assert np.allclose(mine[:3], rs.rs2_transform_point_to_point(ex, p), atol=1e-6)


def test_slow_consumer_still_gets_every_frame(recording):
    path, truth, _ = recording
    d = RsBagDriver(str(path), streams=("thermal",), queue_size=1)
    frames, _ = _play_all(d)
    assert [f.index for f in frames] == list(range(N_FRAMES))
    assert all(np.array_equal(f.array, t[2]) for f, t in zip(frames, truth["thermal"], strict=True))


def test_rsbag_bad_paths(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        open_source(f"rsbag:{tmp_path / 'missing.db3'}")
    other = tmp_path / "x.h5"
    other.write_bytes(b"not a recording")
    with pytest.raises(SourceError, match=r"\.db3 or \.bag"):
        open_source(f"rsbag:{other}")
    broken = tmp_path / "broken.db3"
    broken.write_bytes(b"SQLite format 3\x00 but not really")
    with pytest.raises(SourceError, match="cannot read RealSense recording"):
        open_source(f"rsbag:{broken}")


# -- live -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


LIVE_MODES = {
    # name -> list of (sensor, type, index, w, h, bpp, format, fps)
    "depth": [
        ("Stereo Module", rs.stream.depth, 0, w, h, 2, rs.format.z16, fps)
        for w, h, fps in ((640, 480, 30), (848, 480, 30), (848, 480, 15))
    ],
    "ir": [
        ("Stereo Module", rs.stream.infrared, idx, 848, 480, 1, rs.format.y8, 30) for idx in (1, 2)
    ],
    "color": [
        ("RGB Camera", rs.stream.color, 0, w, h, 3, rs.format.rgb8, 30)
        for w, h in ((640, 480), (1280, 720))
    ],
}


@pytest.fixture
def live_device():
    """A software device with D4xx-like sensors and several modes per stream."""
    sd = rs.software_device()
    sd.register_info(rs.camera_info.name, "Software D435")
    sd.register_info(rs.camera_info.serial_number, "424242")
    sensors, profiles, uid = {}, {}, 0
    for name, modes in LIVE_MODES.items():
        for sname, kind, idx, w, h, bpp, fmt, fps in modes:
            if sname not in sensors:
                sensors[sname] = sd.add_sensor(sname)
            vs = _video_stream(kind, idx, uid, w, h, bpp, fmt, fps, _intrinsics(w, h, 600.0 + uid))
            profiles[(name, idx, w, h, fps)] = (sensors[sname], sensors[sname].add_video_stream(vs))
            uid += 1
    sensors["Stereo Module"].add_read_only_option(rs.option.depth_units, 0.001)
    ex, R, t = _extrinsics(0.02, (0.0148, 0.0002, 0.0003))
    profiles[("depth", 0, 848, 480, 30)][1].register_extrinsics_to(
        profiles[("color", 0, 1280, 720, 30)][1], ex
    )
    profiles[("depth", 0, 848, 480, 30)][1].register_extrinsics_to(
        profiles[("ir", 1, 848, 480, 30)][1], _extrinsics(0, (0, 0, 0))[0]
    )
    return sd, profiles, (R, t)


def _read(driver, n: int) -> list:
    out = []
    for _ in range(n):
        f = driver.read(timeout=2.0)
        assert f is not None, "the live driver delivered nothing"
        out.append(f)
    return out


def test_live_modes_intrinsics_rig_and_host_clock(live_device):
    sd, profiles, (R, t) = live_device
    clock = FakeClock(100.0)
    d = RealSenseDriver(devices=lambda: [sd], clock=clock, supervise=False)
    d.open()
    try:
        assert d.streams["depth"].shape == (480, 848) and d.streams[
            "depth"
        ].depth_scale == pytest.approx(0.001)
        assert d.streams["color"].shape == (720, 1280, 3)
        assert d.streams["ir"].shape == (480, 848) and d.streams["ir"].dtype == "uint8"
        assert d.info.extra["serial"] == "424242"
        # IR is the left imager (index 1), the one depth is registered to.
        assert set(d.info.rig["cameras"]) == {"depth", "color", "ir"}
        assert np.allclose(
            np.linalg.inv(np.asarray(d.info.rig["cameras"]["color"]["T_ref_cam"]))[:3, :3],
            R,
            atol=1e-6,
        )
        d.start()
        sensor, depth_p = profiles[("depth", 0, 848, 480, 30)]
        frames = []
        # Device clock starts at 7 s; frames arrive with 5 ms latency, one arrives late.
        for i, late in enumerate((0.005, 0.005, 0.030, 0.005)):
            clock.t = 100.0 + i * 0.0333 + late
            img = np.full((480, 848), i, np.uint16)
            _push(sensor, depth_p, img, 2, 7000.0 + i * 33.3, number=i if i < 3 else 5)
            frames += _read(d, 1)
        ts = [f.timestamp for f in frames]
        assert ts[0] == pytest.approx(100.005)
        # Later frames follow the device's deltas, not the late arrival.
        assert np.diff(ts) == pytest.approx([0.0333, 0.0333, 0.0333], abs=1e-4)
        assert [int(f.array[0, 0]) for f in frames] == [0, 1, 2, 3]
        assert frames[0].device_timestamp == pytest.approx(7.0)
        assert d.health()["depth"].drops == 2  # frame numbers 3 and 4 never came
    finally:
        d.close()


def test_live_stalled_sensor_restarts_with_backoff_and_resumes(live_device):
    sd, profiles, _ = live_device
    clock = FakeClock(0.0)
    d = RealSenseDriver(
        devices=lambda: [sd],
        clock=clock,
        supervise=False,
        streams=("depth", "color"),
        stall_timeout_s=1.0,
    )
    d.open()
    d.start()
    try:
        (ds, dp), (cs, cp) = (
            profiles[("depth", 0, 848, 480, 30)],
            profiles[("color", 0, 1280, 720, 30)],
        )
        for i in range(3):
            clock.t = i * 0.033
            _push(ds, dp, np.zeros((480, 848), np.uint16), 2, i * 33.0, i)
            _push(cs, cp, np.zeros((720, 1280, 3), np.uint8), 3, i * 33.0, i)
        _read(d, 6)
        last_depth = d._last_ts["depth"]

        def colour_at(t: float, n: int) -> None:
            """Colour keeps flowing whatever depth does."""
            clock.t = t
            _push(cs, cp, np.zeros((720, 1280, 3), np.uint8), 3, t * 1000.0, n)
            assert _read(d, 1)[0].stream == "color"

        # Depth goes silent; colour goes on.
        for i in range(3, 60):
            colour_at(i * 0.033, i)
            d.supervise_once()
        faults = d.fault_intervals()
        assert [f.stream for f in faults] == ["depth"] and faults[0].ongoing
        assert faults[0].start == last_depth
        assert d.health()["depth"].fault and not d.health()["color"].fault
        tries = faults[0].retries
        assert tries >= 1  # restarted at once, then paced by the back-off
        colour_at(clock.t + 0.2, 60)
        d.supervise_once()
        assert d.fault_intervals()[0].retries == tries  # back-off: not yet
        colour_at(clock.t + 5.0, 61)
        d.supervise_once()
        assert d.fault_intervals()[0].retries == tries + 1
        # The restarted sensor delivers again: the outage closes at that frame.
        _push(ds, dp, np.ones((480, 848), np.uint16), 2, 4000.0, 100)
        f = _read(d, 1)[0]
        assert f.stream == "depth"
        (fault,) = d.fault_intervals()
        assert fault.end == f.timestamp and not d.health()["depth"].fault
    finally:
        d.close()


def test_live_no_device_and_wrong_serial(live_device):
    sd, _, _ = live_device
    with pytest.raises(SourceError, match="no RealSense camera found"):
        RealSenseDriver(devices=lambda: []).open()
    with pytest.raises(SourceError, match="no RealSense camera with serial 999"):
        RealSenseDriver("999", devices=lambda: [sd]).open()


def test_recording_format_is_db3_only(tmp_path):
    """Documents librealsense 2.59: rs.recorder refuses .bag (playback of .bag remains)."""
    sd = rs.software_device()
    sd.add_sensor("s")
    with pytest.raises(RuntimeError, match=r"\.db3"):
        rs.recorder(str(tmp_path / "x.bag"), sd)


def test_thermorig_record_from_rsbag_writes_a_valid_session(recording, tmp_path):
    from app.cli import main
    from drivers.session import SessionReader

    path, truth, _ = recording
    out = tmp_path / "from_rs.h5"
    assert main(["record", str(out), "--source", f"rsbag:{path}", "-q"]) == 0
    with SessionReader(out) as r:
        assert r.attrs["format"] == "thermorig-session"
        for name in STREAMS:
            want = truth[name]
            assert r.count(name) == len(want), name
            assert r.streams[name].intrinsics is not None
            for i, (_number, ts_ms, array) in enumerate(want):
                f = r.frame(name, i)
                assert f.timestamp == ts_ms / 1000.0
                assert np.array_equal(f.array, array)
        assert r.rig is not None and "depth" in r.rig["cameras"]
        assert 0 < r.streams["depth"].depth_scale < 0.01
