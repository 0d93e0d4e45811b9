"""Convert MediaPipe's person models (.tflite, Apache-2.0) to the ONNX files thermorig ships.

Run at build time, never at run time::

    python -m models.convert.convert_mediapipe            # or: python models/convert/...

The script makes a throwaway virtual environment (``/tmp/convert-venv`` unless
``--venv`` says otherwise) with TensorFlow, tf2onnx and OpenCV, and re-runs itself
inside it: thermorig itself depends on neither TensorFlow nor tf2onnx — the app runs
the ONNX files in onnxruntime. Inside it:

1. downloads the ``mediapipe==0.10.21`` wheel with ``pip download --no-deps`` and takes
   the .tflite files and the licence text out of it (a wheel is a zip);
2. densifies ``pose_detection.tflite``: its weights are stored sparse and expanded by
   ``DENSIFY`` ops, which tf2onnx cannot read; the TFLite interpreter computes the dense
   tensors and the flatbuffer is rewritten with them as plain constants;
3. converts with tf2onnx; ``selfie_segmentation``'s custom op
   ``Convolution2DTransposeBias`` becomes an ONNX ``ConvTranspose`` with bias
   (:mod:`models.convert.tflite_tools`), and its final sigmoid is left to the runtime so
   that it outputs logits like the pose model's mask;
4. stores the weights as float16 constants followed by a ``Cast`` (the .tflite weights
   *are* float16, so this is exact and halves the file);
5. checks parity with the .tflite files (:mod:`models.convert.mediapipe_parity`): on
   real photos as thermorig feeds them, landmarks within 0.01 px and masks within 1e-3
   after the sigmoid at every pixel; writes the figures into each model's JSON and
   reference outputs into ``tests/data/mediapipe_*.npz`` (so the tests check parity
   without TensorFlow).

Everything is built in a staging folder and copied into place only when every model
passes, so a failed run leaves the shipped files as they were.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from drivers.atomic import atomic_path
from models.convert.mediapipe_manifest import (
    MEDIAPIPE_VERSION,
    MODELS,
    NOTICE,
    OPSET,
    manifest,
)
from models.convert.mediapipe_parity import PHOTO_WHEEL, PHOTOS

CONVERT_REQUIREMENTS = (
    "tensorflow-cpu==2.21.0",
    "tf2onnx==1.17.0",
    # Pinned, like OpenCV below, so that a rerun gives byte-identical files: the JSON
    # names the version, and the parity figures are measured with it.
    "onnxruntime==1.31.1",
    # OpenCV no longer builds the parity inputs (mediapipe_parity.warp_bilinear does,
    # in numpy), but it still decodes the JPEG photos (pinned by a sha256 in the
    # references) and runs the labeler's detector, which picks the stored crop transforms.
    "opencv-python-headless==5.0.0.93",
)
ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "resources" / "models" / "mediapipe"
TEST_DATA = ROOT / "tests" / "data"
TEST_WHEELS = ROOT / ".cache" / "test-wheels"

LICENSE_IN_WHEEL = f"mediapipe-{MEDIAPIPE_VERSION}.dist-info/LICENSE"


# --------------------------------------------------------------------- environment


def ensure_venv(venv: Path) -> Path:
    """The throwaway venv's python, created and filled on first use."""
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run(
        [str(py), "-c", "import tensorflow, tf2onnx, onnxruntime, cv2"], capture_output=True
    )
    if probe.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", *CONVERT_REQUIREMENTS], check=True)
    return py


def fetch_wheel(work: Path, requirement: str) -> Path:
    """Download one wheel (no dependencies, never installed) into ``work``; its path."""
    name, version = requirement.split("==")
    pattern = f"{name}-{version}-*.whl"
    work.mkdir(parents=True, exist_ok=True)
    found = sorted(work.glob(pattern)) or sorted(TEST_WHEELS.glob(pattern))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                requirement,
                "--no-deps",
                "-d",
                str(work),
            ],
            check=True,
        )
        found = sorted(work.glob(pattern))
    if not found:
        raise SystemExit(f"pip download left no {requirement} wheel in {work}")
    return found[0]


def extract(wheel: Path, work: Path) -> dict[str, Path]:
    """The .tflite files and the licence out of the wheel."""
    out: dict[str, Path] = {}
    with zipfile.ZipFile(wheel) as z:
        for name, member in MODELS.items():
            out[name] = Path(z.extract(member, work))
        out["LICENSE"] = Path(z.extract(LICENSE_IN_WHEEL, work))
    return out


# ------------------------------------------------------------------------- ONNX side


def to_onnx(name: str, tflite: Path, dst: Path) -> None:
    import tf2onnx

    from models.convert.tflite_tools import (
        TRANSPOSE_CONV_BIAS,
        custom_op_options,
        transpose_conv_handler,
    )

    handlers = {}
    options = custom_op_options(tflite, TRANSPOSE_CONV_BIAS)
    if options:
        handlers["TFL_" + TRANSPOSE_CONV_BIAS] = (transpose_conv_handler(options), [])
    tf2onnx.convert.from_tflite(
        str(tflite), opset=OPSET[name], custom_op_handlers=handlers, output_path=str(dst)
    )


