"""``thermorig stats``: the calves' warming on the synthetic rig, and bad inputs."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from app.cli import main
from app.labels.sidecar import SOURCE_MANUAL, STATUS_ACCEPTED, session_fingerprint
from drivers.session import SessionReader
from drivers.synthetic import open_synthetic
from tests.synthetic_sessions import session
from tests.thermal_sessions import write_labels, write_thermal_session

#: 8 s of cycling, all cameras at 10 fps, hardware-synced. The skin warms at 30 °C/min
#: at first, levelling off towards +2 °C (time constant 4 s) — the simulator's own
#: warming model (SyntheticConfig.warming_*), 100x faster than its default 0.3 °C/min
#: so that a test-sized session shows the whole curve. 60 rpm at 10 fps puts exactly 10
#: frames in one pedal stroke (and the renderer's 120 phases make them repeat exactly).
OPTIONS = dict(
    hw_sync=True, thermal_fps=10.0, cadence_rpm=60.0, warming_c_per_min=30.0, warming_max_c=2.0
)
SECONDS = 8.0
STROKE = 10  # frames per pedal stroke
CALVES = ("left_calf", "right_calf")


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cycling():
    return session("cycling", SECONDS, **OPTIONS)


@pytest.fixture(scope="module")
def label_files(cycling, tmp_path_factory):
    """Projected labels (autolabel, through the rig) and the truth's own masks."""
    d = tmp_path_factory.mktemp("stats")
    projected = d / "projected.h5"
    argv = ["autolabel", cycling, "--rig", "truth", "--rgb-labels", "truth", "--out", projected]
    assert main([str(a) for a in argv + ["-q"]]) == 0
    with SessionReader(cycling) as s:
        n = s.count("thermal")
        masks = np.stack([s.frame("thermal", i).truth["labels"] for i in range(n)])
    truth = write_labels(
        d / "truth.h5",
        cycling,
        masks,
        source=[SOURCE_MANUAL] * n,
        status=[STATUS_ACCEPTED] * n,
    )
    return {"projected": projected, "truth": truth}


