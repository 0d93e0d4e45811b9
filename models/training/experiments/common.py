"""What every training experiment shares: the request, the cross-subject split, the one
result shape, and a report published whole into ``--out``.

The result shape is a contract (docs/experiments/README.md)::

    {"experiment": NAME, "train_subjects": [...], "test_subjects": [...],
     "variants": {VARIANT: {...figures}}, ...experiment-specific keys}

so a script can compare two studies' ``--json`` without knowing the experiment.
Subjects come from the study index; the last ``test_subjects`` are held out, as in
``thermorig train``: no frame of theirs is ever trained on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drivers.atomic import atomic_write
from drivers.errors import ThermorigError
from drivers.study import StudySubject, read_study, split_subjects

Log = Callable[[str], None]

#: Figures every variant of each experiment must carry (the issue's contract).
REQUIRED_FIGURES: dict[str, tuple[str, ...]] = {
    "thermocyclenet": ("mean_iou", "per_class"),
    "spmkd": ("median_px",),
    "latent": ("mean_iou",),
}
REQUIRED_VARIANTS: dict[str, tuple[str, ...]] = {
    "thermocyclenet": ("M", "S", "S+5", "S+10", "S+25", "S+50", "S+100"),
    "spmkd": ("crwt", "no_crwt", "random_init"),
    "latent": ("grayscale", "heatmap"),
}


class ExperimentError(ThermorigError):
    """Bad input to an experiment (one line for the user, exit 2)."""


@dataclass(frozen=True)
class ExperimentRequest:
    """What ``thermorig experiment NAME`` was asked."""

    study: Path
    out: Path
    quick: bool = False
    seed: int = 0
    device: str = "cpu"
    test_subjects: int = 2
    #: latent only: labeled frames for the decoder (the paper used at most 52).
    labeled_frames: int = 52
    #: thermocyclenet only: the folder of auto label files the command made for a
    #: synthetic study (``<subject>/<scene>.labels.h5``); None for a lab's study,
    #: whose label sidecars sit beside its sessions.
    auto_labels: Path | None = None


@dataclass(frozen=True)
class StudySplit:
    train: list[StudySubject]
    test: list[StudySubject]

    @property
    def train_ids(self) -> list[str]:
        return [s.id for s in self.train]

    @property
    def test_ids(self) -> list[str]:
        return [s.id for s in self.test]

    def sessions(self, which: str, scene: str | None = None) -> list[Path]:
        """Session paths of the ``train`` or ``test`` subjects, optionally one scene
        (the session file's stem starts with it: ``cycling``, ``treadmill``)."""
        subjects = self.train if which == "train" else self.test
        return [
            self.root / x.path
            for s in subjects
            for x in s.sessions
            if scene is None or Path(x.path).name.startswith(scene)
        ]

    root: Path = Path(".")


def check_device(device: str) -> None:
    """Refuse ``--device cuda`` in one line where this torch sees no GPU."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ExperimentError("--device cuda: this torch build sees no CUDA device")


def study_split(req: ExperimentRequest, log: Log | None = None) -> StudySplit:
    """The study's subjects split for cross-subject figures (refuses impossible splits;
    says so through ``log`` when the study is incomplete)."""
    study = read_study(req.study)
    if log is not None and (warning := study.incomplete_warning()):
        log(warning)
    train, test = split_subjects(study, req.test_subjects)
    return StudySplit(train, test, root=req.study)


def check_result(result: dict) -> dict:
    """Refuse a result that breaks the shared shape (a bug, not a user error)."""
    name = result.get("experiment")
    if name not in REQUIRED_VARIANTS:
        raise ValueError(f"unknown experiment {name!r}")
    for key in ("train_subjects", "test_subjects", "variants"):
        if key not in result:
            raise ValueError(f"{name} result lacks {key!r}")
    if set(result["train_subjects"]) & set(result["test_subjects"]):
        raise ValueError(f"{name}: a subject is both trained on and tested on")
    for v in REQUIRED_VARIANTS[name]:
        figures = result["variants"].get(v)
        if figures is None:
            raise ValueError(f"{name} result lacks variant {v!r}")
        missing = [f for f in REQUIRED_FIGURES[name] if f not in figures]
        if missing:
            raise ValueError(f"{name} variant {v!r} lacks {', '.join(missing)}")
    if name == "latent" and "labeled_frames" not in result:
        raise ValueError("latent result lacks 'labeled_frames'")
    return result


def report_paths(req: ExperimentRequest, name: str) -> tuple[Path, Path]:
    """(``OUT/NAME.json``, ``OUT/NAME.md``); refused up front if either exists, so an
    hour of training never ends in a refusal to write."""
    paths = (req.out / f"{name}.json", req.out / f"{name}.md")
    for p in paths:
        if p.exists():
            raise ExperimentError(f"{p} exists; give another --out (a report is never replaced)")
    if req.out.exists() and not req.out.is_dir():
        raise ExperimentError(f"--out {req.out}: not a folder")
    return paths


def publish_report(req: ExperimentRequest, result: dict, markdown: str) -> tuple[Path, Path]:
    """Write the JSON and Markdown report into ``--out`` atomically (the JSON last:
    its presence says the report is whole)."""
    check_result(result)
    js, md = report_paths(req, result["experiment"])
    req.out.mkdir(parents=True, exist_ok=True)
    with atomic_write(md) as f:
        f.write(markdown)
    with atomic_write(js) as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    return js, md


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """A GitHub Markdown table; floats with three decimals."""

    def cell(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"
