"""``gige:ADDRESS[?options]``: GigE Vision thermal cameras (FLIR A-series, InfraTec,
Optris, Workswell, ...) through Aravis.

One ``thermal`` stream from the camera's Mono16 (or Mono8) images, at the camera's own
frame rate. Options after ``?`` (``&``-separated ``name=value``) are either thermorig's
own — ``pixel_format`` (Mono16, the default, or Mono8), ``fps`` (sets the camera's
``AcquisitionFrameRate``), ``packet_size`` (bytes; default: Aravis negotiates it),
``kelvin_per_count`` and ``kelvin_offset`` (a linear counts→kelvin calibration) — or
GenICam features set on the camera by name, in the order given, e.g.
``gige:192.168.1.20?IRFormat=TemperatureLinear10mK&fps=30``. What the pixels mean
follows from ``IRFormat`` or the calibration (drivers.gige_units); without either the
stream's units are ``counts``.

Frames are taken from Aravis's stream on a grab thread with packet resend on, copied
out of the camera's buffer (which goes straight back to Aravis) and handed over through
the live drivers' drop-oldest queue. A camera that stops sending (cable pulled, camera
rebooted) is reported as an outage of the stream after the stall allowance; the
camera is then reopened by address with back-off while the rest of the rig records, and
the first frame after it closes the gap. Device timestamps (ns) are mapped onto the host
clock; the frame ids count drops.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from drivers.errors import SourceError
from drivers.faults import Backoff, Clock, StallWatch
from drivers.gige_aravis import feature_text, gerror_text, load_aravis, open_camera, parse_address
from drivers.gige_aravis import set_features as set_camera_features
from drivers.gige_units import Conversion, conversion_for
from drivers.live import HOST_CLOCK, ClockMap, WatchedLiveDriver
from drivers.types import Frame, StreamSpec

PIXEL_FORMATS = {"Mono16": np.uint16, "Mono8": np.uint8}
_OWN_OPTIONS = ("pixel_format", "fps", "packet_size", "kelvin_per_count", "kelvin_offset")
_BUFFERS = 8
_POP_TIMEOUT_US = 200_000


def parse_gige_arg(arg: str) -> tuple[str, dict[str, str]]:
    """``ADDRESS?a=1&b=2`` → (address, {"a": "1", "b": "2"}), in the order given."""
    address, _, query = arg.partition("?")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise SourceError(
            f"gige:{arg}: options go after '?' as name=value joined by '&', "
            "e.g. gige:192.168.1.20?IRFormat=TemperatureLinear10mK&fps=30"
        ) from None
    return parse_address(address), dict(pairs)


def _number(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SourceError(f"gige option {name} must be a number, got '{value}'") from None


class GigEThermalCamera(WatchedLiveDriver):
    """A GigE Vision camera at a fixed address: one ``thermal`` stream.

    Keyword options (as in the spec's query, plus for tests and programs): ``clock``,
    ``backoff``, ``stall_timeout_s`` (silence before the camera counts as lost),
    ``first_frame_timeout_s``, ``features`` (GenICam name → value).
    """

    stream_name = "thermal"

    def __init__(
        self,
        address: str,
        *,
        pixel_format: str = "Mono16",
        fps: float | str | None = None,
        packet_size: int | str | None = None,
        kelvin_per_count: float | str | None = None,
        kelvin_offset: float | str | None = None,
        features: dict[str, str] | None = None,
        clock: Clock = HOST_CLOCK,
        backoff: Backoff | None = None,
        stall_timeout_s: float = 2.0,
        first_frame_timeout_s: float = 3.0,
        queue_size: int = 8,
    ):
        super().__init__(f"gige:{address}", queue_size=queue_size, clock=clock)
        self.address = parse_address(address)
        if pixel_format not in PIXEL_FORMATS:
            raise SourceError(
                f"gige pixel_format must be {' or '.join(PIXEL_FORMATS)}, got '{pixel_format}'"
            )
        self.pixel_format = pixel_format
        self.fps = None if fps is None else _number("fps", fps)
        if self.fps is not None and not 0 < self.fps <= 10_000:
            raise SourceError(f"gige fps must be a positive frame rate, got {fps}")
        self.packet_size = None if packet_size is None else int(_number("packet_size", packet_size))
        self._calibration = (
            None if kelvin_per_count is None else _number("kelvin_per_count", kelvin_per_count),
            None if kelvin_offset is None else _number("kelvin_offset", kelvin_offset),
        )
        self.features = dict(features or {})
        self._backoff = backoff or Backoff(clock=clock)
        self._stall_timeout = stall_timeout_s
        self._first_timeout = first_frame_timeout_s
        self._camera: Any = None
        self._stream: Any = None
        self._conversion: Conversion | None = None
        self._clockmap = ClockMap()
        self._shape: tuple[int, int] | None = None

    # -- connection -----------------------------------------------------------------
    def _connect(self) -> tuple[Any, Any]:
        """Open the camera, apply the settings, start it: (camera, stream)."""
        camera = open_camera(self.address)
        try:
            return camera, self._start(camera)
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - GLib.GError from any Aravis call
            raise SourceError(
                f"the camera at {self.address} failed while starting: {gerror_text(exc)}"
            ) from None

    def _start(self, camera: Any) -> Any:
        """Settings, then a stream with packet resend and its buffers, then acquisition."""
        aravis, _ = load_aravis()
        try:
            camera.set_pixel_format_from_string(self.pixel_format)
        except Exception as exc:  # noqa: BLE001 - GLib.GError
            offered = ", ".join(camera.dup_available_pixel_formats_as_strings() or [])
            raise SourceError(
                f"the camera at {self.address} cannot send {self.pixel_format} "
                f"({gerror_text(exc)}); it offers {offered or 'nothing known'}"
            ) from None
        set_camera_features(camera, self.features)
        if self.fps is not None:
            set_camera_features(camera, {"AcquisitionFrameRate": f"{self.fps:g}"})
        if self.packet_size is not None:
            camera.gv_set_packet_size(self.packet_size)
        stream = camera.create_stream(None, None)
        if stream is None:
            raise SourceError(f"cannot open a stream from the camera at {self.address}")
        # Packets lost on a busy network are asked for again rather than the frame lost.
        stream.set_property("packet-resend", aravis.GvStreamPacketResend.ALWAYS)
        payload = camera.get_payload()
        for _ in range(_BUFFERS):
            stream.push_buffer(aravis.Buffer.new_allocate(payload))
        camera.set_acquisition_mode(aravis.AcquisitionMode.CONTINUOUS)
        camera.start_acquisition()
        return stream

    def _disconnect(self, polite: bool) -> None:
        """Drop the camera; ``polite`` stops acquisition first (it is still there)."""
        camera, self._camera, self._stream = self._camera, None, None
        if camera is not None and polite:
            try:
                camera.stop_acquisition()
            except Exception:  # noqa: BLE001 - GLib.GError: the camera went meanwhile
                pass

    def _pop(self, timeout_us: int) -> tuple[np.ndarray, float | None, int] | None:
        """The next complete frame from Aravis: (pixels copied out, device s, frame id)."""
        aravis, _ = load_aravis()
        buffer = self._stream.timeout_pop_buffer(timeout_us)
        if buffer is None:
            return None
        try:
            if buffer.get_status() != aravis.BufferStatus.SUCCESS:
                incomplete = self._info.extra.get("incomplete_frames", 0) + 1
                self._info.extra["incomplete_frames"] = incomplete
                return None
            h, w = buffer.get_image_height(), buffer.get_image_width()
            dtype = PIXEL_FORMATS[self.pixel_format]
            data = np.frombuffer(buffer.get_data(), dtype=dtype, count=h * w)
            pixels = data.reshape(h, w).copy()
            device_ns = buffer.get_timestamp()
            frame_id = buffer.get_frame_id()
        finally:
            self._stream.push_buffer(buffer)
        return pixels, (device_ns / 1e9 if device_ns else None), int(frame_id)

    # -- protocol -------------------------------------------------------------------
    def open(self) -> None:
        if self._camera is not None:
            return  # already open
        self._camera, self._stream = self._connect()
        try:
            first = self._pop(int(self._first_timeout * 1e6))
            if first is None:
                raise SourceError(
                    f"the camera at {self.address} answered but sent no image within "
                    f"{self._first_timeout:g} s; check that the firewall lets its UDP stream "
                    "through and that the packet size fits the network's MTU (docs/gige.md)"
                )
            ir_format = feature_text(self._camera, "IRFormat")
            self._conversion = conversion_for(ir_format, self.pixel_format, *self._calibration)
            self._describe(first[0], ir_format)
        except BaseException:
            self._disconnect(polite=True)
            raise

    def _describe(self, first: np.ndarray, ir_format: str | None) -> None:
        assert self._conversion is not None
        camera = self._camera
        fps = 0.0
        try:
            if camera.is_frame_rate_available():
                fps = float(camera.get_frame_rate())
        except Exception:  # noqa: BLE001 - GLib.GError: a camera without the feature
            fps = 0.0
        fps = fps or self.fps or 30.0
        name = f"{camera.get_vendor_name() or ''} {camera.get_model_name() or ''}".strip()
        device = f"{name or 'GigE Vision camera'} ({self.address})"
        converted = self._conversion.convert(first)
        self._shape = (int(first.shape[0]), int(first.shape[1]))
        spec = StreamSpec(
            name=self.stream_name,
            kind="thermal",
            shape=tuple(converted.shape),
            dtype=str(converted.dtype),
            units=self._conversion.units,
            fps=fps,
            device=device,
        )
        self._streams = {spec.name: spec}
        self._info.devices = {spec.name: device}
        self._info.extra.update(
            gige_address=self.address,
            pixel_format=self.pixel_format,
            ir_format=ir_format,
            thermal_conversion=self._conversion.note,
            gige_features=dict(self.features),
            packet_resend=True,
        )
        self._watch = StallWatch({spec.name: fps}, timeout_s=self._stall_timeout, clock=self._clock)

    def close(self) -> None:
        self.stop()
        self._disconnect(polite=True)

    # -- grabbing -------------------------------------------------------------------
    def _run(self) -> None:
        while not self._loop.stopping.is_set():
            try:
                delivered = self.grab_once()
            except Exception as exc:  # noqa: BLE001 - an SDK error must not end the loop
                self._info.extra["last_grab_error"] = repr(exc)
                self._lose(f"the camera at {self.address} failed: {gerror_text(exc)}")
                delivered = False
            if not delivered:
                self._loop.stopping.wait(0.005 if self._camera is not None else 0.05)

    def grab_once(self) -> bool:
        """One step of the grab loop: reconnect if due, take a frame, deliver it."""
        stream = self.stream_name
        if self._camera is None and not self._reconnect():
            return False
        item = self._pop(_POP_TIMEOUT_US)
        if item is None:
            if self._watch is not None and stream in self._watch.stalled():
                silent = self._watch.silent_for(stream)
                self._lose(f"the camera at {self.address} sent nothing for {silent:.1f} s")
            return False
        pixels, device_s, frame_id = item
        arrival = self._clock()
        if pixels.shape != self._shape:
            self._lose(
                f"the camera at {self.address} changed its image size to "
                f"{pixels.shape[1]}×{pixels.shape[0]}; thermorig needs it kept while recording"
            )
            return False
        assert self._conversion is not None
        array = self._conversion.convert(pixels)
        self._backoff.succeeded()
        if self._watch is not None:
            self._watch.fed(stream)
        t = arrival if device_s is None else self._clockmap.map("gige", device_s, arrival)
        t = self._monotonic_ts(stream, t)
        frame = Frame(stream, self._next_index(stream), t, array, device_s, meta=None)
        self._deliver(frame, frame_id)
        return True

    def _reconnect(self) -> bool:
        """Reopen the camera by address if the back-off allows; True once streaming."""
        stream = self.stream_name
        if not self._backoff.due():
            return False
        self._faults.retried(stream)
        try:
            self._camera, self._stream = self._connect()
        except SourceError as exc:
            # The outage keeps its cause as message; the latest attempt's failure is
            # kept apart (the camera still absent says nothing new).
            self._info.extra["last_reconnect_error"] = str(exc)
            self._backoff.failed()
            if not self._faults.is_open(stream):
                self._faults.begin(stream, self._last_or_now(), f"reconnecting: {exc}")
            return False
        self._clockmap.reset()  # a rebooted camera restarts its clock
        if self._watch is not None:
            self._watch.arm([stream])
        return True

    def _last_or_now(self) -> float:
        return self._last_ts.get(self.stream_name, self._clock())

    def _lose(self, message: str) -> None:
        """The camera is gone: record the outage, drop it, and retry with back-off."""
        self._faults.begin(self.stream_name, self._last_or_now(), f"{message}; reconnecting")
        self._disconnect(polite=False)  # a dead camera would take seconds to refuse
        self._backoff.failed()


def open_gige(arg: str, **options: Any) -> GigEThermalCamera:
    """Factory for ``gige:ADDRESS[?options]`` (registered in drivers.sources)."""
    address, query = parse_gige_arg(arg)
    features = dict(options.pop("features", None) or {})
    for name, value in query.items():
        if name in _OWN_OPTIONS:
            options.setdefault(name, value)
        else:
            features[name] = value
    return GigEThermalCamera(address, features=features, **options)