def _read_csv(path) -> dict[str, np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    cols = list(zip(*rows[1:], strict=True))
    return {
        name: np.array([float(v) if v else np.nan for v in col])
        for name, col in zip(rows[0], cols, strict=True)
    }


def _stroke_mean(x: np.ndarray) -> np.ndarray:
    """Mean over one pedal stroke, sliding: the stroke's rhythm (the visible part of
    the calf changes with the crank angle, ~1 °C peak to peak) averages out."""
    return np.convolve(x, np.ones(STROKE) / STROKE, mode="valid")


@pytest.mark.parametrize("labels", ["projected", "truth"])
def test_stats_shows_the_simulated_warming_of_the_calves(
    labels, cycling, label_files, tmp_path, capsys
):
    before = (session_fingerprint(cycling), os.path.getmtime(cycling))
    out = tmp_path / "curves.csv"
    code, stdout, _ = _run(
        capsys, "stats", cycling, "--labels", label_files[labels], "--csv", out, "-q"
    )
    assert code == 0 and "left_calf" in stdout and "right_calf" in stdout
    table = _read_csv(out)
    with SessionReader(cycling) as s:
        t_scene = s.timestamps("thermal")  # simulated, not real time: scene seconds
    assert np.array_equal(table["frame"], np.arange(len(t_scene)))
    assert np.allclose(table["time_s"], t_scene - t_scene[0], atol=1e-4)
    # The truth: the simulator's skin warming at each frame's instant.
    sim = open_synthetic("cycling", realtime=False, **OPTIONS)
    truth = _stroke_mean(np.array([sim.warming(t) for t in t_scene]))
    truth_rise = truth - truth[0]
    assert truth_rise[-1] > 1.2, "the session shows most of the warming"
    for calf in CALVES:
        mean = table[f"{calf}_mean_c"]
        assert np.isfinite(mean).all() and (table[f"{calf}_pixels"] > 1000).all()
        assert (table[f"{calf}_median_c"] <= table[f"{calf}_max_c"]).all()
        smooth = _stroke_mean(mean)
        deviation = np.abs((smooth - smooth[0]) - truth_rise)
        assert deviation.max() <= 0.2, (calf, labels, deviation.max())
    # The summary's robust trend says the calves warm; the session is untouched.
    code, stdout, _ = _run(capsys, "stats", cycling, "--labels", label_files[labels], "--json")
    rows = json.loads(stdout)["classes"]
    assert [r["class"] for r in rows] == list(CALVES)
    for r in rows:
        assert r["frames"] == len(t_scene) and r["trend_c_per_min"] > 5.0
        assert r["end_c"] > r["start_c"] + 1.0
    assert (session_fingerprint(cycling), os.path.getmtime(cycling)) == before


def test_edge_erosion_removes_the_boundary_shortfall(cycling, label_files, tmp_path, capsys):
    """Un-eroded, the silhouette pixels (blurred with the colder background) warm less
    than skin: the calf's rise falls short of the truth; 2 px of erosion removes that."""
    with SessionReader(cycling) as s:
        t_scene = s.timestamps("thermal")
    sim = open_synthetic("cycling", realtime=False, **OPTIONS)
    truth = _stroke_mean(np.array([sim.warming(t) for t in t_scene]))
    rises = {}
    for erode in ("0", "2"):
        out = tmp_path / f"e{erode}.csv"
        argv = ["stats", cycling, "--labels", label_files["truth"], "--csv", out, "-q"]
        assert _run(capsys, *argv, "--erode", erode)[0] == 0
        smooth = _stroke_mean(_read_csv(out)["left_calf_mean_c"])
        rises[erode] = smooth[-1] - smooth[0]
    shortfall = (truth[-1] - truth[0]) - rises["0"]
    assert shortfall > 0.005, rises
    assert abs((truth[-1] - truth[0]) - rises["2"]) < shortfall / 2, rises


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("stats-tiny")
    celsius = np.full((3, 6, 8), 25.0)
    celsius[:, 1:4, 1:5] = 33.0
    s = write_thermal_session(d / "s.h5", celsius)
    masks = np.zeros((3, 6, 8), np.uint8)
    masks[:, 1:4, 1:5] = 1
    return s, write_labels(d / "l.h5", s, masks)


def test_stats_prints_a_table_and_writes_csv(tiny, tmp_path, capsys):
    s, labels = tiny
    out = tmp_path / "out.csv"
    code, stdout, _ = _run(capsys, "stats", s, "--labels", labels, "--csv", out, "--erode", "0")
    assert code == 0
    lines = stdout.splitlines()
    assert lines[2].split() == ["left_calf", "3", "33.00", "33.00", "33.00", "33.00", "+0.000"]
    assert "right_calf" in lines[3] and "never labeled" in lines[3]
    table = _read_csv(out)
    assert np.allclose(table["left_calf_mean_c"], 33.0, atol=1e-3)
    assert list(table["left_calf_pixels"]) == [12, 12, 12]
    assert np.isnan(table["right_calf_mean_c"]).all()


@pytest.mark.parametrize(
    "case, message",
    [
        ("other session", "was made from another session"),
        ("bad status", "unknown status"),
        ("negative erode", "must be 0 or more pixels"),
        ("csv is input", "an input of this run"),
        ("depth stream", "holds depth_units, not temperatures"),
        ("no labels", "label file not found"),
    ],
)
def test_bad_inputs_are_one_line_errors(case, message, tiny, tmp_path, capsys):
    s, labels = tiny
    argv = ["stats", s, "--labels", labels]
    if case == "other session":
        other = write_thermal_session(tmp_path / "other.h5", np.full((3, 6, 8), 30.0))
        argv = ["stats", other, "--labels", labels]
    elif case == "bad status":
        argv += ["--status", "accepted,fine"]
    elif case == "negative erode":
        argv += ["--erode", "-1"]
    elif case == "csv is input":
        argv += ["--csv", labels]
    elif case == "depth stream":
        argv += ["--stream", "depth"]
    elif case == "no labels":
        argv[3] = tmp_path / "missing.h5"
    before = session_fingerprint(labels)
    try:
        code, stdout, err = _run(capsys, *argv)
    except SystemExit as exc:  # argparse rejects bad option values itself
        code, (stdout, err) = exc.code, capsys.readouterr()
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert stdout == "" and session_fingerprint(labels) == before


# -- --csv never replaces what it did not make (issue 14, case 1) ----------------------
def test_stats_csv_never_replaces_a_session(tiny, tmp_path, capsys):
    s, labels = tiny
    other = write_thermal_session(tmp_path / "b.h5", np.full((3, 6, 8), 30.0))
    before = session_fingerprint(other)
    for extra in ((), ("--overwrite",)):
        code, _, err = _run(capsys, "stats", s, "--labels", labels, "--csv", other, *extra)
        assert code == 2 and err.count("\n") == 1 and "--csv" in err and ".csv" in err, err
        assert session_fingerprint(other) == before


def test_stats_csv_replaces_an_existing_csv_only_with_overwrite(tiny, tmp_path, capsys):
    s, labels = tiny
    csv = tmp_path / "curves.csv"
    csv.write_text("a person's spreadsheet\n")
    code, _, err = _run(capsys, "stats", s, "--labels", labels, "--csv", csv)
    assert code == 2 and "already exists" in err and "--overwrite" in err
    assert csv.read_text() == "a person's spreadsheet\n"
    assert main(["stats", str(s), "--labels", str(labels), "--csv", str(csv), "--overwrite"]) == 0
    assert csv.read_text().startswith("frame,time_s,")


def test_stats_csv_in_a_missing_folder_is_refused(tiny, tmp_path, capsys):
    s, labels = tiny
    code, _, err = _run(capsys, "stats", s, "--labels", labels, "--csv", tmp_path / "no" / "c.csv")
    assert code == 2 and "create it first" in err and not (tmp_path / "no").exists()
