"""The inputs of an export: session/label pairs opened, checked and placed in splits.

Everything that can be wrong with the inputs is found here, before the export writes
its first byte: labels of another session (by the session hash), masks of another
size or length, label files of different classes, the same session twice, a session
without a subject when splitting by subject, unsaved review edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.export.split import SplitRule, assign
from app.labels.sidecar import STATUS_NAMES, LabelReader, parse_statuses, session_fingerprint
from drivers.errors import ThermorigError
from drivers.outputs import OutputError, check_outputs, folder_output
from drivers.session import SessionReader

DEFAULT_STATUSES = ("accepted", "corrected")


class ExportError(ThermorigError):
    """Export inputs that do not fit together, or an export folder that is taken."""


@dataclass
class ExportInput:
    """One session and its label file, checked to belong together."""

    session_path: Path
    labels_path: Path
    session: SessionReader
    labels: LabelReader
    session_hash: str
    key: str = ""
    split: str = ""
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    source: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))

    @property
    def subject(self) -> str:
        return self.session.attrs.get("subject", "")

    def close(self) -> None:
        self.labels.close()
        self.session.close()


def check_out(out: Path) -> None:
    """The export folder must be new or empty: nothing is ever overwritten (the rule of
    every output, :mod:`drivers.outputs`; export has no --overwrite)."""
    try:
        check_outputs([folder_output("--out", out)], overwrite=None)
    except OutputError as exc:
        raise ExportError(f"{exc} (nothing written)") from None


def open_pair(session_path: Path, labels_path: Path, stream: str) -> ExportInput:
    """A session and its label file, checked to belong together."""
    session = SessionReader(session_path)
    try:  # LabelReader refuses a sidecar whose review journal holds unsaved edits.
        labels = LabelReader(labels_path)
    except BaseException:
        session.close()
        raise
    item = ExportInput(
        session_path, labels_path, session, labels, session_fingerprint(session_path)
    )
    try:
        if labels.session_hash and labels.session_hash != item.session_hash:
            raise ExportError(
                f"{labels_path} holds labels of another session"
                f" ({labels.session or 'unknown'}), not {session_path}; give the matching"
                " session and labels in the same order"
            )
        if stream not in session.streams:
            raise ExportError(
                f"{session_path} has no stream {stream!r} (it has"
                f" {', '.join(sorted(session.streams))}); pick one with --stream"
            )
        if stream not in labels.streams:
            have = ", ".join(labels.streams) or "none"
            raise ExportError(f"{labels_path} has no {stream} labels (it has {have})")
        frame_shape = tuple(session.streams[stream].shape[:2])
        if labels.shape(stream) != frame_shape:
            raise ExportError(
                f"{labels_path}: {stream} masks are {_wh(labels.shape(stream))} but the frames"
                f" of {session_path} are {_wh(frame_shape)}; labels of another recording"
            )
        n, m = session.count(stream), labels.count(stream)
        if n != m:
            raise ExportError(
                f"{labels_path} holds {m} {stream} masks but {session_path} has {n} frames;"
                " labels of another recording"
            )
        item.status = labels.array(stream, "status")
        item.source = labels.array(stream, "source")
    except BaseException:
        item.close()
        raise
    return item


def _wh(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"


def open_inputs(
    sessions: list[Path],
    labels: list[Path],
    *,
    stream: str = "thermal",
    statuses: tuple[str, ...] = DEFAULT_STATUSES,
    split: SplitRule | None = None,
) -> list[ExportInput]:
    """Open and check every session/labels pair and place it in a split; raises
    before anything is written."""
    if len(sessions) != len(labels):
        raise ExportError(
            f"{len(sessions)} sessions but {len(labels)} label files; give one --labels"
            " file per session, in the same order"
        )
    if not sessions:
        raise ExportError("no session given; name at least one SESSION.h5")
    split = split or SplitRule()
    wanted = [STATUS_NAMES.index(s) for s in parse_statuses(",".join(statuses))]
    items: list[ExportInput] = []
    try:
        for s, lab in zip(sessions, labels, strict=True):
            items.append(open_pair(Path(s), Path(lab), stream))
        _check_together(items)
        stems = [it.session_path.stem for it in items]
        for it in items:
            it.key = it.session_path.stem
            if stems.count(it.key) > 1:  # run1.h5 of two subjects: keep file names apart
                it.key += "-" + it.session_hash.rsplit(":", 1)[-1][:8]
            it.split = _split_of(it, split)
            it.rows = np.flatnonzero(np.isin(it.status, wanted))
    except BaseException:
        for it in items:
            it.close()
        raise
    return items


def _check_together(items: list[ExportInput]) -> None:
    seen: dict[str, Path] = {}
    for it in items:
        if it.session_hash in seen:
            raise ExportError(
                f"{it.session_path} and {seen[it.session_hash]} are the same session;"
                " give each session once"
            )
        seen[it.session_hash] = it.session_path
    first = items[0].labels
    for it in items[1:]:
        if it.labels.classes != first.classes:
            raise ExportError(
                f"{it.labels_path} has classes {it.labels.classes} but {first.path} has"
                f" {first.classes}; export them separately"
            )


def _split_of(item: ExportInput, rule: SplitRule) -> str:
    if not rule.active:
        return assign(rule, "")
    if rule.by == "session":
        return assign(rule, item.key)
    if not item.subject:
        raise ExportError(
            f"{item.session_path} names no subject, so it cannot be split by subject;"
            " use --split-by session (or record with --subject)"
        )
    return assign(rule, item.subject)
