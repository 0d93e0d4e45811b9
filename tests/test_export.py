"""``thermorig export``: files that plain tools read back exactly, splits, bad inputs."""

from __future__ import annotations

import json
import shutil

import cv2
import h5py
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from app.cli import main
from app.export.coco import encode, rle_counts
from app.export.split import SplitError, assign, hash_unit, parse_split
from app.labels.sidecar import STATUS_ACCEPTED, STATUS_CORRECTED, STATUS_REJECTED, LabelReader
from app.labels.sidecar_writer import LabelWriter
from app.labels.store import LabelStore
from drivers.session import SessionReader

#: Rows given a status in the label copies (the rest stay unreviewed).
ACCEPTED, CORRECTED, REJECTED = [0, 1, 2, 3, 4], [5, 6, 7], [8, 9]


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _session(root, name: str, seed: int, subject: str):
    """Two seconds of the synthetic cycling rig at 9 fps (18 thermal frames), with a
    subject, and projected labels for it."""
    path = root / f"{name}.h5"
    args = ["simulate", path, "--seconds", "2", "--hw-sync", "--thermal-fps", "9"]
    assert main([str(a) for a in [*args, "--seed", str(seed), "-q"]]) == 0
    # The fixture plays the recorder's part (thermorig record --subject): set who it was
    # before any label file takes the session's hash.
    with h5py.File(path, "r+") as f:
        f.attrs["subject"] = subject
    labels = root / f"{name}.labels.h5"
    argv = ["autolabel", path, "--rig", "truth", "--rgb-labels", "truth", "--out", labels, "-q"]
    assert main([str(a) for a in argv]) == 0
    return path, labels


def _reviewed(labels, out):
    """A copy of ``labels`` with statuses set, one corrected mask repainted."""
    shutil.copy(labels, out)
    with h5py.File(out, "r+") as f:
        status = f["thermal/status"][()]
        status[ACCEPTED], status[CORRECTED], status[REJECTED] = (
            STATUS_ACCEPTED,
            STATUS_CORRECTED,
            STATUS_REJECTED,
        )
        f["thermal/status"][...] = status
        mask = f["thermal/masks"][CORRECTED[0]]
        mask[10:40, 20:70] = 2  # a person's correction, not in the projected labels
        f["thermal/masks"][CORRECTED[0]] = mask
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    a, la = _session(root, "ride_a", 1, "subjA")
    b, lb = _session(root, "ride_b", 2, "subjB")
    return {
        "a": a,
        "b": b,
        "la": _reviewed(la, root / "ride_a.reviewed.h5"),
        "lb": _reviewed(lb, root / "ride_b.reviewed.h5"),
        "la_projected": la,
    }


def _leftovers(parent) -> list[str]:
    return [p.name for p in parent.iterdir() if ".partial-" in p.name]


def test_png_export_reads_back_exactly(data, tmp_path, capsys):
    out = tmp_path / "ds"
    code, stdout, _ = _run(
        capsys, "export", data["a"], "--labels", data["la"], "--format", "png", "--out", out, "-q"
    )
    assert code == 0 and "8 thermal frames" in stdout, stdout
    assert _leftovers(tmp_path) == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"train": {"frames": 8, "accepted": 5, "corrected": 3}}
    assert [f["frame"] for f in manifest["frames"]] == ACCEPTED + CORRECTED
    (session,) = manifest["sessions"]
    assert session["subject"] == "subjA" and session["activity"] == "cycling"
    assert session["labels_sha256"] and session["session_hash"].startswith("sha256")
    assert "thermorig export" in manifest["command"] and manifest["thermorig"]
    lo_c, hi_c = session["preview"]["window_celsius"]
    assert 10 < lo_c < hi_c < 45
    with SessionReader(data["a"]) as s, LabelReader(data["la"]) as lab:
        for f in manifest["frames"]:
            image = cv2.imread(str(out / f["image"]), cv2.IMREAD_UNCHANGED)
            frame = s.frame("thermal", f["frame"])
            assert image.dtype == np.uint16 and np.array_equal(image, frame.array)
            assert f["timestamp"] == frame.timestamp
            with Image.open(out / f["mask"]) as m:
                assert m.mode == "P" and len(m.getpalette()) == 768
                assert np.array_equal(np.asarray(m), lab.mask("thermal", f["frame"]))
            preview = cv2.imread(str(out / f["preview"]), cv2.IMREAD_UNCHANGED)
            assert preview.dtype == np.uint8 and preview.shape == (*frame.array.shape, 3)
            assert preview.std() > 10  # a picture, not a flat field
        corrected = np.asarray(Image.open(out / manifest["frames"][5]["mask"]))
        assert manifest["frames"][5]["status"] == "corrected"
        assert (corrected[10:40, 20:70] == 2).all()
        assert not (out / "annotations_train.json").exists()


