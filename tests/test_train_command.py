"""``thermorig train``: label rows counted as the docs say, a split by subject, a
package that ``infer`` runs, ONNX parity, and refusals in one line.

Three subjects of 0.3 s each and ``--quick`` with the small recipe keep this to
seconds; the figures of such a run mean nothing and are not asserted beyond range.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.real_data import import_or_unavailable

import_or_unavailable("torch", "the train extra: bash scripts/install test,train")

from app.cli import main  # noqa: E402
from app.commands import train as train_command  # noqa: E402
from app.labels.sidecar import (  # noqa: E402
    SOURCE_MANUAL,
    SOURCE_MODEL,
    SOURCE_PROJECTED,
    STATUS_ACCEPTED,
    STATUS_CORRECTED,
    STATUS_REJECTED,
    STATUS_UNREVIEWED,
)
from app.labels.sidecar_writer import LabelWriter  # noqa: E402
from drivers.recorder import record  # noqa: E402
from drivers.session import SessionReader  # noqa: E402
from drivers.synthetic import open_synthetic  # noqa: E402
from models.package import load_package  # noqa: E402
from models.training.labelset import row_kinds  # noqa: E402
from models.training.recipes import RECIPES  # noqa: E402

#: Rows of each sidecar: 3 accepted, 1 corrected, 2 projected unreviewed, 1 model
#: unreviewed, the rest rejected (their masks all "left calf": garbage that must not count).
PLAN = (
    [(SOURCE_PROJECTED, STATUS_ACCEPTED)] * 3
    + [(SOURCE_MODEL, STATUS_CORRECTED)]
    + [(SOURCE_PROJECTED, STATUS_UNREVIEWED)] * 2
    + [(SOURCE_MODEL, STATUS_UNREVIEWED)]
)


def test_row_kinds_follow_source_and_status():
    source = np.array([0, 1, 2, 3, 1, 2, 3, 1, 3])
    status = np.array([0, 0, 0, 0, 1, 2, 3, 3, 1])
    assert list(row_kinds(source, status)) == [
        "", "auto", "auto", "manual", "manual", "manual", "", "", "manual"
    ]  # fmt: skip


def _labels(session: Path) -> None:
    with SessionReader(session) as s:
        n, classes = s.count("thermal"), list(s.truth["classes"])
        truths = [s.frame("thermal", i).truth["labels"] for i in range(n)]
    with LabelWriter(
        session.with_name(f"{session.stem}.labels.h5"), session=session, classes=classes
    ) as w:
        w.create_stream("thermal", n, truths[0].shape)
        for i, truth in enumerate(truths):
            source, status = PLAN[i] if i < len(PLAN) else (SOURCE_MANUAL, STATUS_REJECTED)
            mask = truth if i < len(PLAN) else np.ones_like(truth)
            w.write("thermal", i, mask, source, status=status)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> Path:
    """Three subjects, one 0.3 s cycling session each, with label sidecars."""
    folder = tmp_path_factory.mktemp("train")
    for k in range(3):
        driver = open_synthetic("cycling", realtime=False, duration=0.3, subject=k, seed=k)
        driver.open()
        try:
            record(driver, folder / f"s{k}.h5", activity="cycling", subject=f"person-{k}")
        finally:
            driver.close()
        _labels(folder / f"s{k}.h5")
    return folder


@pytest.fixture(scope="module")
def trained(sessions, tmp_path_factory):
    """(package folder, the arguments that trained it, their --json summary)."""
    out = tmp_path_factory.mktemp("pkg")
    args = ["train", "segmenter", "--recipe", "unet-tiny", "--sessions", str(sessions / "s*.h5")]
    args += ["--out", str(out), "--quick", "--steps", "2", "--json"]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(args) == 0
    return out, args, json.loads(printed.getvalue())


def test_train_writes_a_package_measured_on_the_held_out_subject(sessions, trained, capsys):
    out, args, summary = trained
    assert summary["train_subjects"] == ["person-0", "person-1"]
    assert summary["test_subjects"] == ["person-2"]
    # 4 manual and 3 auto rows per training session; the rejected rows never count
    assert summary["rows_used"] == {"manual": 8, "auto": 6}
    assert summary["measured_against"].startswith("ground truth")
    assert 0.0 <= summary["figures"]["mean_iou"] <= 1.0
    manifest = json.loads((out / "unet-tiny-segmenter.json").read_text())
    prov = manifest["provenance"]
    assert prov["cross_subject"]["test_sessions"] == [str(sessions / "s2.h5")]
    assert prov["parity_torch_vs_onnxruntime"]["max_abs_diff"] <= 1e-4
    assert prov["training_data"]["sessions"][0]["rejected_or_unlabeled"] > 0
    assert load_package(out / "unet-tiny-segmenter.onnx").manifest.figures == summary["figures"]
    assert sorted(p.name for p in out.iterdir()) == [
        "unet-tiny-segmenter.json",
        "unet-tiny-segmenter.onnx",
    ]

    # the package runs through infer on the held-out subject's session
    labels = out / "s2.model.h5"
    assert main(["infer", str(sessions / "s2.h5"), "--model", str(out / "unet-tiny-segmenter.onnx"),
                 "--out", str(labels), "-q"]) == 0  # fmt: skip
    assert "labeled by model" in capsys.readouterr().out

    # a second run never replaces the package it would write
    before = (out / "unet-tiny-segmenter.onnx").read_bytes()
    assert main(args) == 2
    assert "exists" in capsys.readouterr().err
    assert (out / "unet-tiny-segmenter.onnx").read_bytes() == before


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--test-subjects", "3"], "cannot hold out 3 of 3 subjects"),
        (["--test-subject", "nobody"], "unknown test subject(s) nobody"),
        (["--labels", "{stem}.missing.h5"], "no label file for s0.h5"),
        (["--device", "cuda"], "no CUDA device"),
    ],
)
def test_train_refusals_are_one_line(sessions, trained, capsys, extra, message):
    if extra == ["--device", "cuda"]:
        torch = pytest.importorskip("torch")
        if torch.cuda.is_available():
            pytest.skip("this torch has CUDA: the refusal cannot happen here")
    out, args, _ = trained
    assert main([*args, "--name", "refused", *extra]) == 2
    err = capsys.readouterr().err  # with --json the progress lines go to stderr
    assert message in err.splitlines()[-1] and err.count("error") == 1 and "Traceback" not in err
    assert not list(out.glob("refused*"))


def test_train_refuses_one_subject(sessions, tmp_path, capsys):
    args = ["train", "keypoints", "--sessions", str(sessions / "s0.h5"), "--out", str(tmp_path)]
    assert main(args) == 2
    assert "a cross-subject split needs at least 2" in capsys.readouterr().err


def test_train_help_lists_the_recipes_training_knows():
    assert train_command.RECIPES == {k: r.summary for k, r in RECIPES.items()}


def test_a_trained_package_is_listed_and_runs_live_in_the_window(
    trained, user_dir, qtbot, tmp_path, capsys
):
    """What docs/training.md tells a person: put the pair in the user model folder;
    ``thermorig models`` lists it and the window's Models menu runs it on the preview."""
    from tests.ui_support import make_window

    out, _, summary = trained
    for ext in (".onnx", ".json"):
        shutil.copy(out / f"unet-tiny-segmenter{ext}", user_dir)
    assert main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert listed["unet-tiny-segmenter"]["figures"] == summary["figures"]

    window = make_window(qtbot, tmp_path, "synthetic:cycling")
    menu = window.model_menu
    qtbot.waitUntil(lambda: menu.entry("unet-tiny-segmenter") is not None, timeout=10000)
    menu.entry("unet-tiny-segmenter").trigger()
    key = "model-user-unet-tiny-segmenter"
    qtbot.waitUntil(lambda: key in window.live.runner.results(), timeout=15000)
    assert window.live.runner.results()[key].labels.shape == (128, 160)  # the thermal view
