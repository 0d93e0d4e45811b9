"""``realsense[:SERIAL]``: Intel RealSense cameras, live, through pyrealsense2.

Streams are opened per sensor (``sensor.open`` + ``sensor.start(callback)``), not
through ``rs.pipeline``: the pipeline's syncer holds frames back to match them, while
thermorig synchronizes all cameras of the rig itself and wants each frame the moment
it exists. Callbacks map device timestamps onto the host clock, copy the pixels out of
librealsense's frame pool and hand them over through a drop-oldest queue, so a slow
consumer never stalls the camera. Drops are counted from the device's frame numbers.

The device's factory calibration becomes ``info.rig`` (rig JSON schema of docs/formats/rig.md,
reference ``depth``), intrinsics go into each StreamSpec, the depth scale comes from
the depth sensor. A sensor that stops delivering is restarted with back-off while the
other sensors go on; the outage is reported per stream (``fault_intervals``).

What a RealSense stream is in thermorig terms (formats, names, intrinsics, rig) is
in drivers.realsense_streams, shared with ``rsbag:`` playback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from drivers.errors import SourceError
from drivers.faults import Backoff, Clock, StallWatch
from drivers.live import HOST_CLOCK, ClockMap, LiveDriver
from drivers.loop_thread import LoopThread
from drivers.realsense_streams import (
    _rs,
    depth_scale_of,
    device_label,
    fmt_name,
    frame_to_array,
    intrinsics_of,
    is_depth_sensor,
    rig_from_profiles,
    spec_for,
    stream_name_for,
    stream_type_name,
)
from drivers.types import Frame

Mode = tuple[int, int, int]

#: Default modes (width, height, fps) per stream; RealSense D4xx favourites.
DEFAULT_MODES: dict[str, Mode] = {
    "depth": (848, 480, 30),
    "color": (1280, 720, 30),
    "ir": (848, 480, 30),
}
_FORMAT_PREFERENCE = {"depth": ("z16",), "color": ("rgb8", "bgr8", "yuyv"), "ir": ("y8", "y16")}


@dataclass
class _Bound:
    """A sensor and the profiles thermorig streams from it."""

    sensor: Any
    profiles: dict[str, Any]
    backoff: Backoff


def choose_profile(sensor: Any, name: str, mode: Mode | None, on_depth: bool) -> Any | None:
    """The sensor's best profile for ``name``: exact mode, else same size, else default."""
    candidates = [p for p in sensor.get_stream_profiles() if stream_name_for(p, on_depth) == name]
    if not candidates:
        return None
    prefs = _FORMAT_PREFERENCE.get(name, ())

    def score(p: Any) -> tuple:
        vp = p.as_video_stream_profile()
        w, h, fps = vp.width(), vp.height(), p.fps()
        fmt = fmt_name(p)
        exact = mode is not None and (w, h, fps) == tuple(mode)
        same_size = mode is not None and (w, h) == tuple(mode[:2])
        fps_gap = abs(fps - mode[2]) if mode is not None else 0
        return (
            not exact,
            not same_size,
            fps_gap,
            not p.is_default(),
            prefs.index(fmt) if fmt in prefs else len(prefs),
            p.stream_index() != 1,  # ir: the left imager, which depth is registered to
            -w * h,
        )

    return min(candidates, key=score)


