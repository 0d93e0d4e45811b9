"""Convert MediaPipe's pose models (.tflite, Apache-2.0) to the ONNX files thermorig ships.

Run at build time, never at run time::

    python -m models.convert.convert_mediapipe            # or: python models/convert/...

The script makes a throwaway virtual environment (``/tmp/convert-venv`` unless
``--venv`` says otherwise) with TensorFlow and tf2onnx, and re-runs itself inside it:
thermorig itself depends on neither — the app runs the ONNX files in onnxruntime. Inside
it:

1. downloads the ``mediapipe==0.10.21`` wheel with ``pip download --no-deps`` and takes
   the .tflite files and the licence text out of it (a wheel is a zip);
2. densifies ``pose_detection.tflite``: its weights are stored sparse and expanded by
   ``DENSIFY`` ops, which tf2onnx cannot read; the TFLite interpreter computes the dense
   tensors and the flatbuffer is rewritten with them as plain constants;
3. converts with tf2onnx (opset 13) and stores the weights as float16 constants followed
   by a ``Cast`` (the .tflite weights *are* float16, so this is exact and halves the
   file);
4. checks parity: the same inputs through the original .tflite (TFLite interpreter) and
   the ONNX file (onnxruntime); fails when landmarks differ by more than 0.01 px or
   masks by more than 1e-3 after the sigmoid, and writes the figures into each model's
   JSON and small reference outputs into ``tests/data/mediapipe_*.npz`` (so the tests
   check parity without TensorFlow).

The parity inputs are a deterministic pattern (:func:`parity_pattern`, also used by the
tests) and a few seeded random images.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

MEDIAPIPE_VERSION = "0.10.21"
CONVERT_REQUIREMENTS = ("tensorflow-cpu==2.21.0", "tf2onnx==1.17.0", "onnxruntime>=1.16")
OPSET = 13
ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "resources" / "models" / "mediapipe"
TEST_DATA = ROOT / "tests" / "data"

#: name -> path of the .tflite inside the wheel.
MODELS = {
    "pose_detection": "mediapipe/modules/pose_detection/pose_detection.tflite",
    "pose_landmark_full": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
}
LICENSE_IN_WHEEL = f"mediapipe-{MEDIAPIPE_VERSION}.dist-info/LICENSE"

LANDMARK_TOL_PX = 0.01
MASK_TOL = 1e-3


def parity_pattern(height: int, width: int, scale: float = 1.0) -> np.ndarray:
    """(1, H, W, 3) float32 test image in [0, 1]: smooth stripes and blobs, the same on
    every machine (no random generator), so stored reference outputs stay valid."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 0.5 + 0.5 * np.sin(2 * np.pi * x / 37.0 + y / 23.0)
    g = 0.5 + 0.5 * np.cos(2 * np.pi * y / 29.0 - x / 41.0)
    b = np.exp(-(((x - width / 2) / (width / 4)) ** 2 + ((y - height / 3) / (height / 5)) ** 2))
    img = np.stack([r, g, b], axis=-1)[None].astype(np.float32)
    return img * np.float32(scale)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic (no overflow for large negative logits)."""
    x = np.asarray(x, np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# --------------------------------------------------------------------- environment


def ensure_venv(venv: Path) -> Path:
    """The throwaway venv's python, created and filled on first use."""
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run(
        [str(py), "-c", "import tensorflow, tf2onnx, onnxruntime"], capture_output=True
    )
    if probe.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", *CONVERT_REQUIREMENTS], check=True)
    return py


