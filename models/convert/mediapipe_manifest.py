"""What each shipped MediaPipe model is: its JSON (format thermorig-model) and the NOTICE.

Build time only: the figures come from :mod:`models.convert.mediapipe_parity`, the
versions from the conversion venv (imported inside :func:`manifest`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from models.convert.mediapipe_parity import PHOTOS

MEDIAPIPE_VERSION = "0.10.21"

#: name -> path of the .tflite inside the wheel.
MODELS = {
    "pose_detection": "mediapipe/modules/pose_detection/pose_detection.tflite",
    "pose_landmark_full": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
    "selfie_segmentation": "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
}
#: ONNX opset per model: 13 where it suffices; selfie_segmentation uses HardSwish (14).
OPSET = {"pose_detection": 13, "pose_landmark_full": 13, "selfie_segmentation": 14}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_AGAINST = {
    "pose_detection": "the .tflite on TFLite's built-in kernels; inputs: the letterboxed"
    " photos {photos} and 4 synthetic images (pattern + 3 smooth random); max abs difference",
    "pose_landmark_full": "the .tflite on TFLite's built-in kernels; inputs: the labeler's"
    " person crops of the photos {photos} and 4 synthetic images (pattern + 3 smooth random);"
    " max abs difference, p999 its 99.9th percentile over pixels; tflite_kernel_spread: how far"
    " TFLite's own XNNPACK and reference kernels are from its built-in kernels on the same inputs"
    " (on synthetic images the mask logits reach +-1600 and float32 rounding order alone moves"
    " the worst pixel by a few 1e-3)",
    "selfie_segmentation": "the .tflite through XNNPACK (which runs MediaPipe's custom op, as"
    " MediaPipe does) and split: the graph up to the custom op on TFLite's built-in kernels,"
    " the op in float64 numpy; inputs: the photos {photos} stretched to 256x256 and 4 synthetic"
    " images; max abs difference of the mask after the sigmoid at any pixel",
}


def manifest(name: str, tflite: Path, parity: dict[str, float], notes: str) -> dict:
    """The model's JSON (format thermorig-model): what it is, how it reads, where from."""
    import onnxruntime
    import tensorflow
    import tf2onnx

    from_mp = {
        "source": f"PyPI wheel mediapipe=={MEDIAPIPE_VERSION}, {MODELS[name]}",
        "source_sha256": sha256(tflite),
        "licence": "Apache-2.0 (LICENSE-mediapipe.txt beside this file)",
        "converted_with": (
            f"models/convert/convert_mediapipe.py: tf2onnx {tf2onnx.__version__} (opset"
            f" {OPSET[name]}), tensorflow {tensorflow.__version__}; weights stored as float16"
            f" + Cast{notes}"
        ),
        "parity": {
            "against": _AGAINST[name].format(photos=", ".join(PHOTOS))
            + f" (tensorflow {tensorflow.__version__}, onnxruntime {onnxruntime.__version__})",
            **{k: float(f"{v:.3g}") for k, v in sorted(parity.items())},
        },
    }
    rgb_input = {"stream": "color", "name": "input_1", "layout": "NHWC", "representation": "rgb"}
    unit = {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    common = {
        "format": "thermorig-model",
        "version": 1,
        "task": "visual-labeler",
        "classes": ["background", "left_calf", "right_calf"],
        "provenance": from_mp,
    }
    if name == "pose_landmark_full":
        return {
            **common,
            "description": "MediaPipe BlazePose GHUM full: 39 landmarks and a person mask of a"
            " rotated 256x256 person crop (stage 2 of models/visual_labeler.py)",
            "pipeline": {
                "name": "mediapipe-pose",
                "stage": "landmarks",
                "layout": "NHWC",
                "outputs": {
                    "landmarks": "Identity",
                    "pose_presence": "Identity_1",
                    "mask_logits": "Identity_2",
                    "heatmaps": "Identity_3",
                    "world": "Identity_4",
                },
            },
            "input": {**rgb_input, "size": [256, 256], "resize": "stretch", "normalization": unit},
            "output": {"name": "Identity_2", "kind": "logits"},
        }
    if name == "selfie_segmentation":
        return {
            **common,
            "classes": ["background", "person"],
            "description": "MediaPipe selfie segmentation (general model): person-mask logits"
            " (one channel, sigmoid > 0.5 = person) of the whole colour frame stretched to"
            " 256x256. Every person in the frame, at 1/4 to 1/5 of a VGA frame's resolution;"
            " models/visual_labeler.py keeps the pose model's per-person mask",
            "pipeline": {
                "name": "mediapipe-selfie",
                "stage": "person-mask",
                "layout": "NHWC",
                "outputs": {"mask_logits": "mask_logits"},
            },
            "input": {**rgb_input, "size": [256, 256], "resize": "stretch", "normalization": unit},
            "output": {"name": "mask_logits", "kind": "logits"},
        }
    return {
        **common,
        "description": "MediaPipe BlazePose detector: person boxes with hip-centre and"
        " scale keypoints on a letterboxed 224x224 frame (stage 1 of models/visual_labeler.py)",
        "pipeline": {
            "name": "mediapipe-pose",
            "stage": "detector",
            "layout": "NHWC",
            "anchors": "ssd 224, strides 8,16,32,32,32, fixed size",
            "outputs": {"boxes": "Identity", "score_logits": "Identity_1"},
        },
        "input": {
            **rgb_input,
            "size": [224, 224],
            "resize": "letterbox",
            "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        },
        "output": {"name": "Identity_1", "kind": "logits"},
    }


NOTICE = f"""MediaPipe models converted to ONNX for thermorig
================================================

pose_detection.onnx, pose_landmark_full.onnx and selfie_segmentation.onnx are converted
from these TensorFlow Lite models of Google's MediaPipe:

    {MODELS["pose_detection"]}
    {MODELS["pose_landmark_full"]}
    {MODELS["selfie_segmentation"]}

taken unchanged from the PyPI wheel mediapipe=={MEDIAPIPE_VERSION}, which is licensed under
the Apache License 2.0 (LICENSE-mediapipe.txt, copied from that wheel's dist-info).

Modifications (Apache-2.0, section 4b): converted to ONNX with tf2onnx (opset 13; 14 for
selfie_segmentation); pose_detection's sparse weights were densified first (DENSIFY ops
replaced by the dense tensors they compute); selfie_segmentation's MediaPipe custom op
Convolution2DTransposeBias is expressed as an ONNX ConvTranspose with bias, and its
final sigmoid is left out (the ONNX file outputs the mask logits; apply a sigmoid for
the probability); weights are stored as float16 constants followed by Cast nodes (the
original weights are float16, so values are identical); internal tensor names are
renumbered. Parity with the original .tflite files is recorded in each model's JSON.
Reproduce with:

    python -m models.convert.convert_mediapipe
"""
