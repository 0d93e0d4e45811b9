"""``uvc:DEVICE``: radiometric thermal cameras that stream Y16 over USB Video Class.

Through OpenCV's V4L2 backend the pixel format must be requested as ``Y16 `` *before*
turning RGB conversion off: setting the FOURCC re-initialises the capture and switches
conversion back on, after which OpenCV hands out 8-bit images with the temperature
information gone. The first frame is checked, so a platform that cannot deliver Y16
is reported at open instead of recording garbage.

Which camera it is follows from the frame size, through a small registry of
:class:`DeviceProfile` (size → telemetry rows and pixel conversion):

- FLIR Lepton 3.x on a PureThermal board: 160×120, or 160×122 with telemetry (footer);
  Lepton 2.x: 80×60 / 80×63. Radiometric Leptons with TLinear on (PureThermal's
  default) send centikelvin, passed through as is. Telemetry row A is decoded (below).
- FLIR Boson 640 / 320: 640×512 / 320×256, TLinear high resolution (0.01 K per count)
  as is; ``boson-lowres`` for TLinear's 0.1 K mode. A non-radiometric Boson sends
  counts, which no conversion can turn into temperatures.

Lepton telemetry row A (Lepton engineering datasheet 500-0659-00-09, "Telemetry Row A"
and Table 3; 16-bit words, 32-bit values least significant word first): word 0
revision; 1–2 time since boot in ms; 3–4 status bits — bit 3 FFC desired, bits 4–5 FFC
state (0 never commanded, 1 imminent, 2 in progress, 3 done), bit 12 AGC on, bit 15
shutter lockout, bit 20 over-temperature shutdown imminent; 20–21 frame counter; 22
frame mean; 24 FPA temperature (centikelvin); 30–31 time of the last FFC in ms. Only
the Lepton 2.x has a housing temperature (word 26, centikelvin); on the Lepton 3.x
words 25–28 are reserved (the PureThermal firmware's ``telemetry_data_l2`` and
``_l3`` in Inc/lepton.h), so it is not reported there. With a 160-wide image, rows A
and B share the first telemetry line (row A = its first 80 words). PureThermal hands
the words over in host order. A frame
whose FFC state is "in progress" is flagged (``meta["ffc"]``): the shutter is closed
and the image is frozen. The Lepton exports ~9 new images/s but the board sends 27/s,
so two of three frames repeat the one before; the health monitor counts them as
duplicates and ``drop_duplicates=True`` keeps them from the consumer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivers.errors import SourceError
from drivers.opencv_cam import OpenCVCamera
from drivers.types import Frame, StreamSpec

#: FFC states of Lepton telemetry status bits 4–5.
FFC_STATES = ("never", "imminent", "in_progress", "done")


def _as_is(raw: np.ndarray) -> np.ndarray:
    return raw


def _times_ten(raw: np.ndarray) -> np.ndarray:
    return np.clip(raw.astype(np.uint32) * 10, 0, 65535).astype(np.uint16)


def parse_lepton_row_a(words: np.ndarray, housing: bool = False) -> dict[str, Any]:
    """Decode Lepton telemetry row A (80 uint16 words) into plain values; ``housing``
    adds the housing temperature, which only a Lepton 2.x sends (reserved on 3.x)."""
    w = words.astype(np.uint32)

    def dword(i: int) -> int:
        return int(w[i] | (w[i + 1] << 16))

    status = dword(3)
    ffc_state = FFC_STATES[(status >> 4) & 0x3]
    ms = dword(1)
    out = {
        "telemetry_revision": int(w[0]),
        "uptime_ms": ms,
        "ffc_desired": bool(status & (1 << 3)),
        "ffc_state": ffc_state,
        "ffc": ffc_state == "in_progress",
        "agc": bool(status & (1 << 12)),
        "shutter_lockout": bool(status & (1 << 15)),
        "overtemp_imminent": bool(status & (1 << 20)),
        "frame_counter": dword(20),
        "frame_mean": int(w[22]),
        "fpa_temp_ck": int(w[24]),
        "ms_since_ffc": ms - dword(30),
    }
    if housing:
        out["housing_temp_ck"] = int(w[26])
    return out


@dataclass(frozen=True)
class DeviceProfile:
    """How to read one kind of Y16 thermal camera.

    ``telemetry_rows`` are stripped from the frame (``telemetry_at``: ``"footer"`` or
    ``"header"``); ``parse_telemetry`` turns them into per-frame metadata; ``convert``
    maps the remaining pixels to centikelvin.
    """

    name: str
    width: int
    height: int
    telemetry_rows: int = 0
    telemetry_at: str = "footer"
    convert: Callable[[np.ndarray], np.ndarray] = _as_is
    parse_telemetry: Callable[[np.ndarray], dict[str, Any]] | None = None
    fps: float = 9.0
    note: str = ""

    @property
    def frame_shape(self) -> tuple[int, int]:
        """Shape of what the device sends, telemetry included."""
        return (self.height + self.telemetry_rows, self.width)

    def split(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.telemetry_rows:
            return raw, None
        if self.telemetry_at == "header":
            return raw[self.telemetry_rows :], raw[: self.telemetry_rows]
        return raw[: self.height], raw[self.height :]


def _lepton3_telemetry(rows: np.ndarray) -> dict[str, Any]:
    return parse_lepton_row_a(rows.reshape(-1)[:80])


def _lepton2_telemetry(rows: np.ndarray) -> dict[str, Any]:
    return parse_lepton_row_a(rows.reshape(-1)[:80], housing=True)


_LEPTON_NOTE = "radiometric Lepton with TLinear on: centikelvin as sent"
_BOSON_NOTE = "Boson TLinear high resolution (0.01 K/count): centikelvin as sent"

#: Profiles by name; :func:`profile_for_shape` picks one by frame size.
PROFILES: dict[str, DeviceProfile] = {
    p.name: p
    for p in (
        DeviceProfile("lepton3", 160, 120, fps=27.0, note=_LEPTON_NOTE),
        DeviceProfile(
            "lepton3-telemetry",
            160,
            120,
            2,
            parse_telemetry=_lepton3_telemetry,
            fps=27.0,
            note=_LEPTON_NOTE,
        ),
        DeviceProfile("lepton2", 80, 60, fps=27.0, note=_LEPTON_NOTE),
        DeviceProfile(
            "lepton2-telemetry",
            80,
            60,
            3,
            parse_telemetry=_lepton2_telemetry,
            fps=27.0,
            note=_LEPTON_NOTE,
        ),
        DeviceProfile("boson640", 640, 512, fps=60.0, note=_BOSON_NOTE),
        DeviceProfile("boson320", 320, 256, fps=60.0, note=_BOSON_NOTE),
        DeviceProfile(
            "boson640-lowres",
            640,
            512,
            convert=_times_ten,
            fps=60.0,
            note="Boson TLinear low resolution (0.1 K/count): ×10 to centikelvin",
        ),
    )
}


def register_profile(profile: DeviceProfile, by_shape: bool = True) -> None:
    """Add a camera; with ``by_shape`` it becomes the default for its frame size."""
    PROFILES[profile.name] = profile
    if by_shape:
        _BY_SHAPE[profile.frame_shape] = profile.name


_BY_SHAPE: dict[tuple[int, int], str] = {}
for _name in (
    "lepton3",
    "lepton3-telemetry",
    "lepton2",
    "lepton2-telemetry",
    "boson640",
    "boson320",
):
    _BY_SHAPE[PROFILES[_name].frame_shape] = _name


def profile_for_shape(shape: tuple[int, ...]) -> DeviceProfile:
    name = _BY_SHAPE.get((int(shape[0]), int(shape[1])))
    if name is None:
        known = ", ".join(f"{w}×{h}" for h, w in sorted(_BY_SHAPE))
        raise SourceError(
            f"unknown thermal camera: frames are {shape[1]}×{shape[0]} (known sizes: {known}); "
            "pass profile=NAME or register a DeviceProfile"
        )
    return PROFILES[name]


class UVCThermalCamera(OpenCVCamera):
    """A Y16 thermal camera; one ``thermal`` stream in centikelvin.

    Extra options: ``profile`` (a name in :data:`PROFILES`; default by frame size),
    ``drop_duplicates`` (hold back repeated frames), ``drop_ffc`` (hold back frames
    taken while the shutter is closed).
    """

    stream_name = "thermal"
    kind = "thermal"
    units = "centikelvin"
    scheme = "uvc"

    def __init__(
        self,
        device: str = "0",
        *,
        profile: str | None = None,
        drop_duplicates: bool = False,
        drop_ffc: bool = False,
        **options: Any,
    ):
        super().__init__(device, **options)
        if profile is not None and profile not in PROFILES:
            raise SourceError(f"unknown thermal profile '{profile}'; known: {', '.join(PROFILES)}")
        self._profile: DeviceProfile | None = PROFILES[profile] if profile else None
        self.drop_duplicates = drop_duplicates
        self.drop_ffc = drop_ffc
        self.ffc_frames = 0

    @property
    def profile(self) -> DeviceProfile | None:
        return self._profile

    def _configure(self, cap: Any) -> None:
        import cv2

        # Order matters: FOURCC first (it resets conversion), then size/rate, then
        # CONVERT_RGB off, so the capture hands out the camera's 16-bit words.
        cap.set(cv2.CAP_PROP_FOURCC, float(cv2.VideoWriter_fourcc(*"Y16 ")))
        super()._configure(cap)
        cap.set(cv2.CAP_PROP_CONVERT_RGB, 0.0)

    def _words(self, raw: np.ndarray) -> np.ndarray:
        """The frame as (H, W) uint16, whichever way this OpenCV build returns Y16."""
        if raw.dtype == np.uint16 and raw.ndim == 2:
            return raw
        if raw.dtype == np.uint8 and (raw.ndim == 2 and raw.shape[0] == 1 or raw.ndim == 1):
            # Older OpenCV: the raw buffer as one row of bytes.
            words = raw.reshape(-1).view("<u2")
            shape = self._profile.frame_shape if self._profile else self._guess_shape(words.size)
            if shape[0] * shape[1] == words.size:
                return words.reshape(shape)
        raise SourceError(
            f"camera {self.device} sent {raw.dtype} frames of shape {raw.shape}, not Y16; "
            "this OpenCV/V4L2 build cannot deliver radiometric data from it"
        )

    @staticmethod
    def _guess_shape(n: int) -> tuple[int, int]:
        for h, w in _BY_SHAPE:
            if h * w == n:
                return (h, w)
        raise SourceError(f"a Y16 buffer of {n} pixels matches no known thermal camera")

    def _convert(self, raw: np.ndarray) -> tuple[np.ndarray, dict[str, Any] | None]:
        words = self._words(raw)
        if self._profile is None:
            self._profile = profile_for_shape(words.shape)
        p = self._profile
        if words.shape != p.frame_shape:
            raise SourceError(
                f"camera {self.device} sent {words.shape[1]}×{words.shape[0]} frames; "
                f"profile {p.name} expects {p.frame_shape[1]}×{p.frame_shape[0]}"
            )
        image, telemetry = p.split(words)
        meta = None
        if telemetry is not None and p.parse_telemetry is not None:
            meta = p.parse_telemetry(telemetry)
        return np.ascontiguousarray(p.convert(image)), meta

    def _describe(self, first: np.ndarray, cap: Any) -> StreamSpec:
        spec = super()._describe(first, cap)
        assert self._profile is not None
        self._info.extra["thermal_profile"] = self._profile.name
        self._info.extra["thermal_conversion"] = self._profile.note
        return spec

    def _default_fps(self) -> float:
        return self._profile.fps if self._profile else 9.0

    def _device_name(self) -> str:
        name = self._profile.name if self._profile else "thermal"
        return f"UVC {name} ({self.device})"

    def _accept(self, frame: Frame, duplicate: bool) -> bool:
        if frame.meta and frame.meta.get("ffc"):
            self.ffc_frames += 1
            self._info.extra["ffc_frames"] = self.ffc_frames
            if self.drop_ffc:
                return False
        return not (duplicate and self.drop_duplicates)


def open_uvc(arg: str, **options: Any) -> UVCThermalCamera:
    """Factory for ``uvc:DEVICE`` (registered in drivers.sources)."""
    return UVCThermalCamera(arg or "0", **options)
