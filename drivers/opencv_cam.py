"""``opencv:INDEX``: a plain camera through OpenCV (V4L2 on Linux), and the capture loop
that the UVC thermal driver builds on.

The capture object comes from an injectable ``capture_factory`` so that tests (and
unusual setups: GStreamer pipelines, network streams) hand in their own; by default it
is ``cv2.VideoCapture(device, cv2.CAP_V4L2)`` on Linux and OpenCV's default backend
elsewhere. Frames are grabbed on a thread into a drop-oldest queue; a camera that stops
(unplugged, bus reset) is released and reopened with back-off while the rest of the rig
keeps recording, and the outage is reported per stream.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from drivers.errors import SourceError
from drivers.faults import Backoff, Clock, StallWatch
from drivers.live import HOST_CLOCK, WatchedLiveDriver
from drivers.types import Frame, StreamSpec

CaptureFactory = Callable[[int | str], Any]


def parse_device(arg: str) -> int | str:
    """``0`` → 0; ``/dev/video2`` stays a path (OpenCV opens both)."""
    arg = (arg or "0").strip()
    if re.fullmatch(r"\d+", arg):
        return int(arg)
    if arg.startswith("/dev/"):
        return arg
    raise SourceError(f"camera '{arg}' is neither an index (0, 1, ...) nor a /dev/videoN path")


def default_capture_factory(device: int | str) -> Any:
    import cv2

    api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
    return cv2.VideoCapture(device, api)


class OpenCVCamera(WatchedLiveDriver):
    """One stream from an OpenCV capture; subclasses change the pixel handling.

    Options: ``width``, ``height``, ``fps`` (requested from the device; what it gives
    is what the stream reports), ``capture_factory``, ``clock`` (host clock),
    ``threaded`` (False: no grab thread, call :meth:`grab_once` yourself — tests),
    ``max_failed_reads`` before the camera counts as lost, ``backoff``.
    """

    stream_name = "color"
    kind = "color"
    units = "rgb"
    scheme = "opencv"

    def __init__(
        self,
        device: str = "0",
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        capture_factory: CaptureFactory | None = None,
        clock: Clock = HOST_CLOCK,
        threaded: bool = True,
        queue_size: int = 4,
        max_failed_reads: int = 5,
        stall_timeout_s: float = 2.0,
        backoff: Backoff | None = None,
    ):
        super().__init__(
            f"{self.scheme}:{device}", queue_size=queue_size, clock=clock, threaded=threaded
        )
        self.device = parse_device(device)
        self.width, self.height, self.fps = width, height, fps
        self._factory = capture_factory or default_capture_factory
        self._max_failed = max_failed_reads
        self._stall_timeout = stall_timeout_s
        self._backoff = backoff or Backoff(clock=clock)
        self._cap: Any = None
        self._failures = 0

    # -- device handling (hooks for subclasses) ----------------------------------------
    def _configure(self, cap: Any) -> None:
        """Request size and rate; V4L2 applies them when streaming starts."""
        import cv2

        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, float(self.width))
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, float(self.height))
        if self.fps:
            cap.set(cv2.CAP_PROP_FPS, float(self.fps))

    def _convert(self, raw: np.ndarray) -> tuple[np.ndarray, dict[str, Any] | None]:
        """Device pixels → stream pixels (here: BGR → RGB), plus per-frame metadata."""
        import cv2

        if raw.ndim == 2:
            return cv2.cvtColor(raw, cv2.COLOR_GRAY2RGB), None
        if raw.ndim == 3 and raw.shape[2] == 4:
            return cv2.cvtColor(raw, cv2.COLOR_BGRA2RGB), None
        if raw.ndim == 3 and raw.shape[2] == 3:
            return cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), None
        raise SourceError(f"camera {self.device} delivered an image of shape {raw.shape}")

    def _describe(self, first: np.ndarray, cap: Any) -> StreamSpec:
        import cv2

        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or float(self.fps or self._default_fps())
        return StreamSpec(
            name=self.stream_name,
            kind=self.kind,
            shape=tuple(first.shape),
            dtype=str(first.dtype),
            units=self.units,
            fps=fps,
            device=self._device_name(),
        )

    def _default_fps(self) -> float:
        return 30.0

    def _device_name(self) -> str:
        return f"{self.scheme} camera {self.device}"

    def _connect(self) -> Any:
        cap = self._factory(self.device)
        if cap is None or not cap.isOpened():
            raise SourceError(
                f"cannot open camera {self.device}; check it is plugged in and not in use "
                "(thermorig devices lists what is connected)"
            )
        self._configure(cap)
        return cap

    # -- protocol -----------------------------------------------------------------------
    def open(self) -> None:
        if self._cap is not None:
            return  # already open
        cap = self._connect()
        ok, raw = cap.read()
        if not ok or raw is None:
            cap.release()
            raise SourceError(f"camera {self.device} opened but delivered no frame; replug it")
        first, _ = self._convert(raw)
        spec = self._describe(first, cap)
        self._cap = cap
        self._streams = {spec.name: spec}
        self._info.devices = {spec.name: spec.device}
        self._watch = StallWatch(
            {spec.name: spec.fps}, timeout_s=self._stall_timeout, clock=self._clock
        )

    def close(self) -> None:
        self.stop()
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    # -- grabbing -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._loop.stopping.is_set():
            if not self.grab_once():
                self._loop.stopping.wait(0.005 if self._cap is not None else 0.05)

    def grab_once(self) -> bool:
        """One step of the grab loop: reconnect if due, read, deliver. True if delivered."""
        stream = self.stream_name
        if self._cap is None:
            if not self._backoff.due():
                return False
            self._faults.retried(stream)
            try:
                self._cap = self._connect()
            except SourceError as exc:
                self._backoff.failed()
                self._faults.begin(stream, self._last_or_now(), str(exc))
                return False
            if self._watch is not None:
                self._watch.arm([stream])
        ok, raw = self._cap.read()
        arrival = self._clock()
        if ok and raw is not None:
            try:
                array, meta = self._convert(raw)
            except SourceError:
                ok = False  # a garbled frame counts as a failed read
        if not ok or raw is None:
            self._failures += 1
            stalled = self._watch is not None and stream in self._watch.stalled()
            if self._failures >= self._max_failed or stalled:
                self._lose(f"camera {self.device} stopped delivering frames; reconnecting")
            return False
        self._failures = 0
        self._backoff.succeeded()
        if self._watch is not None:
            self._watch.fed(stream)
        dev = self._device_time()
        t = self._monotonic_ts(stream, self._timestamp(arrival, dev))
        frame = Frame(stream, self._next_index(stream), t, array, dev, meta=meta)
        self._deliver(frame, None)
        return True

    def _device_time(self) -> float | None:
        """The V4L2 buffer timestamp (seconds), if the backend reports one."""
        import cv2

        try:
            ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        except Exception:  # noqa: BLE001 - a capture without the property
            return None
        return ms / 1000.0 if ms > 0 else None

    @staticmethod
    def _timestamp(arrival: float, dev: float | None) -> float:
        """Host time of the frame: V4L2's kernel buffer time when it is on our clock.

        uvcvideo stamps buffers with CLOCK_MONOTONIC when the frame completes, which
        is free of Python's scheduling delay; it is used when it lies within a second
        before arrival (i.e. it really is the host clock), else the arrival time.
        """
        if dev is not None and 0.0 <= arrival - dev < 1.0:
            return dev
        return arrival

    def _last_or_now(self) -> float:
        return self._last_ts.get(self.stream_name, self._clock())

    def _lose(self, message: str) -> None:
        self._faults.begin(self.stream_name, self._last_or_now(), message)
        if self._cap is not None:
            try:
                self._cap.release()
            finally:
                self._cap = None
        self._failures = 0
        self._backoff.failed()


def open_opencv(arg: str, **options: Any) -> OpenCVCamera:
    """Factory for ``opencv:INDEX`` (registered in drivers.sources)."""
    return OpenCVCamera(arg or "0", **options)
