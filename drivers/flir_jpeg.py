"""``flir-jpeg:DIR``: a folder (or one file) of FLIR radiometric JPEGs as a thermal stream.

Handheld FLIR cameras (E-, T-, SC-series) store each shot as a JPEG whose FLIR APP1
segments hold the raw sensor values and the camera's calibration (Planck constants,
emissivity, distance, reflected and atmospheric temperature). ``flyr`` decodes them to
temperatures with that per-image calibration; this driver rounds the result to the
nearest centikelvin, thermorig's thermal unit.

Images are taken in name order. Their time is EXIF DateTimeOriginal (+ SubSecTime-
Original and OffsetTimeOriginal when present; a time without offset is read as UTC so
the result does not depend on this machine's time zone); if some image lacks it, or
the times do not increase in name order, the folder is played at a nominal rate
instead and ``info.extra["timestamps"]`` says so. JPEGs without FLIR thermal data
(a camera's visible-light shots, exports) are skipped and counted.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from drivers.base import BaseDriver
from drivers.errors import EndOfStream, SourceError
from drivers.types import Frame, StreamSpec

JPEG_SUFFIXES = (".jpg", ".jpeg")
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL, _SUBSEC_ORIGINAL, _OFFSET_ORIGINAL = 36867, 37521, 36881


def kelvin_to_centikelvin(kelvin: np.ndarray) -> np.ndarray:
    """Float kelvin → uint16 centikelvin, rounded to nearest, clipped to uint16."""
    return np.clip(np.rint(np.asarray(kelvin, dtype=np.float64) * 100.0), 0, 65535).astype(
        np.uint16
    )


def is_radiometric(path: Path) -> bool:
    """Cheap check (< 1 ms): does the JPEG carry FLIR raw data and camera calibration?"""
    from flyr.records import RecordIndex, extract_flir_app1, parse_flir_records

    try:
        with open(path, "rb") as fh:
            records = parse_flir_records(extract_flir_app1(fh))
    except Exception:  # noqa: BLE001 - flyr raises many kinds on non-FLIR files
        return False
    return RecordIndex.RAW_DATA.value in records and RecordIndex.CAMERA_INFO.value in records


def exif_time(path: Path) -> float | None:
    """EXIF DateTimeOriginal as POSIX seconds, or None when absent or unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            exif = im.getexif().get_ifd(_EXIF_IFD)
    except Exception:  # noqa: BLE001 - unreadable EXIF means "no time"
        return None
    text = exif.get(_DATETIME_ORIGINAL)
    if not isinstance(text, str):
        return None
    try:
        when = datetime.strptime(text.strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    tz = timezone.utc
    offset = exif.get(_OFFSET_ORIGINAL)
    if isinstance(offset, str) and len(offset.strip()) == 6:
        sign = -1 if offset.strip()[0] == "-" else 1
        hh, mm = offset.strip()[1:].split(":")
        tz = timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))
    seconds = when.replace(tzinfo=tz).timestamp()
    sub = exif.get(_SUBSEC_ORIGINAL)
    if isinstance(sub, str) and sub.strip().isdigit():
        seconds += int(sub.strip()) / 10 ** len(sub.strip())
    return seconds


