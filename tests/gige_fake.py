"""A fake GigE Vision thermal camera on 127.0.0.1, for the GigE driver's tests.

Run as a process (``python tests/gige_fake.py``) so that a test can kill it mid-stream,
the way a cable is pulled: Aravis's protocol-level fake camera (``GvFakeCamera``) speaks
real GVCP/GVSP on the loopback interface, described by our own GenICam file
(tests/data/gige/thermal_camera.xml). Its built-in image is a ramp; a thermal-like
scene (a 20 °C room, a 34 °C body moving across it, sensor noise) is drawn by a fill
callback registered through ctypes, because a callback registered through PyGObject is
freed by the binding while the camera still calls it (a segfault). The scene follows
the ``IRFormat`` register the driver sets: centikelvin for TemperatureLinear10mK,
decikelvin for TemperatureLinear100mK, and for Radiometric raw counts
``RADIOMETRIC_GAIN * (centikelvin - RADIOMETRIC_ZERO_CK) / 100`` (an invented linear
sensor, so a test can give the driver the inverse calibration). Mono8 frames carry
``(centikelvin - 29315) / 10`` clipped to 0..255 (one grey level per 0.1 K above 20 °C).

Nothing here broadcasts: the fake answers on 127.0.0.1 only and is opened by address.
"""

from __future__ import annotations

import argparse
import ctypes
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

XML = Path(__file__).parent / "data" / "gige" / "thermal_camera.xml"
#: Fake register addresses (Aravis's fake camera memory map, and our IRFormat).
WIDTH_REG, HEIGHT_REG, FRAME_PERIOD_REG, IR_FORMAT_REG = 0x100, 0x104, 0x138, 0x1F0
IR_FORMATS = {"Radiometric": 0, "TemperatureLinear100mK": 1, "TemperatureLinear10mK": 2}
ROOM_CK, BODY_CK = 29315, 30715  # 20 °C, 34 °C
RADIOMETRIC_GAIN, RADIOMETRIC_ZERO_CK = 4, 23315  # counts per kelvin, the 0-count level
MONO16, MONO8 = 0x01100007, 0x01080001

_FILL = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32
)


def scene_ck(height: int, width: int, frame: int, rng: np.random.Generator) -> np.ndarray:
    """The true temperatures (centikelvin) of frame ``frame``: a room with a vertical
    gradient, an elliptical body crossing it once every 100 frames, and noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    room = ROOM_CK + 50.0 * y / max(1, height - 1)
    cx = (frame % 100) / 100.0 * width
    body = ((x - cx) / (0.12 * width)) ** 2 + ((y - height / 2) / (0.35 * height)) ** 2 <= 1.0
    ck = np.where(body, float(BODY_CK), room) + rng.normal(0.0, 4.0, (height, width))
    return np.clip(ck, 0, 65535)


def encode(ck: np.ndarray, ir_format: int, pixel_format: int) -> np.ndarray:
    """What the camera sends for true temperatures ``ck`` in the given formats."""
    if pixel_format == MONO8:
        return np.clip((ck - ROOM_CK) / 10.0, 0, 255).astype(np.uint8)
    if ir_format == IR_FORMATS["TemperatureLinear10mK"]:
        out = ck
    elif ir_format == IR_FORMATS["TemperatureLinear100mK"]:
        out = ck / 10.0
    else:
        out = RADIOMETRIC_GAIN * (ck - RADIOMETRIC_ZERO_CK) / 100.0
    return np.clip(np.rint(out), 0, 65535).astype(np.uint16)


class ThermalFake:
    """The running fake: Aravis's GvFakeCamera with our XML and our fill callback."""

    def __init__(self, serial: str, width: int, height: int, fps: float) -> None:
        import gi

        gi.require_version("Aravis", "0.8")
        from gi.repository import Aravis

        self._lib = ctypes.CDLL("libaravis-0.8.so.0")
        self._lib.arv_buffer_get_data.restype = ctypes.c_void_p
        self._lib.arv_buffer_get_data.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
        self._lib.arv_fake_camera_set_fill_pattern.argtypes = [
            ctypes.c_void_p,
            _FILL,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.gv = Aravis.GvFakeCamera.new_full("127.0.0.1", serial, str(XML))
        if not self.gv.is_running():
            raise SystemExit("the fake camera could not listen on 127.0.0.1 (port 3956 busy?)")
        self.camera = self.gv.get_fake_camera()
        self.camera.write_register(WIDTH_REG, width)
        self.camera.write_register(HEIGHT_REG, height)
        self.camera.write_register(FRAME_PERIOD_REG, int(round(1e6 / fps)))
        self.camera.write_register(IR_FORMAT_REG, IR_FORMATS["TemperatureLinear10mK"])
        self._rng = np.random.default_rng(0)
        self._frame = 0
        self._fill = _FILL(self._draw)  # kept referenced: the camera calls it until exit
        pointer = ctypes.pythonapi.PyCapsule_GetPointer
        pointer.restype, pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        camera_ptr = pointer(self.camera.__gpointer__, None)
        self._lib.arv_fake_camera_set_fill_pattern(camera_ptr, self._fill, None, None)

    def _draw(self, buffer: int, _data: int, _exposure: int, _gain: int, pixel_format: int) -> None:
        data = self._lib.arv_buffer_get_data(buffer, ctypes.byref(ctypes.c_size_t()))
        width = self.camera.read_register(WIDTH_REG)[1]
        height = self.camera.read_register(HEIGHT_REG)[1]
        ir_format = self.camera.read_register(IR_FORMAT_REG)[1]
        pixels = encode(scene_ck(height, width, self._frame, self._rng), ir_format, pixel_format)
        raw = pixels.tobytes()
        # The buffer's size is set after this callback: its room is the fake's payload.
        if data:
            ctypes.memmove(data, raw, min(len(raw), self.camera.get_payload()))
        self._frame += 1


@contextmanager
def running_fake(*args: str, ready_timeout: float = 10.0) -> Iterator[subprocess.Popen]:
    """A fake camera process for the ``with`` block (``args``: this script's options);
    killed with SIGKILL at the end if still alive, like a camera losing power."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], ready_timeout)
        line = proc.stdout.readline().strip() if ready else ""
        if line != "ready":
            proc.kill()
            raise RuntimeError(f"the fake GigE camera did not start: {proc.stderr.read()[-500:]}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--serial", default="THERMAL0")
    p.add_argument("--width", type=int, default=160)
    p.add_argument("--height", type=int, default=120)
    p.add_argument("--fps", type=float, default=25.0)
    args = p.parse_args(argv)
    fake = ThermalFake(args.serial, args.width, args.height, args.fps)
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    del fake
    return 0


if __name__ == "__main__":
    sys.exit(main())