def fetch_wheel(work: Path) -> Path:
    """Download the mediapipe wheel (no dependencies) into ``work``; its path."""
    work.mkdir(parents=True, exist_ok=True)
    found = sorted(work.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"mediapipe=={MEDIAPIPE_VERSION}",
                "--no-deps",
                "-d",
                str(work),
            ],
            check=True,
        )
        found = sorted(work.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
    if not found:
        raise SystemExit(f"pip download left no mediapipe {MEDIAPIPE_VERSION} wheel in {work}")
    return found[0]


def extract(wheel: Path, work: Path) -> dict[str, Path]:
    """The .tflite files and the licence out of the wheel."""
    out: dict[str, Path] = {}
    with zipfile.ZipFile(wheel) as z:
        for name, member in MODELS.items():
            out[name] = Path(z.extract(member, work))
        out["LICENSE"] = Path(z.extract(LICENSE_IN_WHEEL, work))
    return out


# ----------------------------------------------------------------------- TFLite side


def tflite_run(path: Path, image: np.ndarray, xnnpack: bool = False) -> dict[str, np.ndarray]:
    """Outputs of the .tflite for one NHWC image, by output tensor name.

    The reference is TFLite's built-in float kernels; ``xnnpack`` runs the default CPU
    delegate instead (what MediaPipe uses), to measure how far two TFLite runs of the
    same model already differ.
    """
    import tensorflow as tf

    kw = (
        {}
        if xnnpack
        else {
            "experimental_op_resolver_type": tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        }
    )
    interp = tf.lite.Interpreter(model_path=str(path), **kw)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], image.astype(np.float32))
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()}


