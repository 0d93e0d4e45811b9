"""FLIR radiometric JPEGs, checked against a real camera file and its published values."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from drivers.errors import EndOfStream, SourceError
from drivers.flir_jpeg import FlirJpegDriver, kelvin_to_centikelvin
from drivers.sources import open_source
from drivers.types import centikelvin_to_celsius
from tests import real_data

REAL = real_data.FLIR_JPEG
EXIF_TIME = b"2013:05:09 20:22:23"  # DateTime, DateTimeOriginal and -Digitized in IR_2412.jpg


@pytest.fixture
def real_jpeg() -> Path:
    """The real FLIR file; missing, the test is skipped (failed under CI=true)."""
    return real_data.require(REAL)


needs_real = pytest.mark.usefixtures("real_jpeg")


def _copy_with_time(dst: Path, stamp: str) -> Path:
    """The real file with its EXIF times rewritten in place (same length, FLIR data kept)."""
    data = REAL.read_bytes()
    assert data.count(EXIF_TIME) >= 2
    dst.write_bytes(data.replace(EXIF_TIME, stamp.encode()))
    return dst


def _plain_jpeg(path: Path) -> Path:
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    return path


def test_kelvin_rounds_to_nearest_centikelvin():
    k = np.array([296.884408, 296.885, 296.8849, 0.0, 700.0])
    assert kelvin_to_centikelvin(k).tolist() == [29688, 29688, 29688, 0, 65535]  # 29688.5 → even


@needs_real
def test_real_file_matches_published_temperatures():
    d = open_source(f"flir-jpeg:{REAL}")
    spec = d.streams["thermal"]
    assert (spec.shape, spec.dtype, spec.units, spec.kind) == (
        (480, 640),
        "uint16",
        "centikelvin",
        "thermal",
    )
    assert d.info.devices["thermal"] == "FLIR SC660"
    f = d.read()
    c = centikelvin_to_celsius(f.array)
    assert abs(float(c[0, 0]) - 23.734) <= 0.01
    assert abs(float(c.min()) - 22.74) <= 0.05 and abs(float(c.max()) - 35.25) <= 0.05
    cal = d.info.extra["calibration"]
    assert cal["planck_r1"] == pytest.approx(21106.76953125) and cal["planck_b"] == 1501.0
    assert cal["emissivity"] == pytest.approx(0.95)
    # EXIF DateTimeOriginal 2013-05-09 20:22:23, read as UTC.
    assert f.timestamp == 1368130943.0 and d.info.extra["timestamps"] == "exif DateTimeOriginal"
    assert f.meta == {"file": "IR_2412.jpg"}
    with pytest.raises(EndOfStream):
        d.read()


@needs_real
def test_folder_in_name_order_with_exif_times_and_skips(tmp_path):
    _copy_with_time(tmp_path / "b.jpg", "2013:05:09 20:22:25")
    _copy_with_time(tmp_path / "a.jpg", "2013:05:09 20:22:23")
    _copy_with_time(tmp_path / "c.JPG", "2013:05:09 20:22:29")
    _plain_jpeg(tmp_path / "visible.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    d = FlirJpegDriver(str(tmp_path))
    d.open()
    frames = list(d.frames())
    assert [f.meta["file"] for f in frames] == ["a.jpg", "b.jpg", "c.JPG"]
    assert [f.timestamp - frames[0].timestamp for f in frames] == [0.0, 2.0, 6.0]
    assert d.info.extra["skipped_non_radiometric"] == 1 and d.info.extra["skipped_files"] == [
        "visible.jpg"
    ]
    assert d.streams["thermal"].fps == pytest.approx(1 / 3)  # median of 2 s and 4 s
    assert all(np.array_equal(f.array, frames[0].array) for f in frames)


@needs_real
def test_times_out_of_name_order_fall_back_to_nominal_rate(tmp_path):
    _copy_with_time(tmp_path / "1.jpg", "2013:05:09 20:22:30")
    _copy_with_time(tmp_path / "2.jpg", "2013:05:09 20:22:23")
    d = FlirJpegDriver(str(tmp_path), fps=2.0)
    d.open()
    ts = [f.timestamp for f in d.frames()]
    assert ts == [ts[0], ts[0] + 0.5]
    assert "do not increase" in d.info.extra["timestamps"]


@needs_real
def test_damaged_file_is_skipped_and_counted(tmp_path):
    shutil.copy(REAL, tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_bytes(REAL.read_bytes()[:200_000])  # truncated copy
    shutil.copy(REAL, tmp_path / "c.jpg")
    d = FlirJpegDriver(str(tmp_path))
    d.open()
    files = [f.meta["file"] for f in d.frames()]
    assert "a.jpg" in files and "c.jpg" in files and "b.jpg" not in files


def test_errors_are_one_line_and_say_what_to_do(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        open_source(f"flir-jpeg:{tmp_path / 'missing'}")
    with pytest.raises(SourceError, match="no JPEG files"):
        open_source(f"flir-jpeg:{tmp_path}")
    _plain_jpeg(tmp_path / "x.jpg")
    (tmp_path / "y.jpg").write_bytes(b"garbage")
    with pytest.raises(SourceError, match="none of the 2 JPEGs .* radiometric"):
        open_source(f"flir-jpeg:{tmp_path}")
    with pytest.raises(SourceError, match="needs a folder"):
        open_source("flir-jpeg:")
