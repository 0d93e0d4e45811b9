"""The torch-eager twin of a bundled ONNX network, timed for ``thermorig bench``.

Kept here because torch may be imported only under models/training.
"""

from __future__ import annotations

import numpy as np
import torch

from app.bench import time_calls
from models.package import ModelPackage
from models.training.nets import TinyUNet, UNetConfig


def torch_eager_times(
    pkg: ModelPackage, tensor: np.ndarray, repeat: int
) -> tuple[np.ndarray | None, str]:
    """Seconds per call of the same architecture in eager mode (random weights: the
    run time does not depend on them), or None and why not."""
    arch = pkg.manifest.provenance.get("architecture", {})
    if arch.get("name") != "TinyUNet":
        return None, "no torch twin for this architecture"
    torch.set_num_threads(pkg.threads)
    net = TinyUNet(UNetConfig.from_dict(arch))
    net.train(False)
    x = torch.from_numpy(tensor)
    with torch.no_grad():
        return time_calls(lambda: net(x), repeat, warmup=3), ""
