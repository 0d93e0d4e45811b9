"""The rig: every camera's intrinsics and pose relative to the reference camera.

The JSON form is documented in docs/formats/rig.md (cameras by stream name with ``width``,
``height``, ``K``, ``dist``, ``T_ref_cam``; ``reference`` is ``depth``). Drivers produce
rig dicts of this schema (device defaults, the synthetic rig's truth) without importing
this module; everything that computes with a rig goes through :class:`Rig`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from calibration.rig_checks import camera_problem, image_size, numbers
from drivers.atomic import atomic_write
from drivers.errors import ThermorigError

REFERENCE_STREAM = "depth"


class RigError(ThermorigError):
    """A rig file that is missing, malformed, or does not fit the streams."""


@dataclass
class Camera:
    """One camera: pinhole + OpenCV distortion, and its pose in the reference frame.

    ``T_ref_cam`` maps points in this camera's frame to the reference camera's frame
    (metres): ``p_ref = T_ref_cam @ p_cam``.
    """

    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray
    T_ref_cam: np.ndarray = field(default_factory=lambda: np.eye(4))

    def __post_init__(self) -> None:
        self.K = np.asarray(self.K, dtype=np.float64).reshape(3, 3)
        self.dist = np.asarray(self.dist, dtype=np.float64).ravel()
        self.T_ref_cam = np.asarray(self.T_ref_cam, dtype=np.float64).reshape(4, 4)

    @property
    def T_cam_ref(self) -> np.ndarray:
        """Reference frame → this camera (inverse of ``T_ref_cam``)."""
        R, t = self.T_ref_cam[:3, :3], self.T_ref_cam[:3, 3]
        out = np.eye(4)
        out[:3, :3] = R.T
        out[:3, 3] = -R.T @ t
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": int(self.width),
            "height": int(self.height),
            "K": self.K.tolist(),
            "dist": self.dist.tolist(),
            "T_ref_cam": self.T_ref_cam.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Camera:
        """A camera from its rig-file entry; RigError when a field is missing or is not
        numbers of the right shape (whether they make sense: :meth:`problem`)."""
        if not isinstance(d, dict):
            raise RigError(f"camera entry is {type(d).__name__}, expected an object")
        try:
            return cls(
                width=image_size(d["width"], "width"),
                height=image_size(d["height"], "height"),
                K=numbers(d["K"], (3, 3), "K"),
                dist=numbers(d.get("dist", [0, 0, 0, 0, 0]), None, "dist"),
                T_ref_cam=numbers(d.get("T_ref_cam", np.eye(4)), (4, 4), "T_ref_cam"),
            )
        except KeyError as exc:
            raise RigError(
                f"camera entry lacks {exc}; expected width, height, K, dist, T_ref_cam"
            ) from None
        except (TypeError, ValueError) as exc:
            raise RigError(f"camera entry is malformed: {exc}") from None

    def problem(self) -> str | None:
        """Why this camera's numbers describe no real camera (a phrase), or None
        (checks and thresholds: :mod:`calibration.rig_checks`)."""
        return camera_problem(self.width, self.height, self.K, self.dist, self.T_ref_cam)


@dataclass
class Rig:
    """Cameras by stream name, plus how and how well they were calibrated."""

    cameras: dict[str, Camera]
    reference: str = REFERENCE_STREAM
    created: str = ""
    board: str | None = None
    quality: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, stream: str) -> Camera:
        try:
            return self.cameras[stream]
        except KeyError:
            raise RigError(
                f"the rig has no camera '{stream}' (it has {', '.join(sorted(self.cameras))})"
            ) from None

    def T_dst_src(self, src: str, dst: str) -> np.ndarray:
        """Transform taking points in camera ``src`` to camera ``dst``."""
        return self[dst].T_cam_ref @ self[src].T_ref_cam

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "created": self.created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "board": self.board,
            "cameras": {n: c.to_dict() for n, c in self.cameras.items()},
            "quality": self.quality,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rig:
        """A rig from its JSON form, checked (:meth:`check`): RigError, one line, when
        it is malformed or describes no real rig."""
        if not isinstance(d, dict) or not isinstance(d.get("cameras"), dict):
            raise RigError("not a rig: expected a JSON object with a 'cameras' mapping")
        cameras = {}
        for name, entry in d["cameras"].items():
            try:
                cameras[name] = Camera.from_dict(entry)
            except RigError as exc:
                raise RigError(f"rig camera '{name}': {exc}") from None
        texts = {k: d.get(k, "") for k in ("reference", "created")}
        for key, value in [*texts.items(), ("board", d.get("board") or "")]:
            if not isinstance(value, str):
                raise RigError(f"rig '{key}' must be text, not {value!r}")
        quality = d.get("quality", {}) or {}
        if not isinstance(quality, dict):
            raise RigError("rig 'quality' must be an object")
        rig = cls(
            cameras=cameras,
            reference=texts["reference"] or REFERENCE_STREAM,
            created=texts["created"],
            board=d.get("board") or None,
            quality=quality,
        )
        rig.check()
        return rig

    def check(self) -> Rig:
        """This rig if every camera's numbers can describe a real camera; a RigError
        naming the first camera that cannot, and what is wrong, otherwise."""
        if not self.cameras:
            raise RigError("the rig has no cameras")
        for name, cam in self.cameras.items():
            problem = cam.problem()
            if problem:
                raise RigError(f"rig camera '{name}': {problem}; recalibrate or fix the rig file")
        return self

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Rig:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise RigError(f"rig is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except RecursionError:
            raise RigError("rig is not a rig file (JSON nested too deeply)") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically: a crash mid-write leaves the old file, never half a file."""
        with atomic_write(path) as fh:
            fh.write(self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Rig:
        """The rig in the JSON file ``path``, checked; RigError naming the file."""
        path = Path(path)
        if not path.is_file():
            raise RigError(f"rig file not found: {path}")
        try:
            return cls.from_json(read_rig_text(path))
        except RigError as exc:
            raise RigError(f"{path}: {exc}") from None


def read_rig_text(path: Path) -> str:
    """A rig file's text; RigError when it is not UTF-8 (a binary file given as a rig)."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RigError(
            f"not a rig file: byte {exc.start} is not UTF-8 text; give the rig's .json or .yaml"
        ) from None
