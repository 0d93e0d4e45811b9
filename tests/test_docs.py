"""docs/ against the code: the command reference, the format pages, no stale pointers.

The format pages are checked against files the code really writes — a freshly
simulated session (`thermorig simulate`, 1 s of the calibration scene: truth, a board
and all four streams), a session with a rig written without hdf5plugin, a label
sidecar with every optional dataset and a review journal — both ways: every dataset
and attribute a page names exists with the documented dtype and shape, and every one
the files hold is documented. The pages' Python snippets are run on those files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from app import docs_commands
from app.cli import build_parser
from app.cli import main as cli_main
from app.labels.sidecar import SOURCE_NAMES, STATUS_NAMES
from app.labels.sidecar_writer import LabelWriter
from app.labels.store import LabelStore
from calibration.projection import REASONS
from calibration.rig import Rig
from calibration.rig_yaml import save_rig_yaml
from drivers.base import SourceInfo
from drivers.session import SessionReader
from drivers.types import Frame, StreamSpec
from models.catalog import BUNDLED_DIR
from models.spec import parse_manifest

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ROOT / "docs" / "formats"
REGENERATE = f"run `.venv/bin/{docs_commands.REGENERATE}` and commit the result"


# -- reading the pages -----------------------------------------------------------------
def table(page: Path, header: tuple[str, ...]) -> list[list[str]]:
    """Rows of the markdown table on ``page`` whose header cells are ``header``."""
    rows: list[list[str]] = []
    inside = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            inside = False
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if tuple(cells) == header:
            inside = True
        elif inside and not set("".join(cells)) <= set("-: "):
            rows.append(cells)
    assert rows, f"{page.name} has no table headed {header}"
    return rows


def code(cell: str) -> str:
    """The first `code span` of a cell."""
    m = re.search(r"`([^`]*)`", cell)
    assert m, f"expected a `name` in {cell!r}"
    return m.group(1)


def snippets(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


def run_snippets(page: Path, folder: Path, monkeypatch) -> dict:
    """Run every Python snippet of ``page`` in ``folder``; the last one's variables."""
    monkeypatch.chdir(folder)
    found = snippets(page)
    assert found, f"{page.name} has no Python snippet"
    namespace: dict = {}
    for text in found:
        namespace = {}
        exec(compile(text, f"{page.name} snippet", "exec"), namespace)
    return namespace


def dtype_matches(cell: str, dtype: np.dtype) -> bool:
    if "string" in cell:
        info = h5py.check_string_dtype(dtype)
        return info is not None and info.encoding == "utf-8"
    names = re.findall(r"`(\w+)`", cell)
    return not names or str(dtype) in names


def shape_matches(cell: str, shape: tuple[int, ...]) -> bool:
    """``(N, H, W) or (N, H, W, C)``: rank and every literal size must match one form."""
    for form in re.findall(r"\(([^)]*)\)", cell):
        dims = [d.strip() for d in form.split(",") if d.strip()]
        if len(dims) == len(shape) and all(
            not d.isdigit() or int(d) == s for d, s in zip(dims, shape, strict=True)
        ):
            return True
    return False


def general(path: str, streams: list[str], prefix: str = "") -> str:
    """``/streams/thermal/frames`` → ``/streams/<name>/frames`` (the pages' spelling)."""
    parts = path.split("/")
    for i, p in enumerate(parts):
        if p in streams and (not prefix or (i > 0 and parts[i - 1] == prefix)):
            parts[i] = "<name>" if prefix else "<stream>"
    return "/".join(parts)


def contents(f: h5py.File) -> tuple[dict[str, h5py.Dataset], dict[tuple[str, str], object]]:
    """Every dataset by path, every attribute by (node path, name)."""
    datasets: dict[str, h5py.Dataset] = {}
    attrs = {("/", k): v for k, v in f.attrs.items()}

    def visit(name: str, obj) -> None:
        if isinstance(obj, h5py.Dataset):
            datasets["/" + name] = obj
        attrs.update({("/" + name, k): v for k, v in obj.attrs.items()})

    f.visititems(visit)
    return datasets, attrs


