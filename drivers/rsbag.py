"""``rsbag:PATH``: playback of RealSense recordings (``.db3`` ROS 2, older ``.bag``).

Playback runs with ``set_real_time(False)``: librealsense then reads the file only as
fast as the callbacks return, and our callbacks wait for room in a bounded queue, so
every recorded frame reaches the consumer, in file order, however slow it is (in real
time mode librealsense skips frames to keep pace). The end of the file is the player's
status turning to ``stopped`` after all callbacks have returned; then the queue drains
and :class:`EndOfStream` follows.

Timestamps: a recording has no host clock to map onto, so a frame's ``timestamp`` is
the recorded timestamp in seconds (``get_timestamp() / 1000``; with RealSense's global
time on, that is the recording host's clock). Recordings store timestamps at 1 ns
resolution (ROS time). Stream names, intrinsics, depth scale and the rig come from the
recorded device exactly as for a live camera (see drivers.realsense).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from drivers.errors import EndOfStream, SourceError
from drivers.live import FrameQueue, LiveDriver
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

SUFFIXES = (".db3", ".bag")


class RsBagDriver(LiveDriver):
    """Every frame of a RealSense recording, as thermorig streams.

    Options: ``streams`` (names to keep; default all that map to thermorig streams),
    ``queue_size``.
    """

    def __init__(self, path: str, *, streams: tuple[str, ...] | None = None, queue_size: int = 8):
        super().__init__(f"rsbag:{path}", queue_size)
        self.path = Path(path).expanduser()
        self.wanted = streams
        self._queue = FrameQueue(queue_size, drop_oldest=False)
        self._dev: Any = None
        self._playback: Any = None
        self._sensors: list[tuple[Any, dict[str, Any]]] = []
        self._started = False
        self._closing = threading.Event()
        self._ended = threading.Event()
        self._playing = threading.Event()

    def open(self) -> None:
        if self._dev is not None:
            return  # already open (open_source opens; a with-block opens again)
        if not self.path.is_file():
            raise SourceError(f"RealSense recording not found: {self.path}")
        if self.path.suffix.lower() not in SUFFIXES:
            raise SourceError(f"{self.path} is not a RealSense recording (.db3 or .bag)")
        rs = _rs()
        try:
            dev = rs.context().load_device(str(self.path))
        except RuntimeError as exc:
            raise SourceError(f"cannot read RealSense recording {self.path}: {exc}") from None
        playback = dev.as_playback()
        playback.set_real_time(False)
        playback.set_status_changed_callback(self._on_status)
        label = device_label(dev)
        chosen: dict[str, Any] = {}
        skipped: list[str] = []
        depth_scale = None
        for sensor in dev.query_sensors():
            on_depth = is_depth_sensor(sensor)
            mine: dict[str, Any] = {}
            for p in sensor.get_stream_profiles():
                name = stream_name_for(p, on_depth)
                described = f"{stream_type_name(p)}({p.stream_index()}) {fmt_name(p)}"
                if name is None or name in chosen or (self.wanted and name not in self.wanted):
                    skipped.append(described)
                    continue
                mine[name] = chosen[name] = p
            if mine:
                self._sensors.append((sensor, mine))
                if "depth" in mine:
                    depth_scale = depth_scale_of(sensor)
        if not chosen:
            raise SourceError(f"{self.path} holds no depth, colour, IR or Y16 video streams")
        self._dev, self._playback = dev, playback
        self._streams = {n: spec_for(n, p, depth_scale, label) for n, p in chosen.items()}
        self._info.devices = {n: label for n in self._streams}
        self._info.rig = rig_from_profiles(chosen, f"{label} calibration (recorded)")
        self._info.extra.update(
            recording=str(self.path),
            duration_s=playback.get_duration().total_seconds(),
            depth_scale=depth_scale,
            skipped_streams=skipped,
            distortion_models={n: intrinsics_of(p)[1] for n, p in chosen.items()},
        )

    def _on_status(self, status: Any) -> None:
        name = str(status).rsplit(".", 1)[-1]
        if name == "playing":
            self._playing.set()
        elif name == "stopped" and self._playing.is_set():
            self._ended.set()

    def _callback(self, names: dict[tuple[str, int], str]):  # noqa: ANN202
        def on_frame(f: Any) -> None:
            try:
                profile = f.get_profile()
                name = names.get((stream_type_name(profile), profile.stream_index()))
                if name is None:
                    return
                array = frame_to_array(f.as_video_frame(), fmt_name(profile))
                ts = f.get_timestamp() / 1000.0
                frame = Frame(name, self._next_index(name), ts, array, ts)
                item = (frame, int(f.get_frame_number()))
            except Exception as exc:  # noqa: BLE001 - never let an exception into librealsense
                self._info.extra["last_callback_error"] = repr(exc)
                return
            # Holding the callback is what paces a non-real-time playback.
            while not self._closing.is_set():
                if self._queue.put(item, timeout=0.1):
                    return

        return on_frame

    def start(self) -> None:
        super().start()
        if not self._started:
            # Playback starts with the first sensor; paused, no sensor started after it
            # misses its first frames (seen under load: 3 colour frames lost).
            self._playback.pause()
            for sensor, profiles in self._sensors:
                names = {(stream_type_name(p), p.stream_index()): n for n, p in profiles.items()}
                sensor.open(list(profiles.values()))
                sensor.start(self._callback(names))
            self._started = True
            self._playback.resume()
        elif self._playback is not None:
            self._playback.resume()

    def stop(self) -> None:
        """Pause; ``start`` resumes where playback stood."""
        if self._started and self._playback is not None and not self._ended.is_set():
            self._playback.pause()
        super().stop()

    def close(self) -> None:
        self._closing.set()
        if self._started:
            for sensor, _ in self._sensors:
                for step in (sensor.stop, sensor.close):
                    try:
                        step()
                    except RuntimeError:
                        pass
            self._started = False
        self._sensors, self._dev, self._playback = [], None, None
        self._queue.clear()
        super().close()

    def _next_item(self, timeout: float | None) -> tuple[Frame, int | None] | None:
        waited = 0.0
        while True:
            step = 0.05 if timeout is None else max(0.0, min(0.05, timeout - waited))
            item = self._queue.get(step)
            if item is not None:
                return item
            if self._ended.is_set() and len(self._queue) == 0:
                raise EndOfStream(str(self.path))
            waited += step
            if timeout is not None and waited >= timeout:
                return None


def open_rsbag(arg: str, **options: Any) -> RsBagDriver:
    """Factory for ``rsbag:PATH`` (registered in drivers.sources)."""
    if not arg:
        raise SourceError("rsbag needs a path: rsbag:PATH.db3 (or an older .bag)")
    # Playback always reads every frame (never real time); ``realtime`` is accepted so
    # that ``thermorig record --fast`` works on recordings like on any other file.
    options.pop("realtime", None)
    driver = RsBagDriver(arg, **options)
    driver.realtime = False  # the recorder then waits for the disk instead of dropping
    return driver