# pycocotools' own decode trips a numpy 2 DeprecationWarning inside pycocotools.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_coco_export_decodes_with_pycocotools(data, tmp_path, capsys):
    out = tmp_path / "coco"
    code, _, _ = _run(
        capsys,
        *("export", data["a"], data["b"], "--labels", data["la"], data["lb"]),
        *("--format", "coco", "--status", "accepted,rejected", "--out", out, "-q"),
    )
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["train"] == {"frames": 14, "accepted": 10, "rejected": 4}
    assert not (out / "train" / "masks").exists()
    coco = COCO(str(out / "annotations_train.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["left_calf", "right_calf"]
    assert len(coco.getImgIds()) == 14
    labels = {"ride_a": LabelReader(data["la"]), "ride_b": LabelReader(data["lb"])}
    n_ann = 0
    for img in coco.loadImgs(coco.getImgIds()):
        truth = labels[img["session"]].mask("thermal", img["frame"])
        image = cv2.imread(str(out / img["file_name"]), cv2.IMREAD_UNCHANGED)
        assert image.dtype == np.uint16 and image.shape == truth.shape
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
        assert {a["category_id"] for a in anns} == set(np.unique(truth)) - {0, 255}
        for ann in anns:
            binary = truth == ann["category_id"]
            assert np.array_equal(coco.annToMask(ann).astype(bool), binary)
            assert ann["area"] == binary.sum() == coco_mask.area(ann["segmentation"])
            assert ann["bbox"] == coco_mask.toBbox(ann["segmentation"]).tolist()
            n_ann += 1
    assert n_ann >= 2 * 14  # both calves in (almost) every frame
    for reader in labels.values():
        reader.close()


def test_rle_equals_pycocotools_on_random_and_edge_masks():
    rng = np.random.default_rng(3)
    masks = [np.ones((7, 5), bool), np.zeros((4, 9), bool), np.eye(6, dtype=bool)]
    masks += [rng.random((rng.integers(1, 50), rng.integers(1, 50))) < p for p in (0.05, 0.5, 0.95)]
    big = np.zeros((512, 640), bool)
    big[100:400, 37:38] = True  # runs longer than 5-bit groups
    masks.append(big)
    for m in masks:
        ours = encode(m)
        ref = coco_mask.encode(np.asfortranarray(m.astype(np.uint8)))
        assert ours["counts"] == ref["counts"].decode() and ours["size"] == list(ref["size"])
        assert sum(rle_counts(m)) == m.size


def test_split_by_subject_keeps_each_subject_whole(data, tmp_path, capsys):
    args = ("export", data["a"], data["b"], "--labels", data["la"], data["lb"], "-q")
    out = tmp_path / "listed"
    out.mkdir()  # an empty folder is fine: the export takes its place
    assert _run(capsys, *args, "--split", "test=subjB", "--out", out)[0] == 0
    m = json.loads((out / "manifest.json").read_text())
    assert {s["subject"]: s["split"] for s in m["sessions"]} == {"subjA": "train", "subjB": "test"}
    assert m["counts"]["train"]["frames"] == m["counts"]["test"]["frames"] == 8
    assert all(
        f["split"] == {"ride_a": "train", "ride_b": "test"}[f["session"]] for f in m["frames"]
    )
    assert len(list((out / "test" / "images").iterdir())) == 8
    # Fractions: the same placement in a second, separate export (stable hash).
    rule = ["--split", "train=0.5,val=0.2,test=0.3", "--format", "coco"]
    splits = []
    for name in ("h1", "h2"):
        assert _run(capsys, *args, *rule, "--out", tmp_path / name)[0] == 0
        m = json.loads((tmp_path / name / "manifest.json").read_text())
        splits.append({s["subject"]: s["split"] for s in m["sessions"]})
        per_subject = {}
        for f in m["frames"]:
            per_subject.setdefault(f["session"], set()).add(f["split"])
        assert all(len(v) == 1 for v in per_subject.values())
        assert {p.name for p in (tmp_path / name).glob("annotations_*.json")} == {
            "annotations_train.json",
            "annotations_val.json",
            "annotations_test.json",
        }
    assert splits[0] == splits[1]
    expected = {s: assign(parse_split("train=0.5,val=0.2,test=0.3"), s) for s in splits[0]}
    assert splits[0] == expected


def test_split_rules_parse_and_hash_stably():
    r = parse_split("train=0.8,val=0.1,test=0.1")
    assert r.fractions == {"train": 0.8, "val": 0.1, "test": 0.1}
    r = parse_split(["test=s1,s2", "val=s3"], by="session")
    assert r.lists == {"test": ("s1", "s2"), "val": ("s3",)} and r.names == ["train", "test", "val"]
    assert assign(r, "s2") == "test" and assign(r, "s9") == "train"
    assert not parse_split(None).active and assign(parse_split(""), "x") == "train"
    # Pinned values: the split of an id must never change between versions or machines.
    assert hash_unit("subjA") == pytest.approx(0.5686338154763468, abs=1e-15)
    assert hash_unit("S03") == pytest.approx(0.10193834081920798, abs=1e-15)
    assert assign(parse_split("train=0.8,val=0.1,test=0.1"), "S03") == "train"
    assert assign(parse_split("test=0.2,train=0.8"), "S03") == "test"
    for bad in ("train=0.8,val=0.3", "train=0.5,test=a", "x", "te st=0.5,b=0.5", "a=s1,b=s1"):
        with pytest.raises(SplitError):
            parse_split(bad)


def _assert_refused(capsys, parent, out, *argv, says: str):
    code, stdout, err = _run(capsys, "export", *argv, "--out", out, "-q")
    assert code == 2 and err.count("\n") == 1 and says in err, err
    assert "Traceback" not in err and stdout == ""
    assert _leftovers(parent) == []


def test_bad_inputs_exit_2_and_write_nothing(data, tmp_path, capsys):
    out = tmp_path / "ds"
    a, b, la, lb = data["a"], data["b"], data["la"], data["lb"]
    _assert_refused(capsys, tmp_path, out, a, "--labels", lb, says="labels of another session")
    _assert_refused(capsys, tmp_path, out, a, b, "--labels", la, says="2 sessions but 1 label")
    _assert_refused(capsys, tmp_path, out, a, "--labels", la, "--status", "done", says="unknown")
    _assert_refused(capsys, tmp_path, out, a, "--labels", la, "--format", "tiff", says="format")
    _assert_refused(
        capsys, tmp_path, out, a, "--labels", data["la_projected"], says="no thermal frame has"
    )
    assert not out.exists()
    with h5py.File(a) as f:
        assert f.attrs["subject"] == "subjA"  # untouched by all this
    # A non-empty DIR is never touched.
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    _assert_refused(capsys, tmp_path, out, a, "--labels", la, says="not empty")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_unknown_class_mid_way_leaves_nothing(data, tmp_path, capsys):
    bad = _reviewed(data["la"], tmp_path / "bad.h5")
    with h5py.File(bad, "r+") as f:
        mask = f["thermal/masks"][CORRECTED[1]]
        mask[0, 0] = 7
        f["thermal/masks"][CORRECTED[1]] = mask
    out = tmp_path / "ds"
    _assert_refused(
        capsys,
        tmp_path,
        out,
        data["a"],
        "--labels",
        bad,
        says=f"frame {CORRECTED[1]} holds class id 7",
    )
    assert not out.exists()


def test_shape_mismatch_and_unsaved_edits_are_refused(data, tmp_path, capsys):
    other = tmp_path / "small.h5"
    with LabelWriter(
        other, session=data["a"], classes=["background", "left_calf", "right_calf"]
    ) as w:
        w.create_stream("thermal", 18, (64, 80))
    out = tmp_path / "ds"
    _assert_refused(capsys, tmp_path, out, data["a"], "--labels", other, says="masks are 80x64")
    _assert_refused(
        capsys,
        tmp_path,
        out,
        *(data["a"], "--labels", tmp_path / "none.h5", "--split", "test=0.5,train=0.5"),
        says="label file not found",
    )
    # Review edits still in the journal are not in the sidecar yet: refused; once saved,
    # they are exported.
    copy = _reviewed(data["la"], tmp_path / "edited.h5")
    store = LabelStore.open(copy, data["a"])
    assert store.accept("thermal", 12)
    store.close(save=False)
    _assert_refused(capsys, tmp_path, out, data["a"], "--labels", copy, says="unsaved review edit")
    LabelStore.open(copy, data["a"]).close()  # recovers the journal, saves
    assert _run(capsys, "export", data["a"], "--labels", copy, "--out", out, "-q")[0] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["train"]["accepted"] == len(ACCEPTED) + 1


def test_split_by_subject_needs_a_subject(data, tmp_path, capsys):
    session = tmp_path / "anon.h5"
    shutil.copy(data["a"], session)
    with h5py.File(session, "r+") as f:
        f.attrs["subject"] = ""
    labels = tmp_path / "anon.labels.h5"
    with (
        LabelReader(data["la"]) as src,
        LabelWriter(labels, session=session, classes=src.classes) as w,
    ):
        w.create_stream("thermal", src.count("thermal"), src.shape("thermal"))
        w.write("thermal", 0, src.mask("thermal", 0), 1, status=STATUS_ACCEPTED)
    argv = (session, "--labels", labels, "--split", "train=0.5,test=0.5")
    _assert_refused(capsys, tmp_path, tmp_path / "ds", *argv, says="names no subject")
    code, _, _ = _run(
        capsys, "export", *argv, "--split-by", "session", "--out", tmp_path / "ok", "-q"
    )
    assert code == 0
    m = json.loads((tmp_path / "ok" / "manifest.json").read_text())
    assert m["sessions"][0]["split"] == assign(parse_split("train=0.5,test=0.5", "session"), "anon")