# -- the files the pages describe ---------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """S.h5 (simulated), RIG.h5 (with /rig, written without hdf5plugin), S.labels.h5
    with its journal, RIG.json, RIG.yaml, MODEL.onnx/.json — in one folder."""
    folder = tmp_path_factory.mktemp("docs")
    session = folder / "S.h5"
    argv = ["simulate", str(session), "--scene", "calibration", "--seconds", "1", "-q"]
    assert cli_main(argv) == 0
    with SessionReader(session) as s:
        rig = Rig.from_dict(s.truth["rig"])
        n, shape = s.count("thermal"), s.streams["thermal"].shape
    rig.save(folder / "RIG.json")
    save_rig_yaml(rig, folder / "RIG.yaml")
    _write_rig_session(folder / "RIG.h5", rig)
    varied = ["simulate", str(folder / "SUBJECT.h5"), "--subject", "2", "--seconds", "0.2", "-q"]
    assert cli_main(varied) == 0  # a varied subject: /truth subject and setup
    labels = folder / "S.labels.h5"
    with LabelWriter(labels, session=session, classes=["background", "left_calf"]) as w:
        names = ("left_knee", "right_knee")
        w.create_stream(
            "thermal",
            n,
            shape,
            ("confidence", "validity", "time_gap", "keypoints"),
            names,
            provenance="written by the docs test",
        )
    store = LabelStore.open(labels, session)
    store.accept("thermal", 0)
    store.record_time("thermal", 0, 4.0, 1)  # review time: review_seconds/review_source
    store.save()  # a review save: the file gets journal_applied
    mask = store.mask("thermal", 3)
    mask[10:20, 30:45] = 1
    store.set_mask("thermal", 3, mask)
    store.accept("thermal", 4)
    store.close(save=False)  # edits left in the journal, as a killed review window leaves them
    for ext in ("onnx", "json"):
        shutil.copy(BUNDLED_DIR / f"thermal-calf-seg.{ext}", folder / f"MODEL.{ext}")
    return folder


def _write_rig_session(path: Path, rig: Rig) -> None:
    import drivers.codecs
    import drivers.session_writer as sw

    spec = StreamSpec("depth", "depth", (4, 5), "uint16", "depth_units", 30.0, depth_scale=0.001)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(drivers.codecs, "hdf5plugin", None)
        info = SourceInfo(spec="test:rig", rig=rig.to_dict())
        with sw.SessionWriter(path, {"depth": spec}, info) as w:
            w.write(Frame("depth", 0, 0.0, np.zeros((4, 5), np.uint16)))
            w.mark(0.0, "start")
            w.gap("depth", 0.0, 0.1, "test")


# -- command reference ------------------------------------------------------------------
def test_command_reference_and_readme_table_match_the_parsers():
    stale = [str(p.relative_to(ROOT)) for p in docs_commands.stale_files()]
    assert not stale, f"{', '.join(stale)} differ from the argparse parsers: {REGENERATE}"


def test_every_command_and_option_appears_in_the_reference_and_readme():
    reference = docs_commands.REFERENCE.read_text(encoding="utf-8")
    readme = docs_commands.README.read_text(encoding="utf-8")
    commands = docs_commands.subcommands(build_parser())
    assert len(commands) >= 15
    for name, _help, parser in commands:
        head = f"### thermorig {name}\n"
        assert head in reference, f"docs/commands.md lacks {name}: {REGENERATE}"
        section = reference.split(head, 1)[1].split("\n### ", 1)[0]
        rows = "\n".join(line for line in section.splitlines() if line.startswith("| `"))
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue  # -h is every command's; the intro says so
            for option in action.option_strings or [action.metavar or action.dest]:
                pattern = rf"(?<![\w-]){re.escape(option)}(?![\w-])"
                assert re.search(pattern, rows), (
                    f"{name} {option} not in docs/commands.md: {REGENERATE}"
                )
        assert f"(docs/commands.md#thermorig-{name})" in readme, f"README lacks {name}"


def test_generator_rewrites_only_its_block(tmp_path, monkeypatch):
    page = tmp_path / "commands.md"
    begin = docs_commands.BEGIN.format(name="COMMAND REFERENCE")
    end = docs_commands.END.format(name="COMMAND REFERENCE")
    page.write_text(f"intro kept\n{begin}\nold\n{end}\nafter kept\n")
    readme = tmp_path / "README.md"
    readme.write_text(docs_commands.README.read_text(encoding="utf-8"))
    monkeypatch.setattr(docs_commands, "REFERENCE", page)
    monkeypatch.setattr(docs_commands, "README", readme)
    assert docs_commands.main(["--check"]) == 1
    assert docs_commands.main([]) == 0
    text = page.read_text()
    assert text.startswith("intro kept\n") and text.endswith(f"{end}\nafter kept\n")
    assert "### thermorig simulate" in text and "\nold\n" not in text
    assert docs_commands.main(["--check"]) == 0
    page.write_text("no markers\n")
    assert docs_commands.main([]) == 2 and page.read_text() == "no markers\n"


# -- session ----------------------------------------------------------------------------
PRESENT_IN_SIMULATION = {"always", "truth", "board", "depth", "intrinsics"}


def test_session_page_matches_a_simulated_session(files):
    page = FORMATS / "session.md"
    documented = {
        code(r[0]): r for r in table(page, ("path", "dtype", "shape", "present", "meaning"))
    }
    documented_attrs = {
        (code(r[0]), code(r[1])): r[3]
        for r in table(page, ("node", "attribute", "type", "present", "meaning"))
    }
    seen: set[str] = set()
    seen_attrs: set[tuple[str, str]] = set()
    for name in ("S.h5", "RIG.h5", "SUBJECT.h5"):
        with h5py.File(files / name, "r") as f:
            streams = list(f["streams"])
            datasets, attrs = contents(f)
            for path, ds in datasets.items():
                key = general(path, streams, "streams") if "/streams/" in path else path
                key = general(key, streams, "truth") if key.startswith("/truth/") else key
                assert key in documented, f"{path} of {name} is not in session.md"
                _, dtype, shape, _, _ = documented[key]
                assert dtype_matches(dtype, ds.dtype), f"{path}: {ds.dtype}, page says {dtype}"
                assert shape_matches(shape, ds.shape), f"{path}: {ds.shape}, page says {shape}"
                seen.add(key)
            for node, attr in attrs:
                key = (general(node, streams, "streams"), attr)
                assert key in documented_attrs, f"attribute {attr} of {node} not in session.md"
                seen_attrs.add(key)
            if name == "S.h5":
                for key, row in documented.items():
                    if row[3] in PRESENT_IN_SIMULATION:
                        for s in streams:
                            assert key.replace("<name>", s) in f, f"{key} missing for {s}"
                for (node, attr), present in documented_attrs.items():
                    wanted = ["depth"] if present == "depth" else streams
                    if present in PRESENT_IN_SIMULATION:
                        for s in wanted:
                            assert attr in f[node.replace("<name>", s)].attrs, (node, attr, s)
    assert seen == set(documented), f"documented but never written: {set(documented) - seen}"
    assert seen_attrs == set(documented_attrs), set(documented_attrs) - seen_attrs


def test_session_page_stream_table_matches_the_simulated_streams(files):
    header = ("stream", "frames dtype", "shape", "`units`", "pixel value")
    rows = {code(r[0]): r for r in table(FORMATS / "session.md", header)}
    with SessionReader(files / "S.h5") as s:
        assert set(s.streams) == set(rows)
        for name, spec in s.streams.items():
            assert f"`{spec.dtype}`" in rows[name][1], name
            assert f"`{spec.units}`" in rows[name][3], name
            assert shape_matches(rows[name][2], (s.count(name), *spec.shape)), name


def test_session_page_snippet_reads_the_simulated_session(files, monkeypatch):
    ns = run_snippets(FORMATS / "session.md", files, monkeypatch)
    assert ns["n"] == 30 and ns["classes"] == ["background", "left_calf", "right_calf"]
    assert 0 < float(np.nanmin(ns["metres"][ns["metres"] > 0])) < 5
    assert 10 < float(np.median(ns["celsius"])) < 40


# -- labels -----------------------------------------------------------------------------
def test_labels_page_matches_a_written_sidecar(files):
    page = FORMATS / "labels.md"
    documented = {
        code(r[0]): r for r in table(page, ("path", "dtype", "shape", "present", "meaning"))
    }
    header = ("node", "attribute", "type", "present", "meaning")
    documented_attrs = {(code(r[0]), code(r[1])) for r in table(page, header)}
    with h5py.File(files / "S.labels.h5", "r") as f:
        datasets, attrs = contents(f)
        found = {general(p, ["thermal"]): (ds.dtype, ds.shape) for p, ds in datasets.items()}
    assert set(found) == set(documented)
    for key, (dt, shape) in found.items():
        _, dtype_cell, shape_cell, _, _ = documented[key]
        assert dtype_matches(dtype_cell, dt) and shape_matches(shape_cell, shape), key
    assert {(general(n, ["thermal"]), a) for n, a in attrs} == documented_attrs
    source, status = documented["/<stream>/source"][4], documented["/<stream>/status"][4]
    assert all(f"{i} {n}" in source for i, n in enumerate(SOURCE_NAMES))
    assert all(f"{i} {n}" in status for i, n in enumerate(STATUS_NAMES))
    codes = table(page, ("code", "name", "meaning"))
    assert [(int(c), n) for c, n, _ in codes] == list(enumerate(REASONS))


def test_labels_page_snippets_read_the_sidecar_and_its_journal(files, monkeypatch):
    ns = run_snippets(FORMATS / "labels.md", files, monkeypatch)
    records = ns["records"]
    with h5py.File(files / "S.labels.h5", "r") as f:
        assert records[0] == {"kind": "header", "generation": f.attrs["generation"], "changes": []}
    assert [r["kind"] for r in records[1:]] == ["do", "do"]
    brush = records[1]["changes"][0]
    assert (brush["frame"], brush["y0"], brush["x0"], brush["shape"]) == (3, 10, 30, [10, 15])


# -- rig --------------------------------------------------------------------------------
def test_rig_page_names_every_json_and_yaml_key(files, monkeypatch):
    page = FORMATS / "rig.md"
    rig = json.loads((files / "RIG.json").read_text())
    keys = {k for k in rig if k != "cameras"} | {"cameras"}
    for cam in rig["cameras"].values():
        keys |= {f"cameras.<name>.{k}" for k in cam}
    assert {code(r[0]) for r in table(page, ("JSON key", "type", "meaning"))} == keys
    fs = cv2.FileStorage(str(files / "RIG.yaml"), cv2.FILE_STORAGE_READ)
    yaml_keys = set(fs.root().keys()) - {"cameras"}
    cams = fs.getNode("cameras")
    for name in cams.keys():
        yaml_keys |= {f"cameras.<name>.{k}" for k in cams.getNode(name).keys()}
    fs.release()
    assert {code(r[0]) for r in table(page, ("YAML key", "meaning"))} == yaml_keys
    ns = run_snippets(page, files, monkeypatch)
    assert ns["K"].shape == (3, 3) and ns["R"].shape == (3, 3)
    assert np.allclose(ns["R"], np.linalg.inv(ns["T_ref_thermal"])[:3, :3])


# -- model package ----------------------------------------------------------------------
def _flat(d: dict, prefix: str = "") -> dict[str, object]:
    """``{"input": {"size": ...}}`` → ``{"input.size": ...}`` (provenance kept whole)."""
    out: dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "provenance":
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[prefix + k] = v
    return out


def test_model_page_names_every_field_and_its_default(files, monkeypatch):
    page = FORMATS / "model-package.md"
    rows = {code(r[0]): r for r in table(page, ("field", "type", "default", "meaning"))}
    kp = {"task": "keypoints", "keypoints": ["a"], "input": {"size": [64, 64]}}
    variants = [
        json.loads((files / "MODEL.json").read_text()),
        {**kp, "input": {"size": [64, 64], "representation": "heatmap"}},
        {**kp, "output": {"kind": "coordinates"}},
    ]
    fields = set().union(*(_flat(parse_manifest(v, "t").to_dict()) for v in variants))
    assert fields | {"provenance.figures"} == set(rows)
    minimal = {"task": "segmentation", "classes": ["a"], "input": {"size": [64, 64]}}
    checked = 0
    for key, value in _flat(parse_manifest(minimal, "t").to_dict()).items():
        m = re.match(r"`([^`]*)`", rows[key][2])  # a default the page spells out
        if m:
            text = m.group(1)
            expected = json.loads(text) if text[:1] in '["{-0123456789' else text
            assert expected == value, f"{key}: the page says {text}, the code {value!r}"
            checked += 1
    assert checked >= 8
    ns = run_snippets(page, files, monkeypatch)
    assert ns["out"].shape[:2] == (1, 3)


# -- no pointers outside the product ----------------------------------------------------
SKIP_DIRS = {"__pycache__", "build", "dist", "venv", "node_modules"}


def test_nothing_points_at_the_design_notes_outside_the_repo():
    needles = ("../" + "shared", "DESIGN" + ".md")  # spelled apart: this file is scanned too
    hits = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [
            d for d in dirs if not (d.startswith(".") or d in SKIP_DIRS or d.endswith(".egg-info"))
        ]
        for name in names:
            path = Path(folder) / name
            data = path.read_bytes()
            hits += [f"{path.relative_to(ROOT)}: {n}" for n in needles if n.encode() in data]
    assert not hits, "point people at docs/ instead: " + "; ".join(hits)