def list_jpegs(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(
            p for p in path.iterdir() if p.suffix.lower() in JPEG_SUFFIXES and p.is_file()
        )
    raise SourceError(f"FLIR JPEG folder or file not found: {path}")


class FlirJpegDriver(BaseDriver):
    """FLIR radiometric JPEGs → ``thermal`` (uint16 centikelvin), one frame per image.

    Options: ``fps`` — the nominal rate used when the images have no usable EXIF
    times (default 1 image per second).
    """

    def __init__(self, path: str, *, fps: float = 1.0):
        super().__init__(f"flir-jpeg:{path}")
        if fps <= 0:
            raise SourceError("flir-jpeg needs fps > 0")
        self.path = Path(path).expanduser()
        self.nominal_fps = fps
        self._files: list[Path] = []
        self._times: list[float] = []
        self._exif: list[float | None] = []
        self._pos = 0
        self._shape: tuple[int, int] | None = None
        self._unreadable: list[str] = []

    def open(self) -> None:
        import flyr

        if self._files:
            return  # already open
        jpegs = list_jpegs(self.path)
        if not jpegs:
            raise SourceError(f"no JPEG files in {self.path}")
        files = [p for p in jpegs if is_radiometric(p)]
        skipped = [p.name for p in jpegs if p not in set(files)]
        if not files:
            raise SourceError(
                f"none of the {len(jpegs)} JPEGs in {self.path} holds FLIR radiometric data "
                "(save images as radiometric JPEG on the camera)"
            )
        try:
            first = flyr.unpack(str(files[0]))
            shape = tuple(first.kelvin.shape)
        except Exception as exc:  # noqa: BLE001 - flyr's errors vary by defect
            raise SourceError(f"cannot decode {files[0]} ({exc}); is the file complete?") from None
        exif = [exif_time(p) for p in files]
        times, source, fps = self._timeline(exif)
        self._files, self._exif, self._times, self._shape = files, exif, times, shape
        cam = first.camera_metadata
        device = cam.model or cam.make or "FLIR camera"
        self._streams = {
            "thermal": StreamSpec(
                name="thermal",
                kind="thermal",
                shape=shape,
                dtype="uint16",
                units="centikelvin",
                fps=fps,
                device=device,
            )
        }
        self._info.devices = {"thermal": device}
        self._info.extra.update(
            files=len(files),
            skipped_non_radiometric=len(skipped),
            skipped_files=skipped[:50],
            timestamps=source,
            calibration=_plain(first.metadata),
        )

    def _timeline(self, exif: list[float | None]) -> tuple[list[float], str, float]:
        """EXIF times if every image has one and they increase; else the nominal rate."""
        n = len(exif)
        if all(t is not None for t in exif):
            ts = [float(t) for t in exif]  # type: ignore[arg-type]
            if all(b > a for a, b in zip(ts, ts[1:], strict=False)):
                fps = 1.0 / float(np.median(np.diff(ts))) if n > 1 else self.nominal_fps
                return ts, "exif DateTimeOriginal", fps
            start = ts[0]
            why = "EXIF times do not increase in name order"
        else:
            start = 0.0
            why = "some images have no EXIF DateTimeOriginal"
        period = 1.0 / self.nominal_fps
        return (
            [start + i * period for i in range(n)],
            f"name order at {self.nominal_fps:g} fps ({why})",
            self.nominal_fps,
        )

    def _next_frame(self, timeout: float | None) -> Frame | None:
        import flyr

        while self._pos < len(self._files):
            i = self._pos
            self._pos += 1
            path = self._files[i]
            try:
                kelvin = flyr.unpack(str(path)).kelvin
            except Exception:  # noqa: BLE001 - a damaged file is skipped and counted
                kelvin = None
            if kelvin is None or tuple(kelvin.shape) != self._shape:
                self._unreadable.append(path.name)
                self._info.extra["unreadable_files"] = list(self._unreadable)
                continue
            return Frame(
                stream="thermal",
                index=i,
                timestamp=self._times[i],
                array=kelvin_to_centikelvin(kelvin),
                device_timestamp=self._exif[i],
                meta={"file": path.name},
            )
        raise EndOfStream(str(self.path))


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    """flyr's metadata with numpy scalars made JSON-friendly."""
    out = {}
    for k, v in d.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        out[k] = f if math.isfinite(f) else None
    return out


def open_flir_jpeg(arg: str, **options: Any) -> FlirJpegDriver:
    """Factory for ``flir-jpeg:DIR`` (registered in drivers.sources)."""
    if not arg:
        raise SourceError("flir-jpeg needs a folder or file: flir-jpeg:DIR")
    return FlirJpegDriver(arg, **options)