class RealSenseDriver(LiveDriver):
    """A live RealSense camera: ``depth``, ``color`` and ``ir`` streams.

    Options: ``streams`` (names to open), ``depth``/``color``/``ir`` modes as
    (width, height, fps), ``devices`` (a callable returning devices; default the
    connected ones — tests hand in an ``rs.software_device``), ``clock``,
    ``supervise`` (False: no supervisor thread; call :meth:`supervise_once`).
    """

    def __init__(
        self,
        serial: str = "",
        *,
        streams: Sequence[str] = ("depth", "color", "ir"),
        depth: Mode | None = None,
        color: Mode | None = None,
        ir: Mode | None = None,
        devices: Callable[[], Sequence[Any]] | None = None,
        clock: Clock = HOST_CLOCK,
        supervise: bool = True,
        queue_size: int = 12,
        stall_timeout_s: float = 2.0,
    ):
        super().__init__(f"realsense:{serial}" if serial else "realsense", queue_size, clock)
        self.serial = serial.strip()
        self.wanted = tuple(streams)
        self.modes = {
            "depth": depth or DEFAULT_MODES["depth"],
            "color": color or DEFAULT_MODES["color"],
            "ir": ir or DEFAULT_MODES["ir"],
        }
        self._devices = devices or self._connected
        self._supervise = supervise
        self._stall_timeout = stall_timeout_s
        self._ctx: Any = None
        self._dev: Any = None
        self._bound: list[_Bound] = []
        self._clockmap = ClockMap()
        self._map_lock = threading.Lock()
        self._watch: StallWatch | None = None
        self._loop = LoopThread(self._run, "realsense-supervisor")
        self._started = False

    def _connected(self) -> list[Any]:
        self._ctx = _rs().context()
        return list(self._ctx.query_devices())

    def _find_device(self) -> Any:
        rs = _rs()
        devices = list(self._devices())
        if not devices:
            raise SourceError(
                "no RealSense camera found; connect one, or use rsbag:PATH or synthetic:cycling"
            )
        if not self.serial:
            return devices[0]
        serials = [d.get_info(rs.camera_info.serial_number) for d in devices]
        if self.serial not in serials:
            raise SourceError(
                f"no RealSense camera with serial {self.serial}; connected: {', '.join(serials)}"
            )
        return devices[serials.index(self.serial)]

    def open(self) -> None:
        if self._dev is not None:
            return  # already open
        rs = _rs()
        dev = self._find_device()
        label = device_label(dev)
        self.serial = dev.get_info(rs.camera_info.serial_number)
        bound: list[_Bound] = []
        chosen: dict[str, Any] = {}
        depth_scale = None
        for sensor in dev.query_sensors():
            on_depth = is_depth_sensor(sensor)
            profiles = {}
            for name in self.wanted:
                if name in chosen:
                    continue
                p = choose_profile(sensor, name, self.modes.get(name), on_depth)
                if p is not None:
                    profiles[name] = chosen[name] = p
            if profiles:
                bound.append(_Bound(sensor, profiles, Backoff(clock=self._clock)))
                if "depth" in profiles:
                    depth_scale = depth_scale_of(sensor)
        missing = [n for n in self.wanted if n not in chosen]
        if missing:
            raise SourceError(f"{label} offers no {', '.join(missing)} stream; pick streams=...")
        self._dev, self._bound = dev, bound
        self._streams = {n: spec_for(n, chosen[n], depth_scale, label) for n in self.wanted}
        self._info.devices = {n: label for n in self._streams}
        self._info.rig = rig_from_profiles(chosen, f"{label} factory calibration")
        self._info.extra.update(
            serial=self.serial,
            depth_scale=depth_scale,
            modes={n: s.to_dict() for n, s in self._streams.items()},
            distortion_models={n: intrinsics_of(p)[1] for n, p in chosen.items()},
        )
        fps = {n: s.fps for n, s in self._streams.items()}
        self._watch = StallWatch(fps, timeout_s=self._stall_timeout, clock=self._clock)

    # -- streaming ----------------------------------------------------------------------
    def _callback(self, bound: _Bound) -> Callable[[Any], None]:
        names = {(stream_type_name(p), p.stream_index()): n for n, p in bound.profiles.items()}

        def on_frame(f: Any) -> None:
            arrival = self._clock()
            try:
                profile = f.get_profile()
                name = names.get((stream_type_name(profile), profile.stream_index()))
                if name is None:
                    return
                array = frame_to_array(f.as_video_frame(), fmt_name(profile))
                device_s = f.get_timestamp() / 1000.0
                key = str(f.get_frame_timestamp_domain())
                with self._map_lock:
                    t = self._monotonic_ts(name, self._clockmap.map(key, device_s, arrival))
                frame = Frame(name, self._next_index(name), t, array, device_s)
                counter = int(f.get_frame_number())
            except Exception as exc:  # noqa: BLE001 - never let an exception into librealsense
                self._info.extra["last_callback_error"] = repr(exc)
                return
            if self._watch is not None:
                self._watch.fed(name)
            bound.backoff.succeeded()
            self._deliver(frame, counter)

        return on_frame

    def _start_sensor(self, b: _Bound) -> None:
        b.sensor.open(list(b.profiles.values()))
        b.sensor.start(self._callback(b))

    @staticmethod
    def _stop_sensor(b: _Bound) -> None:
        for step in (b.sensor.stop, b.sensor.close):
            try:
                step()
            except RuntimeError:
                pass  # already stopped / device gone

    def start(self) -> None:
        super().start()
        if not self._started:
            for b in self._bound:
                self._start_sensor(b)
            self._started = True
            if self._watch is not None:
                self._watch.arm()
        if self._supervise:
            self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        if self._started:
            for b in self._bound:
                self._stop_sensor(b)
            self._started = False
        super().stop()

    def close(self) -> None:
        self.stop()
        self._bound, self._dev = [], None

    # -- supervision --------------------------------------------------------------------
    def _run(self) -> None:
        while not self._loop.stopping.wait(0.2):
            self.supervise_once()

    def supervise_once(self) -> None:
        """Mark silent streams as faulted and restart their sensors when back-off allows."""
        if self._watch is None or not self._started:
            return
        stalled = set(self._watch.stalled())
        for b in self._bound:
            faulted = [n for n in b.profiles if self._faults.is_open(n)]
            for n in b.profiles:
                if n in stalled and n not in faulted:
                    silent = self._watch.silent_for(n)
                    last = self._last_ts.get(n, self._clock())
                    self._faults.begin(n, last, f"no frames for {silent:.1f} s; restarting")
                    faulted.append(n)
            if not faulted or not b.backoff.due():
                continue
            for n in faulted:
                self._faults.retried(n)
            self._stop_sensor(b)
            try:
                self._rebind(b)
                self._start_sensor(b)
            except (RuntimeError, SourceError) as exc:
                for n in faulted:
                    self._faults.begin(
                        n, self._last_ts.get(n, self._clock()), f"restart failed: {exc}"
                    )
            b.backoff.failed()  # the next frame calls succeeded()

    def _rebind(self, b: _Bound) -> None:
        """After an unplug the old handles are dead: find the device again by serial."""
        if self._dev is not None and self._dev.is_connected():
            return
        dev = self._find_device()
        name = b.sensor.get_info(_rs().camera_info.name)
        for sensor in dev.query_sensors():
            if sensor.get_info(_rs().camera_info.name) == name:
                on_depth = is_depth_sensor(sensor)
                b.profiles = {
                    n: choose_profile(sensor, n, self.modes.get(n), on_depth) for n in b.profiles
                }
                b.sensor = sensor
                self._dev = dev
                self._clockmap.reset()
                return
        raise SourceError(f"the camera came back without its '{name}' sensor")


def open_realsense(arg: str, **options: Any) -> RealSenseDriver:
    """Factory for ``realsense[:SERIAL]`` (registered in drivers.sources)."""
    return RealSenseDriver(arg, **options)
