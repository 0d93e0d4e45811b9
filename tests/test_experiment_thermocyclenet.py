"""``thermorig experiment thermocyclenet``: auto labels made by the command (autolabel,
simulated RGB annotator), every variant trained cross-subject, exported, checked
torch-vs-onnxruntime and measured on the held-out subject; packages written and
loadable; an existing report refused before any work.

A three-subject study of 0.3 s sessions (small colour and depth, both scenes) and a
schedule shrunk below ``--quick`` keep this to well under a minute; its figures mean
little, so only learning at all is asserted, by a wide margin. The rig here is the
synthetic sessions' true rig (calibrating one takes minutes); the committed run uses a
self-calibrated rig (docs/experiments/thermocyclenet.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.real_data import import_or_unavailable

import_or_unavailable("torch", "the train extra: bash scripts/install test,train")

from app.cli import main  # noqa: E402
from app.study.generate import generate_study, plan  # noqa: E402
from drivers.session import SessionReader  # noqa: E402
from models.package import load_package  # noqa: E402
from models.training.experiments import thermocyclenet  # noqa: E402
from models.training.experiments.common import check_result  # noqa: E402
from models.training.experiments.thermocyclenet_data import share  # noqa: E402
from tests.test_study import SMALL  # noqa: E402

#: Below --quick: an 80x64 input and tens of steps (seconds, not minutes), with the
#: domain shift (--quick leaves it out). Only the main table's learning is asserted, so
#: the domain shift's variants get the fewest steps that still train, export and measure.
TINY = thermocyclenet.Schedule(
    (8, 12, 20, 32), (80, 64), 8, 80, 20, 10, 5, lr=6e-3, finetune_lr=3e-3
)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tcn") / "study"
    jobs = plan(folder, subjects=3, seconds=0.3, scene="both", seed=0, options=SMALL)
    generate_study(folder, jobs, workers=1)
    return folder


@pytest.fixture(scope="module")
def run(study, tmp_path_factory):
    """The experiment, once, through the command line: (result, out folder, stdout)."""
    out = tmp_path_factory.mktemp("tcn-out") / "report"
    mp = pytest.MonkeyPatch()
    mp.setattr(thermocyclenet, "QUICK", TINY)
    try:
        rc = main(
            [
                "experiment",
                "thermocyclenet",
                "--study",
                str(study),
                "--out",
                str(out),
                "--quick",
                "--test-subjects",
                "1",
                "--rig",
                "truth",
            ]
        )
    finally:
        mp.undo()
    assert rc == 0
    return json.loads((out / "thermocyclenet.json").read_text()), out


def test_the_result_has_the_shared_shape_and_is_cross_subject(run, study):
    result, out = run
    check_result(result)
    index = json.loads((study / "study.json").read_text())
    ids = [s["id"] for s in index["subjects"]]
    assert result["test_subjects"] == ids[-1:]
    assert result["train_subjects"] == ids[:-1]
    for v in result["variants"].values():
        prov = json.loads(Path(v["package"]).with_suffix(".json").read_text())["provenance"]
        cross = prov["cross_subject"]
        assert not set(cross["train_subjects"]) & set(cross["test_subjects"])
        assert all(ids[-1] in p for p in cross["test_sessions"])
    assert (out / "thermocyclenet.md").read_text().startswith("# ThermoCycleNet")


def test_auto_labels_come_from_autolabel_not_the_truth(run, study):
    result, out = run
    auto = result["auto_labels"]
    # the training subjects' sessions only, both scenes, each scored against its truth
    assert len(auto["sessions"]) == 4
    assert all(s["rgb_labels"] == "simulated" for s in auto["sessions"])
    assert all(Path(s["labels"]).is_file() for s in auto["sessions"])
    assert all(str(out / "labels") in s["labels"] for s in auto["sessions"])
    # the simulated annotator is decent but not the truth
    assert 0.5 < auto["mean_iou_known"] < 0.99
    assert result["variants"]["S"]["training_frames"] == {"auto": 36, "manual": 0}
    assert result["variants"]["M"]["training_frames"] == {"auto": 0, "manual": 36}
    assert result["variants"]["S+25"]["training_frames"]["manual"] == 9


def test_every_package_loads_and_matches_torch(run):
    result, _ = run
    packages = [v["package"] for v in result["variants"].values()]
    packages += [v["package"] for v in result["domain_shift"]["variants"].values()]
    assert len(set(packages)) == 7 + 4
    for p in packages:
        pkg = load_package(p)
        assert pkg.manifest.task == "segmentation"
        assert pkg.manifest.classes == ("background", "left_calf", "right_calf")
    for v in [*result["variants"].values(), *result["domain_shift"]["variants"].values()]:
        assert v["parity_max_abs_diff"] <= 1e-4 and v["parity_ok"]


def test_it_learns_the_calves_far_beyond_guessing(run, study):
    """The best blind guess — every pixel one calf — scores that calf's share of the
    frame on it and 0 on the other; the fine-tuned model must do several times better."""
    result, _ = run
    test = sorted((study / result["test_subjects"][0]).glob("*.h5"))
    shares = []
    for path in test:
        with SessionReader(path) as s:
            labels = np.stack(
                [s.frame("thermal", i).truth["labels"] for i in range(s.count("thermal"))]
            )
        shares += [np.mean(labels == 1), np.mean(labels == 2)]
    guess = max(shares) / 2  # mean IoU over the two calves
    assert guess < 0.05
    assert result["variants"]["S+100"]["mean_iou"] > 3 * guess
    assert result["variants"]["M"]["mean_iou"] > 3 * guess


def test_a_share_is_spread_over_all_frames():
    from models.training.dataset import Examples

    n = 40
    ex = Examples(
        np.zeros((n, 2, 2), np.float16),
        np.zeros((n, 2, 2), np.uint8),
        np.zeros((n, 0, 2), np.float32),
        [("s", i) for i in range(n)],
        ["background"],
        [],
    )
    picked = [i for _, i in share(ex, 10).sources]
    assert picked == [0, 13, 26, 39]
    assert len(share(ex, 1)) == 1 and len(share(ex, 100)) == n


def test_an_existing_report_is_refused_before_any_work(study, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thermocyclenet.md").write_text("a person's notes\n")
    rc = main(["experiment", "thermocyclenet", "--study", str(study), "--out", str(out), "--quick"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "exists" in err
    assert (out / "thermocyclenet.md").read_text() == "a person's notes\n"
    assert sorted(p.name for p in out.iterdir()) == ["thermocyclenet.md"]


def test_a_package_it_trained_is_listed_and_runs_live_in_the_window(
    run, user_dir, qtbot, tmp_path, capsys
):
    """The S+100 package, put in the user model folder as docs/training.md says:
    ``thermorig models`` lists it with its figures and the Models menu runs it live."""
    from tests.ui_support import make_window

    result, _ = run
    package = Path(result["variants"]["S+100"]["package"])
    for ext in (".onnx", ".json"):
        shutil.copy(package.with_suffix(ext), user_dir)
    name = package.stem
    assert main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert listed[name]["figures"]["mean_iou"] == result["variants"]["S+100"]["mean_iou"]

    window = make_window(qtbot, tmp_path, "synthetic:cycling")
    menu = window.model_menu
    qtbot.waitUntil(lambda: menu.entry(name) is not None, timeout=10000)
    menu.entry(name).trigger()
    key = f"model-user-{name}"
    qtbot.waitUntil(lambda: key in window.live.runner.results(), timeout=15000)
    assert window.live.runner.results()[key].labels.shape == (128, 160)  # the thermal view
