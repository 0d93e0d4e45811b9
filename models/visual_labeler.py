"""RGB visual labeler from MediaPipe's pose models: calf masks and leg keypoints.

Two ONNX networks (converted by :mod:`models.convert.convert_mediapipe`), run the way
MediaPipe's pose pipeline runs them:

1. **Detector** on the frame letterboxed to 224×224: the best person box with two
   keypoints, the hip centre (0) and a point above it that sets scale and rotation (1).
2. **Landmarks** on a rotated square crop centred on the hip centre, side 2.5 × the
   distance between the two keypoints, turned so that keypoint 1 points up — so a
   leaning cyclist reaches the network upright: 39 landmarks, a pose-presence score
   and a person mask.
3. **Calves**: per side, the person mask inside the band around the knee–ankle segment
   (the subject's own left/right: MediaPipe's "left" landmarks are the subject's left).

**Tracking** (``track=True``, the live preview's choice): like MediaPipe's own pose
pipeline, a frame after a confident one skips the detector and takes its crop from the
previous landmarks (the two auxiliary landmarks 33 and 34 are the detector's two
keypoints, as the landmark network sees them); the detector runs again only when the
pose presence drops (tracking lost). On a 1280x720 frame that saves the detector's
~30 of ~90 ms. Offline labeling (autolabel) detects on every frame: its frames are
labeled independently of each other, so the result never depends on their order.

Legs are only reported where the model is confident: pose presence, then per leg its
knee and ankle inside the frame and present, and the leg's visibility — the mean of its
knee, ankle and heel visibilities — at least the threshold. An upper-body image still
yields plausible-looking legs from the network, placed below the frame or guessed; those
fail the gate, and the labeler says "no confident legs" instead of labeling wrong pixels.

Why the leg, not each landmark, is gated on visibility: a single landmark's visibility is
a noisy regression output. On ``bus.jpg`` the man's left knee scored 0.495 with OpenCV
5.1 and 0.500 with 5.0 (one bit of ``warpAffine`` rounding), and 0.46–0.65 under
imperceptible changes (1-LSB noise, JPEG re-encoding, a one-pixel shift), so a per-knee
0.5 threshold decided that leg by a coin flip. The shank is one rigid segment: its three
landmarks see the same occlusion, and their mean visibility (0.61 on that leg, 0.57–0.72
under the same changes) moves about half as much. Presence (is the landmark in the
frame?) and the frame bounds stay per landmark: they decide where the calf band can be
drawn at all.
onnxruntime only; nothing of TensorFlow or MediaPipe at run time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from drivers.truth import DEFAULT_CLASSES, DEFAULT_KEYPOINTS, UNKNOWN_LABEL
from models.errors import ModelError
from models.package import default_threads, open_session, read_manifest

MEDIAPIPE_DIR = Path(__file__).resolve().parents[1] / "resources" / "models" / "mediapipe"

#: MediaPipe landmark index of each of :data:`DEFAULT_KEYPOINTS`.
LANDMARK_INDEX = {
    "left_knee": 25,
    "right_knee": 26,
    "left_ankle": 27,
    "right_ankle": 28,
    "left_heel": 29,
    "right_heel": 30,
}
DETECTOR_SIZE = 224
CROP_SIZE = 256


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic: no overflow for large negative logits."""
    x = np.asarray(x, np.float32)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)


def ssd_anchors() -> np.ndarray:
    """(2254, 2) anchor centres of the pose detector, in [0, 1] of its input.

    MediaPipe's SSD anchor options for pose_detection: strides 8, 16, 32, 32, 32 with
    two fixed-size anchors per layer and cell; layers of equal stride share cells.
    """
    strides = (8, 16, 32, 32, 32)
    out: list[np.ndarray] = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        n = DETECTOR_SIZE // strides[i]
        ys, xs = np.mgrid[0:n, 0:n]
        centres = np.stack([(xs + 0.5) / n, (ys + 0.5) / n], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, 2 * (j - i), axis=1).reshape(-1, 2))
        i = j
    return np.concatenate(out).astype(np.float32)