def split_reference(tflite: Path, work: Path):
    """selfie_segmentation's reference without its custom op in TFLite: the graph up to
    ``Convolution2DTransposeBias`` on TFLite's built-in kernels, the op in float64
    numpy from the op's definition (:func:`tflite_tools.transpose_conv_reference`).
    Returns image → logits."""
    from models.convert.mediapipe_parity import tflite_run
    from models.convert.tflite_tools import (
        TRANSPOSE_CONV_BIAS,
        constant,
        custom_op_inputs,
        custom_op_options,
        transpose_conv_params,
        transpose_conv_reference,
        truncate_before_custom_op,
    )

    head = work / f"{tflite.stem}_before_custom_op.tflite"
    feed = truncate_before_custom_op(tflite, head, TRANSPOSE_CONV_BIAS)
    _, kernel, bias = custom_op_inputs(tflite, TRANSPOSE_CONV_BIAS)
    w, b = constant(tflite, kernel), constant(tflite, bias)
    (params,) = (
        transpose_conv_params(o) for o in custom_op_options(tflite, TRANSPOSE_CONV_BIAS).values()
    )

    def run(image: np.ndarray) -> np.ndarray:
        return transpose_conv_reference(tflite_run(head, image)[feed], w, b, params)

    return run


# -------------------------------------------------------------------------- outputs


def _stage(files: dict[str, Path], work: Path, stage: Path) -> dict[str, str]:
    """Convert every model into ``stage``; the notes each JSON's provenance adds."""
    from models.convert.onnx_tools import canonical_names, compact_float16, drop_final_sigmoid
    from models.convert.tflite_tools import densify

    notes: dict[str, str] = {}
    for name in MODELS:
        src, notes[name] = files[name], ""
        if name == "pose_detection":
            src = work / "pose_detection_dense.tflite"
            notes[name] = (
                f"; {densify(files[name], src)} DENSIFY ops replaced by their dense constants"
            )
        onnx_path = stage / f"{name}.onnx"
        to_onnx(name, src, onnx_path)
        if name == "selfie_segmentation":
            drop_final_sigmoid(onnx_path, "mask_logits")
            notes[name] = (
                "; custom op Convolution2DTransposeBias as ConvTranspose + bias; final sigmoid"
                " left to the runtime (output: logits)"
            )
        compacted = compact_float16(onnx_path)
        canonical_names(onnx_path)
        print(f"{name}: {onnx_path.stat().st_size / 1e6:.2f} MB, {compacted} float16 weights")
        # A first JSON without figures: the visual labeler needs one to make the crops.
        (stage / f"{name}.json").write_text(
            json.dumps(manifest(name, files[name], {}, notes[name]), indent=2) + "\n", "utf-8"
        )
    return notes


def _parity(files: dict[str, Path], work: Path, stage: Path):
    """Figures, reference arrays and verdict per model, all measured on the staged files."""
    from models.convert.mediapipe_parity import (
        detector_parity,
        digest,
        landmark_parity,
        person_crop,
        read_photo,
        selfie_parity,
    )
    from models.visual_labeler import MediaPipeVisualLabeler

    wheel = fetch_wheel(work, PHOTO_WHEEL)
    photos = {Path(p).stem: read_photo(wheel, p) for p in PHOTOS}
    labeler = MediaPipeVisualLabeler(stage, threads=1)
    crops = {}
    for name, rgb in photos.items():
        found = labeler.detect(rgb)
        if found is None:
            raise SystemExit(f"the converted detector finds nobody in {name}")
        m = labeler.crop_transform(found[1][0], found[1][1])
        crops[name] = (m, person_crop(rgb, m))
    results = {
        "pose_detection": detector_parity(
            files["pose_detection"], stage / "pose_detection.onnx", photos
        ),
        "pose_landmark_full": landmark_parity(
            files["pose_landmark_full"], stage / "pose_landmark_full.onnx", crops
        ),
        "selfie_segmentation": selfie_parity(
            files["selfie_segmentation"],
            stage / "selfie_segmentation.onnx",
            split_reference(files["selfie_segmentation"], work),
            photos,
        ),
    }
    # The decoded photos' digests: a test that rebuilds an input from another decoder's
    # pixels then says so, instead of blaming the model.
    for _, ref, _ in results.values():
        ref.update({f"{k}_photo_sha256": np.array(digest(rgb)) for k, rgb in photos.items()})
    return results


def _publish(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def convert(work: Path, out_dir: Path, test_data: Path) -> None:
    files = extract(fetch_wheel(work, f"mediapipe=={MEDIAPIPE_VERSION}"), work)
    stage = work / "staged"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    notes = _stage(files, work, stage)
    results = _parity(files, work, stage)
    for name, (figs, _, ok) in results.items():
        print(f"{name}: {'ok' if ok else 'FAILED'} {figs}")
    failed = [name for name, (_, _, ok) in results.items() if not ok]
    if failed:
        raise SystemExit(f"ONNX differs from the .tflite beyond tolerance: {', '.join(failed)}")
    for name, (figs, ref, _) in results.items():
        (stage / f"{name}.json").write_text(
            json.dumps(manifest(name, files[name], figs, notes[name]), indent=2) + "\n", "utf-8"
        )
        np.savez_compressed(stage / f"mediapipe_{name}.npz", **ref)
    shutil.copyfile(files["LICENSE"], stage / "LICENSE-mediapipe.txt")
    (stage / "NOTICE.md").write_text(NOTICE, encoding="utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    test_data.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        _publish(stage / f"{name}.onnx", out_dir / f"{name}.onnx")
        _publish(stage / f"{name}.json", out_dir / f"{name}.json")
        _publish(stage / f"mediapipe_{name}.npz", test_data / f"mediapipe_{name}.npz")
    for extra in ("LICENSE-mediapipe.txt", "NOTICE.md"):
        _publish(stage / extra, out_dir / extra)


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
        help="where the wheels are downloaded and unpacked and the files staged",
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
