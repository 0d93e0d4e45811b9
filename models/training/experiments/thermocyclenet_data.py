"""The two kinds of labels the ThermoCycleNet experiment compares, read from a study.

- **auto** labels: what ``thermorig autolabel`` made — RGB labels carried into thermal
  through depth and the rig. For a synthetic study they are made by the command (the
  app side, :mod:`app.study.autolabel_study`) into a folder of their own,
  ``AUTO/<subject>/<scene>.labels.h5`` (:func:`auto_labels_path`), with a self-calibrated
  rig and the simulated RGB annotator; for a lab's study they are the unreviewed
  projected or model rows of each session's label sidecar.
- **manual** labels: what a person vouched for. A synthetic session has no reviewer,
  so its ground truth stands in for one (every frame "reviewed"); a lab's study
  contributes the accepted, corrected and painted rows of its sidecars
  (:mod:`models.training.labelset` says which rows are which).

A study is synthetic when every session has ground truth; then the figures are
measured against the test subjects' truth, otherwise against their manual rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.training.dataset import Examples, load_session
from models.training.from_labels import has_truth
from models.training.labelset import TrainingDataError, labels_path_for, load_labeled_session

#: Beside each auto label file, what autolabel reported and how good it is.
SUMMARY_SUFFIX = ".autolabel.json"


def auto_labels_path(folder: Path, study: Path, session: Path) -> Path:
    """Where the auto labels of ``session`` (a file of ``study``) go in ``folder``:
    the session's path inside the study, ``.h5`` → ``.labels.h5``."""
    rel = session.relative_to(study)
    return folder / rel.parent / f"{rel.stem}.labels.h5"


def summary_path(labels: Path) -> Path:
    return labels.with_name(labels.name.removesuffix(".labels.h5") + SUMMARY_SUFFIX)


@dataclass(frozen=True)
class LabelSources:
    """Where each session's auto and manual labels come from."""

    synthetic: bool
    #: session → its auto label file
    auto: dict[Path, Path]
    #: session → its label file with manual rows; None: its ground truth
    manual: dict[Path, Path | None]

    def describe(self) -> dict:
        return {
            "manual": "ground truth of every frame, standing in for a reviewer"
            if self.synthetic
            else "accepted, corrected and painted rows of the label sidecars",
            "auto": "autolabel (self-made by this command)"
            if self.synthetic
            else "unreviewed projected/model rows of the label sidecars",
        }


def label_sources(study: Path, sessions: Sequence[Path], auto_folder: Path | None) -> LabelSources:
    """The label sources of ``sessions`` (see the module docstring). A synthetic study
    needs ``auto_folder`` (made by the command); a lab's needs its sidecars."""
    if has_truth(list(sessions)):
        if auto_folder is None:
            raise TrainingDataError("a synthetic study needs its auto labels made first")
        auto = {p: auto_labels_path(auto_folder, study, p) for p in sessions}
        missing = [str(v) for v in auto.values() if not v.is_file()]
        if missing:
            raise TrainingDataError(f"no auto labels {missing[0]} (run autolabel first)")
        return LabelSources(True, auto, dict.fromkeys(sessions))
    side = {p: labels_path_for(p) for p in sessions}
    missing = [str(v) for v in side.values() if not v.is_file()]
    if missing:
        raise TrainingDataError(
            f"{missing[0]}: no label file; a lab's study needs each session's label sidecar"
            " (autolabel, then review some frames)"
        )
    return LabelSources(False, side, side)


def _concat(parts: list[Examples], what: str) -> Examples:
    parts = [p for p in parts if len(p)]
    if not parts:
        raise TrainingDataError(f"no {what} rows in the training sessions")
    if len({tuple(p.classes) for p in parts}) != 1:
        raise TrainingDataError(f"the {what} labels name different classes")
    return Examples.concat(parts)


def load_auto(src: LabelSources, sessions: Sequence[Path], size: tuple[int, int]) -> Examples:
    """The auto rows of ``sessions`` at the network's input size."""
    return _concat(
        [load_labeled_session(p, src.auto[p], size, ("auto",))[0] for p in sessions], "auto"
    )


def load_manual(src: LabelSources, sessions: Sequence[Path], size: tuple[int, int]) -> Examples:
    """The manual rows (or the truth) of ``sessions`` at the network's input size."""
    parts = []
    for p in sessions:
        labels = src.manual[p]
        if labels is None:
            parts.append(load_session(p, size))
        else:
            parts.append(load_labeled_session(p, labels, size, ("manual",))[0])
    return _concat(parts, "manual")


def share(ex: Examples, percent: float) -> Examples:
    """``percent`` % of the examples (at least one), evenly spaced through them — so
    the share covers every session and subject alike rather than a lucky run of
    neighbouring, near-identical frames."""
    k = max(1, int(round(len(ex) * percent / 100.0)))
    if k >= len(ex):
        return ex
    return ex.take(np.unique(np.linspace(0, len(ex) - 1, k).round().astype(np.int64)))


def auto_label_summaries(src: LabelSources, sessions: Sequence[Path]) -> dict:
    """What autolabel reported for the auto label files the command made (the summary
    beside each) and, for a synthetic study, their IoU against the truth: per session
    and as a frame-weighted mean (``strict``: unknown pixels count as wrong; ``known``:
    over the pixels labeled — the ones training reads)."""
    rows = []
    sums = {"mean_iou_strict": [0.0, 0], "mean_iou_known": [0.0, 0]}
    for p in sessions:
        f = summary_path(src.auto[p])
        if not f.is_file():
            rows.append({"session": str(p), "labels": str(src.auto[p])})
            continue
        d = json.loads(f.read_text())
        rows.append(d)
        for key, acc in sums.items():
            v, n = d.get(key), d.get("frames", 0)
            if v is not None and n:
                acc[0] += v * n
                acc[1] += n
    out: dict = {"sessions": rows}
    for key, (total, n) in sums.items():
        if n:
            out[key] = round(total / n, 4)
    return out
