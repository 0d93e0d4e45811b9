"""The torch-eager twin of a bundled ONNX network, for ``thermorig bench`` to time.

Kept here because torch may be imported only under models/training; the timing itself
is the bench's (``app.bench.time_calls``), which this layer must not import.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from models.package import ModelPackage
from models.training.nets import TinyUNet, UNetConfig


def torch_eager_call(pkg: ModelPackage, tensor: np.ndarray) -> tuple[Callable | None, str]:
    """One call of the same architecture in eager mode on ``tensor`` (random weights:
    the run time does not depend on them), or None and why not."""
    arch = pkg.manifest.provenance.get("architecture", {})
    if arch.get("name") != "TinyUNet":
        return None, "no torch twin for this architecture"
    torch.set_num_threads(pkg.threads)
    net = TinyUNet(UNetConfig.from_dict(arch))
    net.train(False)
    x = torch.from_numpy(tensor)

    def call() -> None:
        with torch.no_grad():
            net(x)

    return call, ""
