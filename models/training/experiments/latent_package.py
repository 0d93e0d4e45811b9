"""The latent experiment's better variant as a segmentation package (encoder and
decoder in one ONNX file plus its JSON), so ``thermorig infer`` and the preview run
it like any other model.

Published the way ``thermorig train`` publishes (:mod:`models.training.from_labels`):
built in a hidden folder under ``--out``, checked torch-vs-onnxruntime and loaded
with :func:`models.package.load_package`, then linked into place only if neither
file exists — never over anything. Outside ``--quick`` it is also measured through the
app's own runner on full frames of the test subjects' sessions
(:func:`models.training.heldout.segmentation_iou`), the figure ``thermorig infer``
would give.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from drivers.atomic import publish_new
from models.package import load_package
from models.runner import ModelRunner
from models.spec import InputSpec, Manifest, OutputSpec
from models.training.dataset import Examples
from models.training.experiments.common import ExperimentError, ExperimentRequest, Log, StudySplit
from models.training.heldout import segmentation_iou
from models.training.latent_net import LatentSegmenter
from models.training.nets import count_parameters
from models.training.onnx_export import OPSET, export_onnx, parity
from models.training.train_bundled import _parity_inputs

#: Largest torch-vs-onnxruntime difference of the class scores accepted.
PARITY_LIMIT = 1e-4


def export_package(
    req: ExperimentRequest,
    variant: str,
    spec: InputSpec,
    model: LatentSegmenter,
    figures: dict,
    split: StudySplit,
    train: Examples,
    labeled: list[int],
    log: Log,
) -> dict:
    """Export, check and publish ``latent-VARIANT.onnx``/``.json`` (input as ``spec``
    says) into ``req.out``."""
    name = f"latent-{variant}"
    onnx_final, json_final = req.out / f"{name}.onnx", req.out / f"{name}.json"
    for p in (onnx_final, json_final):
        if p.exists():
            raise ExperimentError(f"{p} exists; give another --out (a package is never replaced)")
    w, h = spec.width, spec.height
    channels = 1 if spec.representation == "grayscale" else 3
    manifest = Manifest(
        task="segmentation",
        input=spec,
        output=OutputSpec("logits", "logits"),
        classes=tuple(train.classes),
        description=f"CUTS-style latent encoder + light decoder ({variant} input),"
        f" decoder from {len(labeled)} labeled frames (thermorig experiment latent)",
    )
    test_sessions = split.sessions("test")
    req.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=req.out))
    try:
        onnx_tmp = export_onnx(
            model, (1, channels, h, w), work / onnx_final.name, "thermal", "logits"
        )
        manifest.write(work / json_final.name)
        package = load_package(onnx_tmp)
        par = parity(model, onnx_tmp, _parity_inputs(test_sessions, manifest))
        log(f"package {name}: parity torch vs onnxruntime max abs diff {par['max_abs_diff']:.2e}")
        if par["max_abs_diff"] > PARITY_LIMIT:
            raise RuntimeError(
                f"{name}: ONNX export differs from torch by {par['max_abs_diff']:.2e}"
            )
        heldout = None
        if not req.quick:
            heldout = segmentation_iou(ModelRunner(package), test_sessions)
            log(f"package {name}: test subjects' full frames, mean IoU {heldout['mean_iou']}")
        prov = {
            "trained_by": "thermorig experiment latent" + (" --quick" if req.quick else ""),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "training_data": {
                "unlabeled_frames": len(train),
                "labeled_frames": len(labeled),
                "labeled_sources": [list(train.sources[i]) for i in labeled],
            },
            "cross_subject": {
                "train_subjects": split.train_ids,
                "test_subjects": split.test_ids,
                "test_sessions": [str(p) for p in test_sessions],
            },
            "architecture": {
                "name": "LatentSegmenter",
                "encoder": "4 unstrided 5x5 convolutions 16-32-64-128 (CUTS)",
                "parameters": count_parameters(model),
            },
            "training": {k: figures[k] for k in ("encoder", "decoder")},
            "onnx": {"opset": OPSET, "bytes": onnx_tmp.stat().st_size, "torch": torch.__version__},
            "parity_torch_vs_onnxruntime": par,
            "figures": {"mean_iou": (heldout or figures)["mean_iou"]},
            "heldout": heldout,
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        }
        replace(manifest, provenance=prov).write(work / json_final.name)
        load_package(onnx_tmp)  # the final JSON parses too
        publish_new(onnx_tmp, onnx_final)
        try:
            publish_new(work / json_final.name, json_final)
        except FileExistsError:
            onnx_final.unlink()  # ours, published a moment ago: no half package stays
            raise ExperimentError(f"{json_final} appeared meanwhile; nothing written") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "variant": variant,
        "onnx": onnx_final.name,
        "json": json_final.name,
        "parity_max_abs_diff": par["max_abs_diff"],
        "heldout_mean_iou": heldout["mean_iou"] if heldout else None,
        "heldout_iou": heldout["iou"] if heldout else None,
    }
