"""Building a synthetic world (cameras, scene, static renders), cached per process.

Opening a synthetic source costs ~1-2 s (inverting three lens models, casting the static
scene); a GUI reopens sources often, so recently built worlds are kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from drivers.synthetic.board import CalibrationScene
from drivers.synthetic.camera import CameraModel, true_cameras
from drivers.synthetic.config import STREAM_ORDER, SyntheticConfig, camera_of
from drivers.synthetic.materials import Texture
from drivers.synthetic.render import CameraRenderer
from drivers.synthetic.scenes import CyclingScene, Scene, TreadmillScene
from drivers.synthetic.sensor import Sensor


def make_scene(
    name: str, config: SyntheticConfig, seed: int, cameras: dict[str, CameraModel]
) -> Scene:
    if name == "cycling":
        return CyclingScene(config, seed)
    if name == "treadmill":
        return TreadmillScene(config, seed)
    return CalibrationScene(config, seed, cameras)


#: Recently built worlds (cameras, scene, static renders), so reopening is instant.
_WORLDS: OrderedDict[tuple, tuple] = OrderedDict()
_WORLDS_LOCK = threading.Lock()


def build_world(scene_name: str, seed: int, cfg: SyntheticConfig):
    """Cameras, scene and per-stream renderers; built once per (scene, seed, config).

    Renderers are per *stream*: the IR stream has its own renderer through the depth
    camera's model (what it measures differs; the camera is the same).
    """
    key = (scene_name, seed, cfg)
    with _WORLDS_LOCK:
        if key in _WORLDS:
            _WORLDS.move_to_end(key)
            return _WORLDS[key]
        cameras = true_cameras({s: cfg.size(s) for s in STREAM_ORDER})
        scene = make_scene(scene_name, cfg, seed, cameras)
        texture = Texture(np.random.default_rng([seed, 11]))
        renderers = {}
        for name in cfg.streams(scene_name):
            cam = cameras[camera_of(name)]
            sensor = Sensor(name, cam.width, cam.height, seed)
            renderers[name] = CameraRenderer(scene, cam, name, sensor, texture)
        _WORLDS[key] = (cameras, scene, renderers)
        while len(_WORLDS) > 4:
            _WORLDS.popitem(last=False)
        return _WORLDS[key]
