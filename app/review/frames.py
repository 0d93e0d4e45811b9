"""The session side of label review: frames by thermal row, their RGB partners, and
the cursor's 3-D point carried from the thermal image into the RGB image.

GUI-free (the review window draws what this returns). The thermal stream is the
pivot: row ``i`` of the label file is thermal frame ``i``; the RGB and depth frames
shown beside it are the ones nearest in time on the host clock.

The linked cursor needs the depth of the thermal pixel under the mouse: the nearest
depth frame is rendered into the thermal camera (:class:`DepthRenderer`, the z-buffer
the projection uses) once per frame, on the first hover, and each mouse move then
maps one pixel with :class:`calibration.rig_points.RigPoints` — microseconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from app.display import percentile_levels
from calibration.depth_render import DepthRenderer
from calibration.rig import Rig, RigError
from calibration.rig_points import RigPoints
from calibration.rig_streams import rig_problem
from calibration.rig_yaml import load_rig
from drivers.errors import SessionError
from drivers.session import SessionReader, open_h5
from drivers.sync import nearest_rows
from drivers.types import centikelvin_to_celsius

#: Frames sampled for the session's display levels (one colour scale for the session,
#: so the same colour is the same temperature on every frame reviewed).
LEVEL_SAMPLES = 5


class ReviewFrames:
    """Random access to what the review window shows for thermal row ``i``."""

    def __init__(
        self,
        session_path: str | os.PathLike,
        rig_path: str | os.PathLike | None = None,
        stream: str = "thermal",
    ):
        self.path = Path(session_path)
        self.session = SessionReader(self.path)
        self.stream = stream
        try:
            if stream not in self.session.streams:
                raise SessionError(
                    f"{self.path} has no '{stream}' stream; review needs the thermal frames"
                )
            self.count = self.session.count(stream)
            if self.count == 0:
                raise SessionError(f"{self.path} has no {stream} frames to review")
            self.shape = tuple(self.session.streams[stream].shape[:2])
            # RGB and depth partners are found by time: none where a clock was broken.
            clock = [
                p
                for n in (stream, "color", "depth")
                if n in self.session.streams
                if (p := self.session.timestamp_problem(n))
            ]
            pivot = self.session.timestamps(stream)
            self.rows = {
                name: nearest_rows(pivot, self.session.timestamps(name))
                for name in ("color", "depth")
                if name in self.session.streams and not clock
            }
            self.rig, self.rig_note = self._rig(rig_path)
            if clock:
                self.rig_note = f"no RGB frames or linked cursor: {clock[0]}"
            # Frames are read straight from the session's datasets (docs/formats/session.md): the reader's
            # frame() also decodes every truth row (a 1280x720 label image per RGB
            # frame), which would double the time a frame switch takes.
            self._h5 = open_h5(self.path)
        except BaseException:
            self.session.close()
            raise
        self._points = RigPoints(self.rig) if self.rig is not None else None
        self._renderer: DepthRenderer | None = None
        self._z: tuple[int, np.ndarray] | None = None
        self._back: dict[str, np.ndarray] = {}

    # -- rig --------------------------------------------------------------------------
    def _rig(self, rig_path: str | os.PathLike | None) -> tuple[Rig | None, str]:
        """The rig for the linked cursor: a file given, the recorded one, the true one;
        None with the reason when there is none or it does not fit the session."""
        if "depth" not in self.rows or "color" not in self.rows:
            return None, "no linked cursor: the session has no depth or RGB stream"
        s = self.session
        if rig_path:
            rig, origin = load_rig(rig_path), str(rig_path)  # RigError: the person's file
        elif s.rig or (s.truth or {}).get("rig"):
            recorded = bool(s.rig)
            origin = (
                "the rig recorded with the session"
                if recorded
                else "the synthetic session's true rig"
            )
            try:
                rig = Rig.from_dict(s.rig if recorded else s.truth["rig"])
            except RigError as exc:
                return None, f"no linked cursor: {origin} cannot be used: {exc}"
        else:
            return None, "no linked cursor: the session has no rig; give --rig RIG.json"
        problem = rig_problem(rig, s.streams)
        if problem:
            if rig_path:
                raise RigError(f"{rig_path} does not fit {self.path}: {problem}")
            return None, f"no linked cursor: {origin} does not fit: {problem}"
        return rig, f"linked cursor through {origin}"

    # -- frames -----------------------------------------------------------------------
    def thermal(self, i: int) -> np.ndarray:
        """Thermal frame ``i`` (uint16 centikelvin, C-contiguous)."""
        return self.image(self.stream, i)

    def count_of(self, stream: str) -> int:
        """Frames of ``stream`` in the session (0 where it has none)."""
        return self.session.count(stream) if stream in self.session.streams else 0

    def image(self, stream: str, i: int) -> np.ndarray:
        """Frame ``i`` of ``stream`` (the thermal pivot, or the RGB frames the review's
        RGB side edits), C-contiguous."""
        n = self.count if stream == self.stream else self.count_of(stream)
        if not 0 <= i < n:
            raise IndexError(f"frame {i} out of range: {n} {stream} frames")
        try:
            return self._read(stream, i)
        except OSError as exc:
            raise SessionError(
                f"cannot read {stream} frame {i} of {self.path}: {exc}; the file is damaged"
            ) from exc

    def match(self, src: str, dst: str, i: int) -> int:
        """Row of ``dst`` nearest in time to row ``i`` of ``src`` (-1: none, e.g. a
        broken clock), between the thermal pivot and its RGB or depth partners."""
        if src == dst:
            return i
        if src == self.stream:
            return self.partner(dst, i)
        if dst != self.stream or src not in self.rows:
            return -1
        if src not in self._back:  # the RGB side's rows, found once when first needed
            ts = self.session.timestamps(src)
            self._back[src] = nearest_rows(ts, self.session.timestamps(self.stream))
        return int(self._back[src][i])

    def _read(self, name: str, row: int) -> np.ndarray:
        return np.ascontiguousarray(self._h5["streams"][name]["frames"][row])

    def partner(self, name: str, i: int) -> int:
        """Row of stream ``name`` nearest in time to thermal row ``i`` (-1: none)."""
        rows = self.rows.get(name)
        return -1 if rows is None or not len(rows) else int(rows[i])

    def color(self, i: int) -> np.ndarray | None:
        j = self.partner("color", i)
        return None if j < 0 else self._read("color", j)

    def levels_c(self) -> tuple[float, float]:
        """Display levels (°C) for the whole session: percentiles of a few frames."""
        picks = np.unique(
            np.linspace(0, self.count - 1, min(LEVEL_SAMPLES, self.count)).astype(int)
        )
        sample = np.stack([self.thermal(int(i))[::4, ::4] for i in picks])
        levels = percentile_levels(sample, 1.0, 99.5, target=1 << 30)
        if levels is None:
            return 20.0, 38.0
        lo, hi = centikelvin_to_celsius(levels[0]), centikelvin_to_celsius(levels[1])
        return lo, max(hi, lo + 1.0)

    # -- linked cursor ----------------------------------------------------------------
    def prepare_cursor(self) -> None:
        """Build the depth-to-thermal z-buffer (about half a second at 640x480: the
        window runs this on a thread at start, so the first hover does not stall)."""
        if self.rig is None or self._renderer is not None:
            return
        scale = self.session.streams["depth"].depth_scale or 0.001
        ref = self.rig.reference
        T = self.rig.T_dst_src(ref, self.stream)
        self._renderer = DepthRenderer(self.rig[ref], self.rig[self.stream], T, scale)

    def depth_in_thermal(self, i: int) -> np.ndarray | None:
        """Metres along the thermal camera's axis per thermal pixel (0: none), for
        frame ``i``'s nearest depth frame; None without a rig (or before
        :meth:`prepare_cursor` finished)."""
        if self._renderer is None:
            return None
        if self._z is not None and self._z[0] == i:
            return self._z[1]
        z = self._renderer.render(self._read("depth", self.partner("depth", i)))
        self._z = (i, z)
        return z

    def cursor(self, i: int, x: float, y: float) -> tuple[tuple[float, float] | None, float]:
        """Where thermal pixel (x, y) of frame ``i`` appears in the RGB frame beside it,
        and its depth (metres; NaN when unknown)."""
        z_img = self.depth_in_thermal(i)
        col, row = int(round(x)), int(round(y))
        if z_img is None or not (0 <= row < z_img.shape[0] and 0 <= col < z_img.shape[1]):
            return None, float("nan")
        z = float(z_img[row, col])
        if not z > 0:
            return None, float("nan")
        marks = self._points.others(self.stream, float(col), float(row), z, ("color",))
        return marks.get("color"), z

    def close(self) -> None:
        self._h5.close()
        self.session.close()
