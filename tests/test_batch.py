"""``thermorig batch``: a study labeled on a real Dask scheduler with two worker
processes (loopback only) gives the serial command's label files; a killed worker and
client, then a re-run, leave every session labeled once; a bad session and one whose
label file a review window holds fail alone; a person's reviewed rows are kept;
foreign reports are never replaced; batch export gives the single export's folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from app.labels.sidecar import SOURCE_PROJECTED, STATUS_ACCEPTED, LabelReader
from app.labels.sidecar_writer import LabelWriter
from app.study.generate import generate_study, plan
from drivers.locks import LockFile
from tests.broken_inputs import assert_one_line_error, run_cli
from tests.dask_support import dask_processes

#: The synthetic rig at a quarter of the size: the labels are the point, not the pixels.
SMALL = {"thermal_size": (160, 128), "depth_size": (160, 120), "color_size": (320, 180)}
AUTOLABEL = ["--rig", "truth", "--rgb-labels", "simulated"]
CHUNK = "8"  # 30 frames a session: four chunks each


def _contents(path: Path) -> tuple[dict, dict]:
    """Every dataset and root attribute of a label file but its per-write generation id."""
    data = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda n, o: data.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None
        )
        attrs = {k: str(v) for k, v in f.attrs.items() if k not in ("generation", "session")}
    return data, attrs


def assert_same_labels(a: Path, b: Path) -> None:
    (da, aa), (db, ab) = _contents(a), _contents(b)
    assert aa == ab and da.keys() == db.keys()
    for k in da:
        assert np.array_equal(da[k], db[k], equal_nan=da[k].dtype.kind == "f"), f"{a}: {k} differs"


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """Three subjects, one second of cycling each, and each session's serial labels."""
    folder = tmp_path_factory.mktemp("batch") / "study"
    generate_study(folder, plan(folder, subjects=3, seconds=1.0, scene="cycling", options=SMALL))
    for s in sorted(folder.glob("*/cycling.h5")):
        serial = folder.parent / "serial" / s.parent.name / "cycling.labels.h5"
        serial.parent.mkdir(parents=True)
        assert run_cli_quiet("autolabel", s, *AUTOLABEL, "--out", serial, "-q") == 0
    return folder


def run_cli_quiet(*argv: object) -> int:
    from app.cli import main

    return main([str(a) for a in argv])


def _copy(study: Path, to: Path) -> Path:
    shutil.copytree(study, to)
    return to


def _serial(study: Path, session: Path) -> Path:
    return study.parent / "serial" / session.parent.name / "cycling.labels.h5"