@dataclass
class Thresholds:
    """What counts as confident. Defaults are MediaPipe's own (0.5)."""

    detection: float = 0.5
    #: Pose presence, and each knee/ankle landmark's presence (in the frame).
    presence: float = 0.5
    #: A leg's visibility (:meth:`MediaPipeVisualLabeler.leg_score`).
    visibility: float = 0.5
    mask: float = 0.5
    #: Half-width of the calf band around the knee–ankle segment, × the segment length.
    band: float = 0.3
    #: Margin (× segment length) by which a pixel must be nearer one shank than the
    #: other when both bands claim it; closer calls are left unknown.
    overlap_margin: float = 0.1


@dataclass
class VisualLabel:
    """What the labeler found in one RGB frame."""

    #: (H, W) uint8: 0 background, 1 left_calf, 2 right_calf, 255 unknown; None when
    #: no leg is confident (see ``reason``).
    labels: np.ndarray | None
    #: (6, 2) float32 frame pixels in :data:`DEFAULT_KEYPOINTS` order, NaN if not confident.
    keypoints: np.ndarray
    #: (6,) float32 min(visibility, presence) of each keypoint (0 where not found).
    scores: np.ndarray
    person_score: float = 0.0
    detection_score: float = 0.0
    #: Which sides were labeled ("left", "right").
    sides: tuple[str, ...] = ()
    #: Empty when both calves are labeled; else why not (one line).
    reason: str = ""
    #: (H, W) float32 person probability in the frame (diagnostics, overlays).
    person_mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def confident(self) -> bool:
        return self.labels is not None


def _letterbox(frame_w: int, frame_h: int, size: int) -> np.ndarray:
    """2×3 affine frame pixels → letterboxed input pixels (centres kept aligned)."""
    s = size / max(frame_w, frame_h)
    tx = (size - frame_w * s) / 2 + 0.5 * s - 0.5
    ty = (size - frame_h * s) / 2 + 0.5 * s - 0.5
    return np.array([[s, 0, tx], [0, s, ty]], np.float64)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


