"""ONNX export of a trained network, and the check that onnxruntime computes what torch
computed.

The exporter is torch's own (``torch.export`` based, opset 18, which onnxruntime ≥ 1.14
runs); the weights are stored inside the ``.onnx`` file so that a model package stays
two files. The parity check runs the same inputs through both and reports the largest
difference of the raw outputs — the one figure that says the export lost nothing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

OPSET = 18


def export_onnx(
    model: nn.Module,
    input_shape: tuple[int, int, int, int],
    path: str | Path,
    input_name: str,
    output_name: str,
) -> Path:
    """Export ``model`` (eval mode, fixed input shape) to ``path`` with weights inside."""
    path = Path(path)
    model = model.eval()
    example = torch.zeros(input_shape)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # e.g. "torchvision is not installed": irrelevant here
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(path),
                input_names=[input_name],
                output_names=[output_name],
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    finally:
        quiet.setLevel(level)
    stray = path.with_name(path.name + ".data")
    if stray.exists():  # only written for > 2 GB models; ours never are
        raise RuntimeError(f"export wrote external weights {stray}; the package must be one file")
    return path


def parity(model: nn.Module, onnx_path: str | Path, inputs: np.ndarray) -> dict[str, float]:
    """Largest absolute and relative difference of torch and onnxruntime outputs on
    ``inputs`` (N, C, H, W), and for map outputs how often their argmax agrees."""
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    model = model.eval()
    worst = worst_rel = 0.0
    agree = total = 0
    with torch.no_grad():
        for x in inputs:
            x = x[None].astype(np.float32)
            ref = model(torch.from_numpy(x)).numpy()
            got = sess.run(None, {name: x})[0]
            diff = float(np.abs(ref - got).max())
            worst = max(worst, diff)
            worst_rel = max(worst_rel, diff / max(float(np.abs(ref).max()), 1e-6))
            if ref.ndim == 4:  # maps (class scores, heatmaps); not (1, K, 2) coordinates
                agree += int((ref.argmax(1) == got.argmax(1)).sum())
                total += ref.shape[0] * ref.shape[2] * ref.shape[3]
    out = {"max_abs_diff": worst, "max_rel_diff": worst_rel, "samples": int(len(inputs))}
    if total:
        out["argmax_agreement"] = agree / total
    return out