def _sessions(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/cycling.h5"))


def test_a_study_on_a_scheduler_with_two_workers_gives_the_serial_label_files(
    study, tmp_path, capsys
):
    folder = _copy(study, tmp_path / "study")
    with dask_processes(tmp_path / "dask", workers=2) as dask:
        code, out, err = run_cli(
            capsys, "batch", "autolabel", folder, *AUTOLABEL,
            "--scheduler", dask.scheduler_file, "--chunk-frames", CHUNK, "-q",
        )  # fmt: skip
        assert code == 0, err
        assert "on 2 workers" in err
        for s in _sessions(folder):
            assert_same_labels(s.with_name("cycling.labels.h5"), _serial(study, s))
        report = json.loads((folder / "batch-report.json").read_text())
        run = report["runs"]["autolabel"]
        assert (run["done"], run["skipped"], run["failed"]) == (3, 0, 0)
        assert len({w for r in run["rows"] for w in r["workers"]}) == 2, "both workers worked"
        assert all(r["labeled_fraction"] > 0.9 and r["mean_iou"] > 0.5 for r in run["rows"])
        assert "| subject-000/cycling.h5 | done | 30 |" in out

        # a re-run does nothing again: every session is skipped, no file rewritten
        stamps = {s: s.with_name("cycling.labels.h5").stat().st_mtime_ns for s in _sessions(folder)}
        code, out, err = run_cli(
            capsys, "batch", "autolabel", folder, *AUTOLABEL, "--scheduler", dask.address, "-q"
        )
        assert code == 0, err
        run = json.loads((folder / "batch-report.json").read_text())["runs"]["autolabel"]
        assert (run["done"], run["skipped"]) == (0, 3)
        assert stamps == {
            s: s.with_name("cycling.labels.h5").stat().st_mtime_ns for s in _sessions(folder)
        }


def test_a_killed_worker_and_client_then_a_rerun_label_every_session_once(study, tmp_path):
    folder = _copy(study, tmp_path / "study")
    chunks = folder / ".thermorig-batch"
    with dask_processes(tmp_path / "dask", workers=2) as dask:
        client = subprocess.Popen(
            [str(Path(sys.executable).with_name("thermorig")), "batch", "autolabel", str(folder), *AUTOLABEL,
             "--scheduler", str(dask.scheduler_file), "--chunk-frames", "4", "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not list(chunks.glob("*/chunks/*/*.labels.h5")):
            assert client.poll() is None, client.stderr.read().decode()
            assert time.monotonic() < deadline, "no chunk finished in 2 minutes"
            time.sleep(0.05)
        dask.kill_worker(0)
        client.send_signal(signal.SIGKILL)
        client.wait(10)
        done_before = len(list(chunks.glob("*/done/*.json")))
        assert done_before < 3, "killed mid-run"
        code = run_cli_quiet(
            "batch", "autolabel", folder, *AUTOLABEL, "--scheduler", dask.address, "-q"
        )
    assert code == 0
    for s in _sessions(folder):
        assert_same_labels(s.with_name("cycling.labels.h5"), _serial(study, s))
    run = json.loads((folder / "batch-report.json").read_text())["runs"]["autolabel"]
    assert (run["done"] + run["skipped"], run["skipped"], run["failed"]) == (3, done_before, 0)
    # nothing half-made is left: no chunk files, no temporary label files
    assert not list(chunks.glob("*/chunks/*/*"))
    assert sorted(p.name for p in folder.rglob("*.h5")) == sorted(
        ["cycling.h5", "cycling.labels.h5"] * 3
    )


def test_a_bad_session_fails_alone_and_reviewed_rows_are_kept(study, tmp_path, capsys):
    folder = _copy(study, tmp_path / "study")
    (folder / "study.json").unlink()  # a plain folder of sessions
    (folder / "broken").mkdir()
    (folder / "broken" / "cycling.h5").write_bytes(b"not a session at all")
    first = _sessions(folder)[1]
    reviewed = first.with_name("cycling.labels.h5")
    with LabelReader(_serial(study, first)) as r:
        classes, n, shape = r.classes, r.count("thermal"), r.shape("thermal")
    painted = np.full(shape, 1, np.uint8)  # a person's mask, unlike any projection
    with LabelWriter(reviewed, session=first, classes=classes) as w:
        w.create_stream("thermal", n, shape)
        w.write("thermal", 5, painted, SOURCE_PROJECTED, status=STATUS_ACCEPTED)
    locked = _sessions(folder)[2]  # a review window has its label file open
    lock = LockFile.take(locked.with_name("cycling.labels.h5"), "thermorig review")
    try:
        code, out, err = run_cli(
            capsys, "batch", "autolabel", folder, *AUTOLABEL, "--workers", "1", "-q"
        )
    finally:
        lock.release()
    assert code == 1, err
    run = json.loads((folder / "batch-report.json").read_text())["runs"]["autolabel"]
    rows = {r["session"]: r for r in run["rows"]}
    bad = rows["broken/cycling.h5"]
    assert bad["status"] == "failed" and "\n" not in bad["error"] and "cycling.h5" in bad["error"]
    held = rows[str(locked.relative_to(folder))]
    assert held["status"] == "failed" and "being written by `thermorig review`" in held["error"]
    assert not locked.with_name("cycling.labels.h5").exists()
    done = [rows[k]["status"] for k in sorted(rows) if k != "broken/cycling.h5"]
    assert sorted(done) == ["done", "done", "failed"]
    assert rows[str(first.relative_to(folder))]["result"]["kept_reviewed"] == 1
    whole = _sessions(folder)[3]  # one chunk and no label file yet: the chunk is published
    assert_same_labels(whole.with_name("cycling.labels.h5"), _serial(study, whole))
    with LabelReader(reviewed) as r:
        assert np.array_equal(r.mask("thermal", 5), painted)
        assert r.array("thermal", "status")[5] == STATUS_ACCEPTED
    assert "| broken/cycling.h5 | failed |" in out


def test_a_foreign_report_is_refused_before_any_work(study, tmp_path, capsys):
    folder = _copy(study, tmp_path / "study")
    (folder / "batch-report.json").write_text('{"mine": true}')
    code, out, err = run_cli(capsys, "batch", "stats", folder, "-q")
    assert_one_line_error(code, err, "batch-report.json", "not a thermorig batch report")
    assert (folder / "batch-report.json").read_text() == '{"mine": true}'
    assert not (folder / ".thermorig-batch").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--scheduler", "somewhere"], "give local, tcp://HOST:PORT or a scheduler FILE.json"),
        (["--scheduler", "missing.json"], "no such scheduler file"),
        (["--scheduler", "tcp://127.0.0.1:9", "--workers", "2"], "--workers sizes a local"),
    ],
)
def test_bad_schedulers_are_one_line(study, capsys, args, fragment):
    code, out, err = run_cli(capsys, "batch", "check-rig", _sessions(study)[0], *args, "-q")
    assert_one_line_error(code, err, fragment)


def test_no_sessions_is_one_line(tmp_path, capsys):
    code, out, err = run_cli(capsys, "batch", "stats", os.fspath(tmp_path / "*.h5"))
    assert_one_line_error(code, err, "no study folder, session file or matching sessions")


def _manifest_without_run(path: Path) -> dict:
    d = json.loads((path / "manifest.json").read_text())
    return {k: v for k, v in d.items() if k not in ("created", "command")}


def test_batch_export_writes_the_single_exports_folder_and_stats_every_session(
    study, tmp_path, capsys
):
    folder = _copy(study, tmp_path / "study")
    for s in _sessions(folder):
        shutil.copy(_serial(study, s), s.with_name("cycling.labels.h5"))
    sessions = _sessions(folder)
    opts = ["--status", "unreviewed", "--format", "png,coco", "--split", "train=0.5,test=0.5"]
    assert run_cli_quiet("export", *sessions, *opts, "--out", tmp_path / "serial", "-q") == 0
    code, out, err = run_cli(
        capsys,
        "batch",
        "export",
        folder,
        *opts,
        "--out",
        tmp_path / "batch",
        "--workers",
        "2",
        "-q",
    )
    assert code == 0, err
    serial, batch = tmp_path / "serial", tmp_path / "batch"
    names = sorted(p.relative_to(serial) for p in serial.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(batch) for p in batch.rglob("*") if p.is_file())
    for name in names:
        if name.suffix == ".png":
            assert (serial / name).read_bytes() == (batch / name).read_bytes(), name
    assert _manifest_without_run(serial) == _manifest_without_run(batch)
    for split in ("train", "test"):
        a, b = (json.loads((d / f"annotations_{split}.json").read_text()) for d in (serial, batch))
        assert a["images"] == b["images"] and a["annotations"] == b["annotations"]
    assert not list(tmp_path.glob(".batch.batch-*")), "the staging folder became the export"

    # the export folder is never written twice
    code, out, err = run_cli(capsys, "batch", "export", folder, *opts, "--out", batch, "-q")
    assert_one_line_error(code, err, "--out")

    # stats of every session in the same study report
    code, out, err = run_cli(capsys, "batch", "stats", folder, "--workers", "1", "-q")
    assert code == 0, err
    runs = json.loads((folder / "batch-report.json").read_text())["runs"]
    assert set(runs) == {"export", "stats"} and runs["export"]["finished"]["frames"] == 90
    for row in runs["stats"]["rows"]:
        assert row["frames"] == 30 and {c["class"] for c in row["result"]["classes"]} >= {
            "left_calf",
            "right_calf",
        }
