"""The synthetic cameras' pixel rays, kept on disk between runs.

Inverting a lens model for every pixel of the demo's three cameras is most of what
opening the demo costs (~0.4 s alone on two cores, more while the window loads Qt),
and the result depends only on the lens and the code that inverts it. So the rays are
stored in the user cache folder (:mod:`drivers.user_dirs`) under a name made from
everything they depend on — the lens, the inversion's constants, the numpy and OpenCV
versions — and read back (~20 ms) by the next run. A file that cannot be read or
written is ignored: the rays are computed again, never taken from a wrong file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from drivers.atomic import atomic_path
from drivers.user_dirs import user_cache_dir

#: Bump when the rays computed for the same lens change (the inversion, its accuracy).
RAYS_FORMAT = 1


def rays_path(key: tuple) -> Path:
    """The cache file of the rays identified by ``key`` (the lens and the constants)."""
    name = repr((RAYS_FORMAT, np.__version__, cv2.__version__, key))
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return user_cache_dir() / "synthetic-rays" / f"{digest}.npy"


def stored_rays(key: tuple, shape: tuple[int, int, int], make: Callable[[], np.ndarray]):
    """The rays of ``key``, float32 ``shape``: read from the cache, else made and kept."""
    path = rays_path(key)
    try:
        rays = np.load(path, allow_pickle=False)
        if rays.shape == shape and rays.dtype == np.float32 and np.isfinite(rays).all():
            return rays
    except (OSError, ValueError):
        pass  # none yet, or unreadable: made again below
    rays = make()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, rays, allow_pickle=False)
    except OSError:
        pass  # a read-only or full cache folder only costs the next run the time again
    return rays
