"""The rig as an OpenCV FileStorage YAML file, for tools that read OpenCV calibrations.

Layout (every matrix an ``!!opencv-matrix`` of doubles, written with 17 significant
digits so that a round trip is exact)::

    format: thermorig-rig
    version: 1
    reference: depth
    created: "..."
    board: "coded:11x9:40"          # "" when unknown
    cameras:
       depth:
          width: 640
          height: 480
          K: 3x3
          dist: 1xN (OpenCV order)
          T_ref_cam: 4x4            # this camera → reference, metres (the rig JSON's)
          R: 3x3                    # reference → this camera, OpenCV's stereo
          T: 3x1                    #   convention (p_cam = R p_ref + T), for
                                    #   stereoRectify and friends; not read back
    quality_json: "{...}"           # the rig's quality figures as JSON text

Loading reads ``T_ref_cam`` (or, when a hand-written file has only ``R``/``T``,
inverts those). :func:`load_rig` reads a rig file of either form; every ``--rig`` and
the window's Load rig dialog use it, so a rig ``calibrate --yaml`` wrote works wherever
its JSON twin does. It lives here, not in :mod:`calibration.rig`, because the YAML
reader needs OpenCV.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from calibration.rig import Camera, Rig, RigError
from drivers.atomic import atomic_write

FORMAT = "thermorig-rig"
VERSION = 1


def rig_to_yaml(rig: Rig) -> str:
    """The rig as OpenCV FileStorage YAML text."""
    fs = cv2.FileStorage(".yaml", cv2.FILE_STORAGE_WRITE | cv2.FILE_STORAGE_MEMORY)
    d = rig.to_dict()
    fs.write("format", FORMAT)
    fs.write("version", VERSION)
    fs.write("reference", rig.reference)
    fs.write("created", d["created"])
    fs.write("board", rig.board or "")
    fs.startWriteStruct("cameras", cv2.FileNode_MAP)
    for name, cam in rig.cameras.items():
        fs.startWriteStruct(name, cv2.FileNode_MAP)
        fs.write("width", int(cam.width))
        fs.write("height", int(cam.height))
        fs.write("K", cam.K)
        fs.write("dist", cam.dist.reshape(1, -1))
        fs.write("T_ref_cam", cam.T_ref_cam)
        T = cam.T_cam_ref
        fs.write("R", T[:3, :3])
        fs.write("T", T[:3, 3].reshape(3, 1))
        fs.endWriteStruct()
    fs.endWriteStruct()
    fs.write("quality_json", json.dumps(rig.quality or {}))
    return fs.releaseAndGetString()


def _mat(node: cv2.FileNode, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    if node.empty():
        raise RigError(f"rig YAML lacks {what}; write it with thermorig or add it")
    m = node.mat()
    m = np.zeros((1, 0)) if m is None else np.asarray(m, dtype=np.float64)
    if shape is not None and m.size != int(np.prod(shape)):
        raise RigError(f"rig YAML {what} has {m.size} values, expected {int(np.prod(shape))}")
    return m.reshape(shape) if shape is not None else m.ravel()


def rig_from_yaml(text: str) -> Rig:
    """A rig from OpenCV FileStorage YAML text (as :func:`rig_to_yaml` writes it)."""
    if not text.lstrip().startswith("%YAML"):
        raise RigError("not an OpenCV YAML file (no %YAML header); give a rig written as YAML")
    try:
        fs = cv2.FileStorage(text, cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
    except (cv2.error, SystemError) as exc:  # OpenCV's parser errors surface as either
        inner = exc.__cause__ or exc.__context__ or exc
        why = " ".join(str(getattr(inner, "err", inner)).split())[:120]
        raise RigError(f"rig YAML does not parse ({why})") from None
    try:
        cams_node = fs.getNode("cameras")
        if cams_node.empty() or not cams_node.isMap():
            raise RigError("not a rig YAML: expected a 'cameras' map of camera entries")
        fmt = fs.getNode("format")
        if not fmt.empty() and fmt.string() != FORMAT:
            raise RigError(f"YAML of format '{fmt.string()}', expected '{FORMAT}'")
        cameras = {}
        for name in cams_node.keys():
            node = cams_node.getNode(name)
            where = f"cameras/{name}"
            for key in ("width", "height"):
                if node.getNode(key).empty():
                    raise RigError(f"rig YAML lacks {where}/{key}")
            K = _mat(node.getNode("K"), f"{where}/K", (3, 3))
            dist = _mat(node.getNode("dist"), f"{where}/dist")
            if node.getNode("T_ref_cam").empty() and not node.getNode("R").empty():
                T = np.eye(4)
                T[:3, :3] = _mat(node.getNode("R"), f"{where}/R", (3, 3))
                T[:3, 3] = _mat(node.getNode("T"), f"{where}/T", (3,))
                pose = np.linalg.inv(T)
            else:
                pose = _mat(node.getNode("T_ref_cam"), f"{where}/T_ref_cam", (4, 4))
            cameras[name] = Camera(
                width=int(node.getNode("width").real()),
                height=int(node.getNode("height").real()),
                K=K,
                dist=dist,
                T_ref_cam=pose,
            )

        def text_of(key: str) -> str:
            n = fs.getNode(key)
            return "" if n.empty() else n.string()

        quality_text = text_of("quality_json")
        try:
            quality = json.loads(quality_text) if quality_text else {}
        except json.JSONDecodeError as exc:
            raise RigError(f"rig YAML quality_json is not JSON ({exc.msg})") from None
        return Rig(
            cameras=cameras,
            reference=text_of("reference") or "depth",
            created=text_of("created"),
            board=text_of("board") or None,
            quality=quality,
        )
    finally:
        fs.release()


def save_rig_yaml(rig: Rig, path: str | os.PathLike) -> None:
    """Write the rig as OpenCV YAML atomically (a crash leaves the old file)."""
    text = rig_to_yaml(rig)
    with atomic_write(path) as fh:
        fh.write(text)


def load_rig_yaml(path: str | os.PathLike) -> Rig:
    """Read a rig from an OpenCV YAML file written by :func:`save_rig_yaml`."""
    path = Path(path)
    if not path.is_file():
        raise RigError(f"rig file not found: {path}")
    return rig_from_yaml(path.read_text())


def load_rig(path: str | os.PathLike) -> Rig:
    """A rig file, JSON or OpenCV YAML: YAML when it starts with ``%YAML`` or is named
    ``.yaml``/``.yml``, JSON otherwise (the content decides first, so a YAML rig saved
    as ``.txt`` still reads). RigError naming the file when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise RigError(f"rig file not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise RigError(
            f"{path} is not a rig file (not UTF-8 text); give a rig JSON or YAML"
        ) from None
    is_yaml = text.lstrip().startswith("%YAML") or path.suffix.lower() in (".yaml", ".yml")
    try:
        return rig_from_yaml(text) if is_yaml else Rig.from_json(text)
    except RigError as exc:
        raise RigError(f"{path}: {exc}") from None