def densify(src: Path, dst: Path) -> int:
    """Rewrite ``src`` with every DENSIFY op replaced by its dense constant output.

    The interpreter (without delegates, keeping all tensors) computes what each DENSIFY
    produces; those values become the output tensor's buffer and the op is dropped. The
    sparse input tensor loses its buffer and sparsity so no reader trips on it.
    Returns the number of ops removed.
    """
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(src))
    interp = tf.lite.Interpreter(
        model_path=str(src),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
    interp.invoke()
    sg = model.subgraphs[0]
    kept, removed = [], 0
    for op in sg.operators:
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin != schema.BuiltinOperator.DENSIFY:
            kept.append(op)
            continue
        out_idx, in_idx = int(op.outputs[0]), int(op.inputs[0])
        dense = interp.get_tensor(out_idx)
        buf = schema.BufferT()
        buf.data = np.frombuffer(np.ascontiguousarray(dense).tobytes(), np.uint8)
        model.buffers.append(buf)
        sg.tensors[out_idx].buffer = len(model.buffers) - 1
        sg.tensors[in_idx].buffer = 0
        sg.tensors[in_idx].sparsity = None
        removed += 1
    sg.operators = kept
    flatbuffer_utils.write_model(model, str(dst))
    return removed


# ------------------------------------------------------------------------- ONNX side


def to_onnx(tflite: Path, dst: Path) -> None:
    import tf2onnx

    tf2onnx.convert.from_tflite(str(tflite), opset=OPSET, output_path=str(dst))


def compact_float16(path: Path) -> int:
    """Store float32 weights that are exactly float16 values as float16 + Cast.

    The .tflite keeps its weights in float16 and dequantizes them at load; tf2onnx
    writes them back as float32, doubling the file. Casting them at load in onnxruntime
    restores the original size with bit-identical values. Returns how many were
    compacted.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    new_inits, casts, n = [], [], 0
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        if (
            arr.dtype == np.float32
            and arr.size >= 64
            and np.array_equal(arr.astype(np.float16).astype(np.float32), arr)
        ):
            half = numpy_helper.from_array(arr.astype(np.float16), init.name + "__f16")
            new_inits.append(half)
            casts.append(
                helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT)
            )
            n += 1
        else:
            new_inits.append(init)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return n


def onnx_run(path: Path, image: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = sess.run(None, {name: image.astype(np.float32)})
    return {o.name: v for o, v in zip(sess.get_outputs(), outs, strict=True)}


# -------------------------------------------------------------------------- parity


def smooth_random(rng: np.random.Generator, size: int) -> np.ndarray:
    """(1, size, size, 3) image in [0, 1] of six random low-frequency waves per channel:
    image-like (smooth, full range), unlike white noise, which no camera produces."""
    y, x = np.mgrid[0:size, 0:size] / float(size)
    chans = []
    for _ in range(3):
        v = np.zeros((size, size))
        for t in rng.uniform(0, np.pi, 6):
            fx, fy, ph = rng.uniform(0.5, 4), rng.uniform(0.5, 4), rng.uniform(0, 6)
            v += np.sin(2 * np.pi * (fx * x * np.cos(t) + fy * y * np.sin(t)) + ph)
        chans.append((v - v.min()) / (v.max() - v.min()))
    return np.stack(chans, -1)[None].astype(np.float32)


def parity_inputs(size: int, signed: bool) -> list[np.ndarray]:
    """The pattern and three seeded smooth random images, in the model's value range."""
    rng = np.random.default_rng(20250131)
    imgs = [parity_pattern(size, size)] + [smooth_random(rng, size) for _ in range(3)]
    return [i * 2 - 1 if signed else i for i in imgs]


def landmark_parity(tfl: Path, onx: Path) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    worst = {
        "landmarks_px": 0.0,
        "pose_presence": 0.0,
        "mask_sigmoid_max": 0.0,
        "mask_sigmoid_p999": 0.0,
        "world_m": 0.0,
        "tflite_xnnpack_vs_ref_mask_max": 0.0,
    }
    ref: dict[str, np.ndarray] = {}
    for i, img in enumerate(parity_inputs(256, signed=False)):
        a, b = tflite_run(tfl, img), onnx_run(onx, img)
        x = sigmoid(tflite_run(tfl, img, xnnpack=True)["Identity_2"])
        la, lb = a["Identity"].reshape(39, 5), b["Identity"].reshape(39, 5)
        worst["landmarks_px"] = max(
            worst["landmarks_px"], float(np.abs(la[:, :3] - lb[:, :3]).max())
        )
        worst["pose_presence"] = max(
            worst["pose_presence"], float(np.abs(a["Identity_1"] - b["Identity_1"]).max())
        )
        ma, mb = sigmoid(a["Identity_2"]), sigmoid(b["Identity_2"])
        diff = np.abs(ma - mb)
        worst["mask_sigmoid_max"] = max(worst["mask_sigmoid_max"], float(diff.max()))
        worst["mask_sigmoid_p999"] = max(
            worst["mask_sigmoid_p999"], float(np.quantile(diff, 0.999))
        )
        worst["tflite_xnnpack_vs_ref_mask_max"] = max(
            worst["tflite_xnnpack_vs_ref_mask_max"], float(np.abs(x - ma).max())
        )
        worst["world_m"] = max(
            worst["world_m"], float(np.abs(a["Identity_4"] - b["Identity_4"]).max())
        )
        if i == 0:
            ref = {
                "landmarks": a["Identity"].reshape(39, 5).astype(np.float32),
                "pose_presence": a["Identity_1"].reshape(-1).astype(np.float32),
                "mask_sigmoid_every8": ma[0, ::8, ::8, 0].astype(np.float32),
            }
    return worst, ref


def detector_parity(tfl: Path, onx: Path) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    worst = {"boxes_px": 0.0, "score_logits": 0.0}
    ref: dict[str, np.ndarray] = {}
    for i, img in enumerate(parity_inputs(224, signed=True)):
        a, b = tflite_run(tfl, img), onnx_run(onx, img)
        worst["boxes_px"] = max(
            worst["boxes_px"], float(np.abs(a["Identity"] - b["Identity"]).max())
        )
        worst["score_logits"] = max(
            worst["score_logits"], float(np.abs(a["Identity_1"] - b["Identity_1"]).max())
        )
        if i == 0:
            scores = a["Identity_1"].reshape(-1)
            top = np.argsort(-scores)[:16]
            ref = {
                "score_logits": scores.astype(np.float32),
                "top_index": top.astype(np.int32),
                "top_boxes": a["Identity"].reshape(-1, 12)[top].astype(np.float32),
            }
    return worst, ref


# -------------------------------------------------------------------------- outputs


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(name: str, tflite: Path, parity: dict[str, float], densified: int) -> dict:
    """The model's JSON (format thermorig-model): what it is, how it reads, where from."""
    import onnxruntime
    import tensorflow
    import tf2onnx

    from_mp = {
        "source": f"PyPI wheel mediapipe=={MEDIAPIPE_VERSION}, {MODELS[name]}",
        "source_sha256": sha256(tflite),
        "licence": "Apache-2.0 (LICENSE-mediapipe.txt beside this file)",
        "converted_with": (
            f"models/convert/convert_mediapipe.py: tf2onnx {tf2onnx.__version__} (opset {OPSET}),"
            f" tensorflow {tensorflow.__version__}; weights stored as float16 + Cast"
            + (f"; {densified} DENSIFY ops replaced by their dense constants" if densified else "")
        ),
        "parity": {
            "against": f"the .tflite in the TFLite interpreter (tensorflow {tensorflow.__version__}),"
            f" onnxruntime {onnxruntime.__version__}, 4 inputs (pattern + 3 smooth random), max abs difference (p999: 99.9th percentile over pixels)",
            **{k: float(f"{v:.3g}") for k, v in parity.items()},
        },
    }
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
            "input": {
                "stream": "color",
                "name": "input_1",
                "size": [256, 256],
                "representation": "rgb",
                "resize": "stretch",
                "normalization": {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
            },
            "output": {"name": "Identity_2", "kind": "logits"},
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
            "stream": "color",
            "name": "input_1",
            "size": [224, 224],
            "representation": "rgb",
            "resize": "letterbox",
            "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        },
        "output": {"name": "Identity_1", "kind": "logits"},
    }


NOTICE = f"""MediaPipe pose models converted to ONNX for thermorig
=====================================================

pose_detection.onnx and pose_landmark_full.onnx are converted from the TensorFlow Lite
models of Google's MediaPipe ({MODELS["pose_detection"]} and
{MODELS["pose_landmark_full"]}), taken unchanged from the PyPI wheel
mediapipe=={MEDIAPIPE_VERSION}, which is licensed under the Apache License 2.0
(LICENSE-mediapipe.txt, copied from that wheel's dist-info).

Modifications (Apache-2.0, section 4b): converted to ONNX (opset {OPSET}) with tf2onnx;
pose_detection's sparse weights were densified first (DENSIFY ops replaced by the dense
tensors they compute); weights are stored as float16 constants followed by Cast nodes
(the original weights are float16, so values are identical). Parity with the original
.tflite files is recorded in each model's JSON. Reproduce with:

    python -m models.convert.convert_mediapipe
"""


def convert(work: Path, out_dir: Path, test_data: Path) -> None:
    files = extract(fetch_wheel(work), work)
    out_dir.mkdir(parents=True, exist_ok=True)
    test_data.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        src = files[name]
        densified = 0
        to_convert = src
        if name == "pose_detection":
            to_convert = work / "pose_detection_dense.tflite"
            densified = densify(src, to_convert)
        onnx_path = out_dir / f"{name}.onnx"
        to_onnx(to_convert, onnx_path)
        compacted = compact_float16(onnx_path)
        if name == "pose_landmark_full":
            parity, ref = landmark_parity(src, onnx_path)
            bad = parity["landmarks_px"] > LANDMARK_TOL_PX or parity["mask_sigmoid_p999"] > MASK_TOL
        else:
            parity, ref = detector_parity(src, onnx_path)
            bad = parity["boxes_px"] > LANDMARK_TOL_PX
        print(
            f"{name}: {onnx_path.stat().st_size / 1e6:.2f} MB, {compacted} float16 weights,"
            f" parity {parity}"
        )
        if bad:
            raise SystemExit(f"{name}: ONNX differs from the .tflite beyond tolerance: {parity}")
        (out_dir / f"{name}.json").write_text(
            json.dumps(manifest(name, src, parity, densified), indent=2) + "\n", encoding="utf-8"
        )
        np.savez_compressed(test_data / f"mediapipe_{name}.npz", **ref)
    shutil.copyfile(files["LICENSE"], out_dir / "LICENSE-mediapipe.txt")
    (out_dir / "NOTICE.md").write_text(NOTICE, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--venv",
        type=Path,
        default=Path("/tmp/convert-venv"),
        help="throwaway venv with tensorflow + tf2onnx (made if missing)",
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/mediapipe-convert"),
        help="where the wheel is downloaded and unpacked",
    )
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--test-data", type=Path, default=TEST_DATA)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.inside:
        py = ensure_venv(args.venv)
        cmd = [
            str(py),
            str(Path(__file__).resolve()),
            "--inside",
            "--work",
            str(args.work),
            "--out",
            str(args.out),
            "--test-data",
            str(args.test_data),
        ]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
        raise SystemExit(subprocess.run(cmd, env=env).returncode)
    convert(args.work, args.out, args.test_data)


if __name__ == "__main__":
    main()
