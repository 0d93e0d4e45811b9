"""Studies: varied subjects really differ (the issue's done-when figures), every
session carries its subject, and the study index round-trips and never clobbers."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from app.study.generate import generate_study, plan
from drivers.session import SessionReader
from drivers.study import Study, StudyError, StudySession, StudySubject, read_study, write_study
from drivers.truth import DEFAULT_CLASSES
from drivers.types import centikelvin_to_celsius
from tests.broken_inputs import assert_one_line_error, run_cli

CALVES = [DEFAULT_CLASSES.index("left_calf"), DEFAULT_CLASSES.index("right_calf")]
#: Smaller depth and RGB images: the figures below are of the thermal truth.
SMALL = {"color_size": (320, 180), "depth_size": (320, 240)}


def _calf_figures(path) -> tuple[float, float]:
    """(mean calf pixels per thermal frame, mean calf skin temperature °C)."""
    areas, temps = [], []
    with SessionReader(path) as s:
        for i in range(s.count("thermal")):
            f = s.frame("thermal", i)
            calf = np.isin(f.truth["labels"], CALVES)
            areas.append(int(calf.sum()))
            if calf.any():
                temps.append(float(centikelvin_to_celsius(f.array[calf]).mean()))
    return float(np.mean(areas)), float(np.mean(temps))


@pytest.fixture(scope="module")
def six(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    jobs = plan(folder, subjects=6, seconds=0.4, scene="cycling", seed=0, options=SMALL)
    t0 = time.perf_counter()
    study = generate_study(folder, jobs, workers=1)
    return folder, study, time.perf_counter() - t0


def test_six_subjects_differ_in_calf_area_and_temperature(six):
    folder, study, seconds = six
    figures = [_calf_figures(folder / x.path) for _, x in study.sessions()]
    areas = np.array([a for a, _ in figures])
    temps = np.array([t for _, t in figures])
    cv = float(areas.std() / areas.mean())
    span = float(temps.max() - temps.min())
    print(
        f"6 subjects in {seconds:.1f} s: calf area CV {cv:.3f}, calf temperature span {span:.2f} °C"
    )
    assert cv >= 0.15, areas  # measured 0.19 (study seed 0)
    assert span >= 1.5, temps


def test_every_session_carries_its_subject_and_setup(six):
    folder, study, _ = six
    index = read_study(folder)
    assert index.complete and len(index.subjects) == 6
    assert len({s.id for s in index.subjects}) == 6
    for subject, session in index.sessions():
        with SessionReader(folder / session.path) as s:
            assert s.truth["subject"] == subject.parameters
            assert s.truth["setup"] == session.setup
            assert s.attrs["subject"] == subject.id
        assert session.path == f"{subject.id}/cycling.h5"


def test_study_progress_counts_session_seconds_up_to_the_total(tmp_path):
    # The recorder reports seconds recorded (no limit is set): sessions longer than
    # a second once drove the bar far past its total, and tqdm failed at the end.
    jobs = plan(tmp_path, subjects=1, seconds=1.5, scene="cycling", seed=0, options=SMALL)
    seen: list[tuple[float, float]] = []
    generate_study(tmp_path, jobs, workers=1, progress=lambda d, t: seen.append((d, t)))
    assert all(0.0 <= done <= total == 1.5 for done, total in seen)
    assert seen[-1][0] == pytest.approx(1.5)
    assert any(0.3 < done < 1.2 for done, _ in seen)  # it moves in between, too


def test_an_incomplete_study_says_who_is_left_out():
    session = StudySession("s1/c.h5", "cycling", 1, 3.0, {})
    people = [StudySubject("s1", 1, {}, [session]), StudySubject("s2", 2, {}, [])]
    assert Study(people).incomplete_warning() is None
    warning = Study(people, complete=False).incomplete_warning()
    assert warning.startswith("warning: this study's generation stopped early: 1 sessions")
    assert "s2 have none and are left out" in warning and "\n" not in warning


def test_study_index_round_trips(tmp_path):
    study = Study(
        [
            StudySubject(
                "subject-007",
                7,
                {"stature_m": 1.7},
                [StudySession("a/b.h5", "treadmill", 3, 2.5, {"x": 1})],
            )
        ],
        complete=False,
        generator={"seed": 0},
    )
    write_study(tmp_path, study)
    back = read_study(tmp_path / "study.json")
    assert back == study
    (tmp_path / "study.json").write_text(
        json.dumps(
            {
                "format": "thermorig-study",
                "version": 1,
                "subjects": [
                    {
                        "id": "x",
                        "seed": 1,
                        "parameters": {},
                        "sessions": [
                            {"path": "../x.h5", "scene": "c", "seed": 1, "seconds": 1, "setup": {}}
                        ],
                    }
                ],
            }
        )
    )
    with pytest.raises(StudyError, match="leaves the study folder"):
        read_study(tmp_path)
    (tmp_path / "study.json").write_text("{}")
    with pytest.raises(StudyError, match="not a thermorig study"):
        read_study(tmp_path)


def test_an_existing_index_or_session_is_refused_and_kept(tmp_path, capsys):
    (tmp_path / "study.json").write_text("mine")
    code, _, err = run_cli(
        capsys, "simulate-study", tmp_path, "--subjects", 1, "--seconds", 1, "-q"
    )
    assert_one_line_error(code, err, "study.json exists")
    assert (tmp_path / "study.json").read_text() == "mine"
    other = tmp_path / "other"
    (other / "subject-000").mkdir(parents=True)
    (other / "subject-000" / "treadmill.h5").write_text("mine")
    code, _, err = run_cli(
        capsys, "simulate-study", other, "--subjects", 2, "--seconds", 1, "--scene", "both", "-q"
    )
    assert_one_line_error(code, err, "treadmill.h5 exists")
    assert (other / "subject-000" / "treadmill.h5").read_text() == "mine"
    assert sorted(p.name for p in other.rglob("*")) == ["subject-000", "treadmill.h5"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--subjects", "0", "--seconds", "1"], "--subjects"),
        (["--subjects", "2", "--seconds", "-1"], "--seconds"),
        (["--subjects", "2", "--seconds", "1", "--scene", "rowing"], "--scene"),
        (["--subjects", "2", "--seconds", "1", "--sessions-per-subject", "0"], "sessions"),
        (["--subjects", "5000", "--seconds", "1"], "--subjects 5000"),
        (["--seconds", "1"], "--subjects"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys, args, fragment):
    try:
        code, _, err = run_cli(capsys, "simulate-study", tmp_path / "s", *args)
    except SystemExit as exc:  # argparse's own refusals end there, one line too
        code, err = int(exc.code or 0), capsys.readouterr().err
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "s").exists()