class MediaPipeVisualLabeler:
    """Detector → rotated person crop → landmarks + person mask → calf labels."""

    classes = list(DEFAULT_CLASSES)
    keypoint_names = list(DEFAULT_KEYPOINTS)

    def __init__(
        self,
        model_dir: str | Path = MEDIAPIPE_DIR,
        threads: int | None = None,
        thresholds: Thresholds | None = None,
        track: bool = False,
    ):
        d = Path(model_dir)
        self.thresholds = thresholds or Thresholds()
        self.track = track
        #: The next frame's crop keypoints (hip centre, top) from the last confident
        #: landmarks; None: detect (see "Tracking" above).
        self.tracked: np.ndarray | None = None
        #: Frames labeled, and how many of them ran the detector.
        self.frames = self.detections = 0
        self._track_score = 0.0
        self.manifests = {}
        self.sessions: dict[str, ort.InferenceSession] = {}
        n = threads or default_threads()
        for stage in ("pose_detection", "pose_landmark_full"):
            onnx_path, json_path = d / f"{stage}.onnx", d / f"{stage}.json"
            if not onnx_path.is_file() or not json_path.is_file():
                raise ModelError(
                    f"{d} lacks {stage}.onnx/.json; run python -m models.convert.convert_mediapipe"
                )
            self.manifests[stage] = read_manifest(json_path)
            self.sessions[stage] = open_session(onnx_path, n)
        self.anchors = ssd_anchors()

    # ----------------------------------------------------------------- stages
    def detect(self, rgb: np.ndarray) -> tuple[float, np.ndarray] | None:
        """(score, (2, 2) frame pixels of keypoints 0 and 1) of the best person, or None."""
        h, w = rgb.shape[:2]
        m = _letterbox(w, h, DETECTOR_SIZE)
        img = cv2.warpAffine(rgb, m, (DETECTOR_SIZE, DETECTOR_SIZE), flags=cv2.INTER_LINEAR)
        x = (img.astype(np.float32) / 127.5 - 1.0)[None]
        boxes, logits = self.sessions["pose_detection"].run(None, {"input_1": x})
        scores = sigmoid(np.clip(logits.reshape(-1), -100, 100))
        best = int(np.argmax(scores))
        if scores[best] < self.thresholds.detection:
            return None
        raw = boxes.reshape(-1, 12)[best]
        kps = raw[4:8].reshape(2, 2) / DETECTOR_SIZE + self.anchors[best]  # [0, 1] of input
        pts = _apply(cv2.invertAffineTransform(m), kps * DETECTOR_SIZE - 0.5 + 0.5)
        return float(scores[best]), pts

    @staticmethod
    def crop_transform(hip: np.ndarray, top: np.ndarray) -> np.ndarray:
        """2×3 affine frame pixels → crop pixels of the rotated square person crop."""
        dx, dy = top - hip
        rotation = math.pi / 2 - math.atan2(-dy, dx)
        side = 2.0 * math.hypot(dx, dy) * 1.25
        c, s = math.cos(rotation), math.sin(rotation)
        a = np.array([[c, -s], [s, c]]) * (side / CROP_SIZE)  # crop offsets → frame
        t = hip - a @ np.array([CROP_SIZE / 2, CROP_SIZE / 2])
        to_frame = np.hstack([a, t[:, None]])
        return cv2.invertAffineTransform(to_frame)

    def landmarks(self, rgb: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """((39, 5) landmarks with x, y in frame pixels, pose presence, (256, 256) mask
        logits) of the crop ``m`` maps to."""
        crop = cv2.warpAffine(
            rgb, m, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        x = (crop.astype(np.float32) / 255.0)[None]
        outs = dict(
            zip(
                [o.name for o in self.sessions["pose_landmark_full"].get_outputs()],
                self.sessions["pose_landmark_full"].run(None, {"input_1": x}),
                strict=True,
            )
        )
        lm = outs["Identity"].reshape(39, 5).astype(np.float64)
        lm[:, :2] = _apply(cv2.invertAffineTransform(m), lm[:, :2])
        return lm, float(outs["Identity_1"].reshape(-1)[0]), outs["Identity_2"][0, :, :, 0]

    # ------------------------------------------------------------------- all
    def label(self, rgb: np.ndarray) -> VisualLabel:
        """Calf labels and leg keypoints of one (H, W, 3) uint8 RGB frame."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ModelError(
                f"the visual labeler reads (H, W, 3) uint8 RGB, not {rgb.shape} {rgb.dtype}"
            )
        h, w = rgb.shape[:2]
        t = self.thresholds
        nokp = np.full((len(DEFAULT_KEYPOINTS), 2), np.nan, np.float32)
        zeros = np.zeros(len(DEFAULT_KEYPOINTS), np.float32)
        self.frames += 1
        lm = None
        if self.tracked is not None:  # the crop from the last frame's landmarks
            det_score, m = self._track_score, self.crop_transform(*self.tracked)
            lm, presence, mask_logits = self.landmarks(rgb, m)
            if presence < t.presence:
                lm = self.tracked = None  # lost: detect on this frame
        if lm is None:
            self.detections += 1
            found = self.detect(rgb)
            if found is None:
                return VisualLabel(None, nokp, zeros, reason="no person detected")
            det_score, pts = found
            m = self.crop_transform(pts[0], pts[1])
            lm, presence, mask_logits = self.landmarks(rgb, m)
        if self.track:
            self.tracked = lm[[33, 34], :2].copy() if presence >= t.presence else None
            self._track_score = det_score  # the detection the track started from
        if presence < t.presence:
            return VisualLabel(
                None,
                nokp,
                zeros,
                presence,
                det_score,
                reason=f"no confident person (pose presence {presence:.2f})",
            )
        visibility, present = sigmoid(lm[:, 3]), sigmoid(lm[:, 4])
        inside = (lm[:, 0] >= 0) & (lm[:, 0] <= w - 1) & (lm[:, 1] >= 0) & (lm[:, 1] <= h - 1)
        located = inside & (present >= t.presence)
        sides = tuple(
            s for s in ("left", "right") if self.leg_score(lm, s, located) >= t.visibility
        )
        ok = np.zeros(len(lm), bool)
        for name, i in LANDMARK_INDEX.items():
            ok[i] = located[i] and name.split("_")[0] in sides
        idx = [LANDMARK_INDEX[k] for k in DEFAULT_KEYPOINTS]
        kp = np.where(ok[idx, None], lm[idx, :2], np.nan).astype(np.float32)
        scores = np.minimum(visibility, present)[idx].astype(np.float32)
        prob = cv2.warpAffine(
            sigmoid(mask_logits),
            m,
            (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        if not sides:
            return VisualLabel(
                None,
                kp,
                scores,
                presence,
                det_score,
                (),
                "no confident legs (knees/ankles not visible in the frame)",
                prob,
            )
        labels = self._calves(prob >= t.mask, lm, sides)
        missing = [s for s in ("left", "right") if s not in sides]
        reason = f"{missing[0]} leg not confident; its pixels left unknown" if missing else ""
        return VisualLabel(labels, kp, scores, presence, det_score, sides, reason, prob)

    @staticmethod
    def leg_score(lm: np.ndarray, side: str, located: np.ndarray) -> float:
        """The ``side`` leg's visibility: the mean of its knee, ankle and heel visibilities,
        or 0 when its knee or ankle is not located (outside the frame, or not present)."""
        knee, ankle = LANDMARK_INDEX[f"{side}_knee"], LANDMARK_INDEX[f"{side}_ankle"]
        if not (located[knee] and located[ankle]):
            return 0.0
        shank = [knee, ankle, LANDMARK_INDEX[f"{side}_heel"]]
        return float(sigmoid(lm[shank, 3]).mean())

    def _calves(self, person: np.ndarray, lm: np.ndarray, sides: tuple[str, ...]) -> np.ndarray:
        """Class mask: person pixels in each confident side's knee–ankle band."""
        h, w = person.shape
        t = self.thresholds
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        dist = {}
        for side in ("left", "right"):
            if side not in sides:
                continue
            k = lm[LANDMARK_INDEX[f"{side}_knee"], :2].astype(np.float32)
            a = lm[LANDMARK_INDEX[f"{side}_ankle"], :2].astype(np.float32)
            seg = a - k
            length = float(np.hypot(*seg)) or 1.0
            along = ((xx - k[0]) * seg[0] + (yy - k[1]) * seg[1]) / (length * length)
            across = np.abs((xx - k[0]) * seg[1] - (yy - k[1]) * seg[0]) / length
            d = np.where((along >= 0) & (along <= 1), across / length, np.float32(1e6))
            dist[side] = d
        labels = np.zeros((h, w), np.uint8)
        if len(sides) < 2:
            labels[person] = UNKNOWN_LABEL  # the other calf may be anywhere on the person
        cls = {
            "left": DEFAULT_CLASSES.index("left_calf"),
            "right": DEFAULT_CLASSES.index("right_calf"),
        }
        for side, d in dist.items():
            other = dist.get("right" if side == "left" else "left")
            mine = person & (d <= t.band)
            if other is not None:
                mine &= d + t.overlap_margin < other
            labels[mine] = cls[side]
        if len(dist) == 2:
            both = person & (dist["left"] <= t.band) & (dist["right"] <= t.band)
            close = np.abs(dist["left"] - dist["right"]) <= t.overlap_margin
            labels[both & close] = UNKNOWN_LABEL
        return labels


#: Visual labelers by the name ``model:NAME`` uses.
VISUAL_LABELERS = {"mediapipe-pose": MediaPipeVisualLabeler}


def open_visual_labeler(
    name: str, threads: int | None = None, track: bool = False
) -> MediaPipeVisualLabeler:
    """The visual labeler ``name`` (``mediapipe-pose``, or a folder holding its ONNX
    files); ``track``: crops from the previous frame's landmarks (a live stream)."""
    if name in VISUAL_LABELERS or not name:
        return VISUAL_LABELERS[name or "mediapipe-pose"](threads=threads, track=track)
    if Path(name).is_dir():
        return MediaPipeVisualLabeler(name, threads=threads, track=track)
    raise ModelError(
        f"no visual labeler named '{name}'; known: {', '.join(VISUAL_LABELERS)},"
        " or a folder with pose_detection.onnx and pose_landmark_full.onnx"
    )
