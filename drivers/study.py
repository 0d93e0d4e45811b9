"""The study index, ``study.json``: which subjects a study holds and which sessions.

A study is the unit that training, batch processing and cross-subject evaluation
work on: a folder ``DIR/<subject>/<scene>[-k].h5`` of ordinary sessions and this
index beside them, naming every subject with its parameters and every session with
its scene, seed and setup. It lives in ``drivers`` because everything reads it —
``models/training`` splits subjects with it and may not import ``app``. The layout is
documented in docs/formats/study.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.atomic import atomic_write
from drivers.errors import ThermorigError

STUDY_FORMAT = "thermorig-study"
STUDY_VERSION = 1
INDEX_NAME = "study.json"


class StudyError(ThermorigError):
    """A study index that cannot be read or is not one."""


@dataclass
class StudySession:
    """One session of a subject: ``path`` relative to the study folder (POSIX)."""

    path: str
    scene: str
    seed: int
    seconds: float
    setup: dict[str, Any] = field(default_factory=dict)


@dataclass
class StudySubject:
    id: str
    seed: int
    parameters: dict[str, Any]
    sessions: list[StudySession] = field(default_factory=list)


@dataclass
class Study:
    """A study index. ``complete`` is False when generation stopped early: the
    sessions listed are whole, the ones missing were never made."""

    subjects: list[StudySubject]
    complete: bool = True
    generator: dict[str, Any] = field(default_factory=dict)

    def sessions(self) -> list[tuple[StudySubject, StudySession]]:
        return [(s, x) for s in self.subjects for x in s.sessions]

    def incomplete_warning(self) -> str | None:
        """One line for a command that trains or measures on this study when its
        generation stopped early: the split is then over fewer people than asked for
        (subjects without sessions drop out, the held-out ones shift), which the
        figures alone do not show."""
        if self.complete:
            return None
        empty = [s.id for s in self.subjects if not s.sessions]
        return (
            f"warning: this study's generation stopped early: {len(self.sessions())}"
            " sessions indexed"
            + (f"; {', '.join(empty)} have none and are left out" if empty else "")
            + " (make it again with simulate-study for the whole study)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STUDY_FORMAT,
            "version": STUDY_VERSION,
            "complete": self.complete,
            "generator": self.generator,
            "subjects": [
                {
                    "id": s.id,
                    "seed": s.seed,
                    "parameters": s.parameters,
                    "sessions": [vars(x) for x in s.sessions],
                }
                for s in self.subjects
            ],
        }


def write_study(folder: str | os.PathLike, study: Study) -> Path:
    """Write ``folder/study.json`` atomically (replacing the one this run wrote)."""
    path = Path(folder) / INDEX_NAME
    with atomic_write(path, encoding="utf-8") as fh:
        json.dump(study.to_dict(), fh, indent=1)
        fh.write("\n")
    return path


def _need(d: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = d.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise StudyError(f"{where}: '{key}' missing or not a {getattr(kind, '__name__', kind)}")
    return value


def read_study(path: str | os.PathLike) -> Study:
    """A study index from ``study.json`` or from the folder holding it."""
    p = Path(path)
    if p.is_dir():
        p = p / INDEX_NAME
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudyError(f"{p}: no study index there") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StudyError(f"{p}: not a readable study index ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != STUDY_FORMAT:
        raise StudyError(f"{p}: not a thermorig study index (format != {STUDY_FORMAT})")
    if data.get("version") != STUDY_VERSION:
        raise StudyError(f"{p}: study index version {data.get('version')!r}; this reads 1")
    subjects = []
    for i, s in enumerate(_need(data, "subjects", list, str(p))):
        where = f"{p}: subject {i}"
        if not isinstance(s, dict):
            raise StudyError(f"{where} is not an object")
        sessions = []
        for j, x in enumerate(_need(s, "sessions", list, where)):
            w = f"{where} session {j}"
            if not isinstance(x, dict):
                raise StudyError(f"{w} is not an object")
            rel = _need(x, "path", str, w)
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise StudyError(f"{w}: path {rel!r} leaves the study folder")
            sessions.append(
                StudySession(
                    path=rel,
                    scene=_need(x, "scene", str, w),
                    seed=_need(x, "seed", int, w),
                    seconds=float(_need(x, "seconds", (int, float), w)),
                    setup=_need(x, "setup", dict, w),
                )
            )
        subjects.append(
            StudySubject(
                id=_need(s, "id", str, where),
                seed=_need(s, "seed", int, where),
                parameters=_need(s, "parameters", dict, where),
                sessions=sessions,
            )
        )
    return Study(
        subjects=subjects,
        complete=bool(data.get("complete", True)),
        generator=data.get("generator") or {},
    )


def split_subjects(study: Study, test: int) -> tuple[list[StudySubject], list[StudySubject]]:
    """(training subjects, test subjects) for cross-subject evaluation: the last ``test``
    subjects of the index are the test ones. Index order is the generator's draw order,
    so a study always splits the same way, and no test subject's session is ever among
    the training ones (a person seen in training flatters a model's figures)."""
    have = [s for s in study.subjects if s.sessions]
    if not 1 <= test < len(have):
        raise StudyError(
            f"cannot hold out {test} test subject(s) of a study with {len(have)} subject(s)"
            " that have sessions; keep at least one for training"
        )
    return have[:-test], have[-test:]
