"""Training examples from label sidecars: which rows a person vouched for ("manual"),
which a machine made and nobody looked at ("auto"), and never the rejected ones.

The sidecar is read with plain h5py following docs/formats/labels.md, not through
``app.labels.LabelReader``: ``models`` may not import ``app`` (setup.cfg's layers), and
training needs only the few checks a reader must make — format and version, that the
file belongs to this session (``session_hash``, computed by
:mod:`drivers.fingerprint`, the same function the app uses), the masks' shape, and no
unsaved review edits waiting in the journal (a person's latest work must not be
trained around).

How a row counts:

- **manual**: status accepted or corrected (a person looked and kept or fixed it), or
  source manual (painted) and not rejected;
- **auto**: source projected (autolabel) or model (infer, propagate) and status
  unreviewed;
- never: status rejected, or source none.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import cv2
import h5py
import numpy as np

from drivers.fingerprint import session_fingerprint
from drivers.session import SessionReader
from drivers.truth import UNKNOWN_LABEL
from models.errors import ModelError
from models.preprocess import celsius, fit, resize_content
from models.training.dataset import Examples

SOURCE_NONE, SOURCE_PROJECTED, SOURCE_MODEL, SOURCE_MANUAL = 0, 1, 2, 3
STATUS_UNREVIEWED, STATUS_ACCEPTED, STATUS_CORRECTED, STATUS_REJECTED = 0, 1, 2, 3
#: What ``--labels-from`` accepts: which kinds of rows are trained on.
LABEL_USES = {"manual": ("manual",), "auto": ("auto",), "both": ("manual", "auto")}


class TrainingDataError(ModelError):
    """Sessions or label files that cannot be trained on (one line, exit 2)."""


def row_kinds(source: np.ndarray, status: np.ndarray) -> np.ndarray:
    """Per row ``"manual"``, ``"auto"`` or ``""`` (not used), by the rules above."""
    source, status = np.asarray(source), np.asarray(status)
    manual = np.isin(status, (STATUS_ACCEPTED, STATUS_CORRECTED)) | (
        (source == SOURCE_MANUAL) & (status != STATUS_REJECTED)
    )
    auto = np.isin(source, (SOURCE_PROJECTED, SOURCE_MODEL)) & (status == STATUS_UNREVIEWED)
    return np.where(manual, "manual", np.where(auto, "auto", ""))


def labels_path_for(session: str | os.PathLike, pattern: str | None = None) -> Path:
    """The label file of a session: ``pattern`` with ``{stem}`` replaced (relative to
    the session's folder), else ``SESSION.labels.h5`` beside it — the default of
    autolabel, infer and review."""
    session = Path(session)
    if pattern:
        return session.parent / pattern.replace("{stem}", session.stem)
    return session.with_name(f"{session.stem}.labels.h5")


def _pending_edits(journal: Path, generation: str) -> int:
    """Edit records in a review journal whose header names this file's generation
    (unsaved edits of exactly this file; the record layout is docs/formats/labels.md's).
    A damaged journal counts as pending: nobody can tell what it holds."""
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return 0
    pos, headers, records = 0, [], 0
    while pos + 12 <= len(data):
        magic, n, _crc = struct.unpack_from("<4sII", data, pos)
        if magic != b"TRJ1" or pos + 12 + n > len(data):
            return 1
        payload = data[pos + 12 : pos + 12 + n]
        (h,) = struct.unpack_from("<I", payload)
        head = json.loads(payload[4 : 4 + h])
        if head.get("kind") == "header":
            headers.append(head.get("generation"))
        else:
            records += 1
        pos += 12 + n
    return records if headers and headers[0] == generation else 0


def _text(v: object) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def read_label_rows(
    labels: Path, session: Path, stream: str, use: tuple[str, ...]
) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """(classes, row indices to train on, their kinds, counts per kind) of a label file."""
    if not labels.is_file():
        raise TrainingDataError(f"{labels}: no label file for {session.name}")
    try:
        f = h5py.File(labels, "r")
    except OSError as exc:
        raise TrainingDataError(f"{labels}: not a readable label file ({exc})") from None
    with f:
        if (
            _text(f.attrs.get("format", "")) != "thermorig-labels"
            or int(f.attrs.get("version", 99)) > 1
        ):
            raise TrainingDataError(f"{labels}: not a thermorig label file (version ≤ 1)")
        if _text(f.attrs.get("session_hash", "")) != session_fingerprint(session):
            raise TrainingDataError(f"{labels}: labels of another session than {session}")
        pending = _pending_edits(Path(f"{labels}.journal"), _text(f.attrs.get("generation", "")))
        if pending:
            raise TrainingDataError(
                f"{labels}: {pending} unsaved review edit(s); run `thermorig review` on it"
                " to recover them before training"
            )
        if stream not in f:
            raise TrainingDataError(f"{labels}: no {stream} labels")
        classes = list(json.loads(_text(f.attrs["classes"])))
        g = f[stream]
        kinds = row_kinds(g["source"][:], g["status"][:])
    counts = {k: int(np.count_nonzero(kinds == k)) for k in ("manual", "auto")}
    counts["rejected_or_unlabeled"] = int(np.count_nonzero(kinds == ""))
    rows = np.flatnonzero(np.isin(kinds, use))
    return classes, rows, kinds[rows], counts


def _resize_mask(mask: np.ndarray, size: tuple[int, int], n: int) -> np.ndarray:
    """Area-majority resize that keeps "not labeled" (255) as its own class, so unknown
    pixels stay unknown instead of becoming background."""
    m = np.where(mask < n, mask, n).astype(np.uint8)
    onehot = (m[..., None] == np.arange(n + 1, dtype=np.uint8)).astype(np.float32)
    area = cv2.resize(onehot, size, interpolation=cv2.INTER_AREA)
    out = area.reshape(size[1], size[0], n + 1).argmax(axis=-1).astype(np.uint8)
    out[out == n] = UNKNOWN_LABEL
    return out


def load_labeled_session(
    session: Path,
    labels: Path,
    input_size: tuple[int, int],
    use: tuple[str, ...],
    stream: str = "thermal",
) -> tuple[Examples, dict]:
    """The rows of ``labels`` whose kind is in ``use``, as examples (masks with 255 =
    not labeled; keypoints from the sidecar where it has them), and the row counts."""
    classes, rows, kinds, counts = read_label_rows(labels, session, stream, use)
    w, h = input_size
    with h5py.File(labels, "r") as f, SessionReader(session) as s:
        g = f[stream]
        masks = g["masks"]
        kp_ds = g.get("keypoints")
        names = json.loads(_text(kp_ds.attrs.get("names", "[]"))) if kp_ds is not None else []
        if masks.shape[0] != s.count(stream):
            raise TrainingDataError(
                f"{labels}: {masks.shape[0]} rows, session has {s.count(stream)}"
            )
        images = np.empty((len(rows), h, w), np.float16)
        out = np.empty((len(rows), h, w), np.uint8)
        kps = np.full((len(rows), len(names), 2), np.nan, np.float32)
        for j, i in enumerate(rows):
            frame = s.frame(stream, int(i)).array
            geo = fit(frame.shape[1], frame.shape[0], w, h, "letterbox")
            if geo.content_size != (w, h):
                raise TrainingDataError(f"{session}: {stream} frames are not {w}x{h} in shape")
            images[j] = celsius(resize_content(frame, geo))
            out[j] = _resize_mask(masks[int(i)], (w, h), len(classes))
            if kp_ds is not None:
                kps[j] = geo.frame_to_input(kp_ds[int(i)])
    counts["used"] = {k: int(np.count_nonzero(kinds == k)) for k in use}
    ex = Examples(images, out, kps, [(str(session), int(i)) for i in rows], classes, names)
    return ex, counts
