"""Parity of the converted MediaPipe models with their .tflite originals.

Used at build time by :mod:`models.convert.convert_mediapipe` (inside the conversion
venv, where TensorFlow is) and, for the input builders and stored references only, by
the tests (no TensorFlow: every TensorFlow import is inside a function).

Two kinds of input, on purpose:

* **real photos** (``bus.jpg``, ``zidane.jpg`` from the ultralytics 8.4.190 wheel, the
  photos the visual-labeler tests use), fed the way thermorig feeds them: the
  letterboxed frame for the detector, the rotated person crop the labeler builds for
  the landmark model, the stretched frame for selfie_segmentation. These are what the
  models see in use, and where the tolerance (landmarks 0.01 px, masks 1e-3 after the
  sigmoid, at every pixel) must hold.
* **synthetic images** (a fixed pattern and three seeded smooth random images): no
  photo needed, but far from what the networks were trained on. There the landmark
  model's mask logits reach ±1600 and come out of cancelling sums of large terms, so
  float32 rounding order alone moves the worst pixel by a few 1e-3 after the sigmoid —
  TFLite's own XNNPACK and reference kernels differ from its built-in kernels by that
  much. On these inputs the ONNX file must stay within that spread (and within 1e-3
  where the spread is smaller).

The photo inputs are built here in float64 numpy (:func:`warp_bilinear`), not with
OpenCV: the stored references must test the model, and OpenCV's fixed-point resampling
changes in its last bit between releases (5.0 → 5.1 did). The labeler keeps using
OpenCV at run time; parity needs only an input like the ones it makes, the same bytes
on every machine. What remains machine-dependent is the JPEG decoder: the references
store a sha256 of each decoded photo, so a test can tell "the decoder changed" from
"the model changed".
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import cv2
import numpy as np

LANDMARK_TOL_PX = 0.01
MASK_TOL = 1e-3
#: The photos: inside this wheel, fetched with ``pip download --no-deps``.
PHOTO_WHEEL = "ultralytics==8.4.190"
PHOTOS = ("bus.jpg", "zidane.jpg")
CROP_SIZE = 256
SELFIE_SIZE = 256
#: Probabilities are stored as uint16 fixed point (error ≤ 7.7e-6, < 1 % of MASK_TOL).
_FIXED = 65535.0


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic (no overflow for large negative logits)."""
    x = np.asarray(x, np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def to_fixed(p: np.ndarray) -> np.ndarray:
    return np.round(np.clip(p, 0, 1) * _FIXED).astype(np.uint16)


def from_fixed(q: np.ndarray) -> np.ndarray:
    return q.astype(np.float64) / _FIXED


def digest(a: np.ndarray) -> str:
    """sha256 of an input image's bytes: the tests check they rebuilt the same input."""
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# ------------------------------------------------------------------------- inputs


def parity_pattern(height: int, width: int, scale: float = 1.0) -> np.ndarray:
    """(1, H, W, 3) float32 test image in [0, 1]: smooth stripes and blobs, the same on
    every machine (no random generator), so stored reference outputs stay valid."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 0.5 + 0.5 * np.sin(2 * np.pi * x / 37.0 + y / 23.0)
    g = 0.5 + 0.5 * np.cos(2 * np.pi * y / 29.0 - x / 41.0)
    b = np.exp(-(((x - width / 2) / (width / 4)) ** 2 + ((y - height / 3) / (height / 5)) ** 2))
    img = np.stack([r, g, b], axis=-1)[None].astype(np.float32)
    return img * np.float32(scale)


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


def synthetic_inputs(size: int, signed: bool) -> list[np.ndarray]:
    """The pattern and three seeded smooth random images, in the model's value range."""
    rng = np.random.default_rng(20250131)
    imgs = [parity_pattern(size, size)] + [smooth_random(rng, size) for _ in range(3)]
    return [i * 2 - 1 if signed else i for i in imgs]


def read_photo(wheel: Path, name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB photo straight out of the wheel (a zip), decoded by OpenCV's
    bundled libjpeg-turbo (accurate integer IDCT: stable across releases, but not
    promised; the references pin its output with a sha256, :func:`digest`)."""
    with zipfile.ZipFile(wheel) as z:
        data = np.frombuffer(z.read(f"ultralytics/assets/{name}"), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _inverse(m: np.ndarray) -> tuple[float, ...]:
    """The 2×3 affine ``m`` inverted in closed form (Python floats: IEEE double, no
    library whose summation order could vary)."""
    (a, b, c), (d, e, f) = (tuple(float(v) for v in row) for row in np.asarray(m))
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f)


def warp_bilinear(img: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, C) uint8: ``img`` (H, W, C) uint8 through the 2×3 affine ``m`` (source
    pixels → output pixels, pixel centres at integers: OpenCV's convention), ``size``
    = (w, h); bilinear, 0 outside the source (as ``cv2.warpAffine(img, m, size,
    flags=INTER_LINEAR, borderMode=BORDER_CONSTANT)``, up to OpenCV's 1/32-pixel
    fixed-point weights).

    Why not OpenCV: the parity references store these inputs' digests, so they must be
    the same bytes on every machine and every OpenCV. Every step is an elementwise
    IEEE-754 double operation (no reduction, no BLAS, no fused multiply-add), so the
    result is exact-rounding deterministic. Rounding to uint8 is explicit: round half
    up, ``floor(v + 0.5)``, clipped to [0, 255].
    """
    ia, ib, ic, id_, ie, if_ = _inverse(m)
    w, h = size
    x = np.arange(w, dtype=np.float64)[None, :]
    y = np.arange(h, dtype=np.float64)[:, None]
    sx, sy = (ia * x + ib * y) + ic, (id_ * x + ie * y) + if_
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    # A 1-pixel zero border; indices clipped onto it read 0, as BORDER_CONSTANT does.
    pad = np.pad(img.astype(np.float64), ((1, 1), (1, 1), (0, 0)))
    hi_y, hi_x = img.shape[0], img.shape[1]
    cx0 = np.clip(x0, -1, hi_x).astype(np.intp) + 1
    cx1 = np.clip(x0 + 1, -1, hi_x).astype(np.intp) + 1
    cy0 = np.clip(y0, -1, hi_y).astype(np.intp) + 1
    cy1 = np.clip(y0 + 1, -1, hi_y).astype(np.intp) + 1
    top = pad[cy0, cx0] * (1.0 - fx) + pad[cy0, cx1] * fx
    bottom = pad[cy1, cx0] * (1.0 - fx) + pad[cy1, cx1] * fx
    v = top * (1.0 - fy) + bottom * fy
    return np.clip(np.floor(v + 0.5), 0, 255).astype(np.uint8)


def letterboxed(rgb: np.ndarray, size: int = 224) -> np.ndarray:
    """(size, size, 3) uint8: the frame letterboxed with the visual labeler's own
    transform, for the detector (the labeler resamples with OpenCV; this, for parity,
    with :func:`warp_bilinear`)."""
    from models.visual_labeler import _letterbox

    h, w = rgb.shape[:2]
    return warp_bilinear(rgb, _letterbox(w, h, size), (size, size))


def person_crop(rgb: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(256, 256, 3) uint8 rotated person crop for the crop transform ``m`` (2×3), the
    crop :meth:`MediaPipeVisualLabeler.landmarks` makes, resampled by
    :func:`warp_bilinear`."""
    return warp_bilinear(rgb, m, (CROP_SIZE, CROP_SIZE))


def stretch(frame_w: int, frame_h: int, width: int, height: int) -> np.ndarray:
    """2×3 affine frame pixels → (width, height) pixels of the whole frame, aspect not
    kept, pixel centres aligned."""
    sx, sy = width / frame_w, height / frame_h
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]], np.float64)


def selfie_frame(rgb: np.ndarray) -> np.ndarray:
    """(256, 256, 3) uint8: the whole frame stretched to the input, bilinear, as
    MediaPipe's selfie graph does (ImageToTensor, keep_aspect_ratio false; its OpenCV
    converter samples with INTER_LINEAR)."""
    h, w = rgb.shape[:2]
    return warp_bilinear(rgb, stretch(w, h, SELFIE_SIZE, SELFIE_SIZE), (SELFIE_SIZE, SELFIE_SIZE))


def unit(img_u8: np.ndarray) -> np.ndarray:
    """uint8 image → (1, H, W, 3) float32 in [0, 1]."""
    return (img_u8.astype(np.float32) / 255.0)[None]


# ---------------------------------------------------------------------------- runs

#: TFLite kernel sets: the built-in optimised kernels are the reference; XNNPACK (the
#: default delegate, what MediaPipe runs) and the reference kernels measure how far
#: TFLite's own implementations of the same model already differ.
RESOLVERS = ("builtin", "xnnpack", "reference")


def tflite_run(path: Path, image: np.ndarray, kernels: str = "builtin") -> dict[str, np.ndarray]:
    """Outputs of the .tflite for one NHWC image, by output tensor name."""
    import tensorflow as tf

    kinds = tf.lite.experimental.OpResolverType
    kw = {
        "builtin": {"experimental_op_resolver_type": kinds.BUILTIN_WITHOUT_DEFAULT_DELEGATES},
        "reference": {"experimental_op_resolver_type": kinds.BUILTIN_REF},
        "xnnpack": {},
    }[kernels]
    interp = tf.lite.Interpreter(model_path=str(path), **kw)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], image.astype(np.float32))
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()}


def onnx_run(path: Path, image: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs of the ONNX file in onnxruntime, opened as thermorig opens it."""
    from models.package import open_session

    sess = open_session(path, 1)
    outs = sess.run(None, {sess.get_inputs()[0].name: image.astype(np.float32)})
    return {o.name: v for o, v in zip(sess.get_outputs(), outs, strict=True)}


def _max(figs: dict[str, float], key: str, value: float) -> None:
    figs[key] = max(figs.get(key, 0.0), float(value))


# -------------------------------------------------------------------------- models


def detector_parity(tfl: Path, onx: Path, photos: dict[str, np.ndarray]):
    """(figures, reference arrays, passed): boxes in input pixels and score logits."""
    figs: dict[str, float] = {}
    ref: dict[str, np.ndarray] = {}
    inputs = [("pattern", x) for x in synthetic_inputs(224, signed=True)[:1]]
    inputs += [("synthetic", x) for x in synthetic_inputs(224, signed=True)[1:]]
    for name, rgb in photos.items():
        lb = letterboxed(rgb)
        ref[f"{name}_input_sha256"] = np.array(digest(lb))
        inputs.append((name, (lb.astype(np.float32) / 127.5 - 1.0)[None]))
    for name, x in inputs:
        a, b = tflite_run(tfl, x), onnx_run(onx, x)
        _max(figs, "boxes_px", np.abs(a["Identity"] - b["Identity"]).max())
        _max(figs, "score_logits", np.abs(a["Identity_1"] - b["Identity_1"]).max())
        if name != "synthetic":
            scores = a["Identity_1"].reshape(-1)
            top = np.argsort(-scores)[:16]
            ref[f"{name}_score_logits"] = scores.astype(np.float32)
            ref[f"{name}_top_index"] = top.astype(np.int32)
            ref[f"{name}_top_boxes"] = a["Identity"].reshape(-1, 12)[top].astype(np.float32)
    ok = figs["boxes_px"] <= LANDMARK_TOL_PX
    return figs, ref, ok


def landmark_parity(tfl: Path, onx: Path, crops: dict[str, tuple[np.ndarray, np.ndarray]]):
    """(figures, reference arrays, passed) for the landmark model.

    ``crops``: photo name → (crop transform, uint8 person crop)."""
    figs: dict[str, float] = {}
    ref: dict[str, np.ndarray] = {}
    inputs = [("pattern", x) for x in synthetic_inputs(CROP_SIZE, signed=False)[:1]]
    inputs += [("synthetic", x) for x in synthetic_inputs(CROP_SIZE, signed=False)[1:]]
    for name, (m, crop) in crops.items():
        ref[f"{name}_crop_matrix"] = m.astype(np.float64)
        ref[f"{name}_input_sha256"] = np.array(digest(crop))
        inputs.append((name, unit(crop)))
    ok = True
    for name, x in inputs:
        group = "synthetic" if name in ("pattern", "synthetic") else "photos"
        runs = {k: tflite_run(tfl, x, k) for k in RESOLVERS}
        a, b = runs["builtin"], onnx_run(onx, x)
        la, lb = a["Identity"].reshape(39, 5), b["Identity"].reshape(39, 5)
        _max(figs, "landmarks_px", np.abs(la[:, :3] - lb[:, :3]).max())
        _max(figs, "pose_presence", np.abs(a["Identity_1"] - b["Identity_1"]).max())
        _max(figs, "world_m", np.abs(a["Identity_4"] - b["Identity_4"]).max())
        ma = sigmoid(a["Identity_2"])[0, :, :, 0]
        diff = np.abs(ma - sigmoid(b["Identity_2"])[0, :, :, 0])
        spread = max(
            np.abs(sigmoid(runs[k]["Identity_2"])[0, :, :, 0] - ma).max() for k in RESOLVERS[1:]
        )
        _max(figs, f"mask_sigmoid_max_{group}", diff.max())
        _max(figs, f"mask_sigmoid_p999_{group}", np.quantile(diff, 0.999))
        _max(figs, f"tflite_kernel_spread_mask_max_{group}", spread)
        limit = MASK_TOL if group == "photos" else max(MASK_TOL, spread)
        ok &= bool(diff.max() <= limit)
        if name != "synthetic":
            ref[f"{name}_landmarks"] = la.astype(np.float32)
            ref[f"{name}_pose_presence"] = a["Identity_1"].reshape(-1).astype(np.float32)
            ref[f"{name}_mask_sigmoid"] = to_fixed(ma)
            ref[f"{name}_tflite_kernel_spread"] = np.float32(spread)
    ok &= figs["landmarks_px"] <= LANDMARK_TOL_PX
    return figs, ref, ok


def selfie_parity(tfl: Path, onx: Path, split_reference, photos: dict[str, np.ndarray]):
    """(figures, reference arrays, passed) for selfie_segmentation.

    Two references, since TFLite's built-in kernels cannot run the custom op: the
    whole .tflite through XNNPACK (which implements MediaPipe's op, as MediaPipe runs
    it), and ``split_reference(image)``: the graph up to the op on the built-in
    kernels, the op itself in float64 numpy. The ONNX output is the mask logit; both
    comparisons are after the sigmoid, and both must hold at every pixel."""
    figs: dict[str, float] = {}
    ref: dict[str, np.ndarray] = {}
    inputs = [("pattern", x) for x in synthetic_inputs(SELFIE_SIZE, signed=False)[:1]]
    inputs += [("synthetic", x) for x in synthetic_inputs(SELFIE_SIZE, signed=False)[1:]]
    for name, rgb in photos.items():
        frame = selfie_frame(rgb)
        ref[f"{name}_input_sha256"] = np.array(digest(frame))
        inputs.append((name, unit(frame)))
    for name, x in inputs:
        xnn = next(iter(tflite_run(tfl, x, "xnnpack").values()))[0, :, :, 0].astype(np.float64)
        split = sigmoid(split_reference(x))[0, :, :, 0]
        ours = sigmoid(next(iter(onnx_run(onx, x).values())))[0, :, :, 0]
        _max(figs, "mask_sigmoid_max_vs_xnnpack", np.abs(ours - xnn).max())
        _max(figs, "mask_sigmoid_max_vs_split_reference", np.abs(ours - split).max())
        _max(figs, "xnnpack_vs_split_reference_max", np.abs(xnn - split).max())
        if name != "synthetic":
            ref[f"{name}_mask_sigmoid"] = to_fixed(xnn)
    ok = max(figs["mask_sigmoid_max_vs_xnnpack"], figs["mask_sigmoid_max_vs_split_reference"])
    return figs, ref, ok <= MASK_TOL
