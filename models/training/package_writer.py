"""Publishing a trained network as a model package: export, parity, measurement, and a
no-replace publish — shared by ``thermorig train`` and the training experiments, so a
package is made one way whichever of them trained it.

The pair is built in a temporary folder inside ``out``: the network is exported to
ONNX, the torch-vs-onnxruntime parity is checked on real frames, the package is loaded
and run with the app's own :class:`~models.runner.ModelRunner` (the figures are those
``thermorig infer`` would give), and only then are ``NAME.onnx`` and ``NAME.json``
linked into ``out`` with :func:`drivers.atomic.publish_new` — never over an existing
file, the JSON last, so ``thermorig models`` never sees half a package.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from drivers.atomic import publish_new
from models.package import load_package
from models.runner import ModelRunner
from models.spec import Manifest
from models.training.labelset import TrainingDataError
from models.training.onnx_export import OPSET, export_onnx, parity

#: ``measure(runner) -> (headline figures, full held-out result)``.
Measure = Callable[[ModelRunner], tuple[dict, dict]]
#: ``provenance(parity, figures, heldout, onnx_path) -> the JSON's provenance``.
Provenance = Callable[[dict, dict, dict, Path], dict]


@dataclass(frozen=True)
class Published:
    onnx: Path
    json: Path
    parity: dict
    figures: dict
    heldout: dict


def measured_record(
    model: nn.Module, arch: dict, par: dict, figures: dict, heldout: dict, onnx: Path
) -> dict:
    """The provenance entries every trained package carries alike: the network, the
    export, the parity, the figures and the machine."""
    return {
        "architecture": {**arch, "parameters": sum(p.numel() for p in model.parameters())},
        "onnx": {"opset": OPSET, "bytes": onnx.stat().st_size, "torch": torch.__version__},
        "parity_torch_vs_onnxruntime": par,
        "figures": figures,
        "heldout": heldout,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }


def package_paths(out: Path, name: str) -> tuple[Path, Path]:
    """(``out/NAME.onnx``, ``out/NAME.json``), refused up front if either exists: the
    check comes before training, so minutes of work never end in a refusal."""
    paths = (out / f"{name}.onnx", out / f"{name}.json")
    for p in paths:
        if p.exists():
            raise TrainingDataError(
                f"{p} exists; give another --name or --out (it is never replaced)"
            )
    return paths


def publish_package(
    model: nn.Module,
    manifest: Manifest,
    out: Path,
    name: str,
    parity_inputs: np.ndarray,
    measure: Measure,
    provenance: Provenance,
) -> Published:
    """Export ``model``, check parity on ``parity_inputs`` (N, C, H, W), measure it
    through the runner and publish ``out/NAME.onnx`` + ``NAME.json`` (see the module
    docstring). The temporary folder is removed on any failure."""
    onnx_final, json_final = package_paths(out, name)
    w, h = manifest.input.width, manifest.input.height
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=out))
    try:
        onnx_tmp = export_onnx(
            model, (1, 1, h, w), work / onnx_final.name, manifest.input.name, manifest.output.name
        )
        manifest.write(work / json_final.name)
        runner = ModelRunner(load_package(onnx_tmp))
        par = parity(model, onnx_tmp, parity_inputs)
        if manifest.output.kind != "logits":
            par.pop("argmax_agreement", None)
        figures, heldout = measure(runner)
        prov = provenance(par, figures, heldout, onnx_tmp)
        replace(manifest, provenance=prov).write(work / json_final.name)
        publish_new(onnx_tmp, onnx_final)
        try:
            publish_new(work / json_final.name, json_final)
        except FileExistsError:
            onnx_final.unlink()  # ours, published a moment ago: no half package stays
            raise TrainingDataError(
                f"{json_final} appeared while training; nothing written"
            ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Published(onnx_final, json_final, par, figures, heldout)
