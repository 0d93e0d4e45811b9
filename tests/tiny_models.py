"""Tiny model packages built in the test: a segmenter whose output turns NaN where the
frame is colder than a threshold (what a broken export or fp16 overflow looks like)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 32
CLASSES = ["background", "left_calf", "right_calf"]
#: Frames colder than this (°C) give NaN logits: the input window is 15-40 °C, and the
#: network takes the square root of (input − 0.5), NaN below 27.5 °C.
NAN_BELOW_C = 27.5


def nan_segmenter(folder: Path, name: str = "nanseg") -> Path:
    """``folder/name.onnx`` + ``.json``: logits sqrt(x − 0.5) through a 1×1 convolution
    to three classes; returns the .onnx path."""
    x = helper.make_tensor_value_info("thermal", TensorProto.FLOAT, [1, 1, SIZE, SIZE])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, SIZE, SIZE])
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    weights = numpy_helper.from_array(np.array([1, -1, 0.5], np.float32).reshape(3, 1, 1, 1), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Sub", ["thermal", "half"], ["shifted"]),
            helper.make_node("Sqrt", ["shifted"], ["root"]),
            helper.make_node("Conv", ["root", "w"], ["logits"]),
        ],
        "nanseg",
        [x],
        [y],
        initializer=[half, weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx_path = folder / f"{name}.onnx"
    onnx.save(model, onnx_path)
    manifest = {
        "format": "thermorig-model",
        "version": 1,
        "task": "segmentation",
        "input": {
            "stream": "thermal",
            "name": "thermal",
            "size": [SIZE, SIZE],
            "representation": "grayscale",
            "resize": "stretch",
            "window_c": [15.0, 40.0],
        },
        "output": {"name": "logits", "kind": "logits"},
        "classes": CLASSES,
    }
    onnx_path.with_suffix(".json").write_text(json.dumps(manifest))
    return onnx_path
