"""The house rules of the code, checked rather than remembered.

- Layers and external imports: the import-linter contracts in setup.cfg (app over
  calibration and models, all over drivers; Qt only under app.ui; torch only under
  models.training), run through ``lint-imports`` as a person would run it.
- No import circles among thermorig's modules, function-level imports included.
- Modules stay small (≤ 450 lines) and app/ keeps its concepts in packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "calibration", "drivers", "models")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_import_contracts_are_kept():
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    kept = r.stdout.split("Contracts:")[-1]
    assert "0 broken" in kept and int(kept.split("kept")[0].split()[-1]) >= 3, kept


@pytest.mark.parametrize(
    ("where", "line", "contract"),
    [
        ("app/display.py", "import PySide6", "Qt (PySide6, pyqtgraph) is imported only"),
        ("calibration/rig.py", "import torch", "torch is imported only under models.training"),
        ("drivers/session.py", "import app.progress", "app over calibration and models"),
        ("models/metrics.py", "import calibration.rig", "app over calibration and models"),
    ],
)
def test_each_contract_catches_a_broken_rule(tmp_path, where, line, contract):
    """A copy of the code with one forbidden import added: lint-imports must say which
    contract it breaks (the contracts are not vacuous)."""
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("*.onnx"))
    shutil.copy(ROOT / "setup.cfg", tmp_path / "setup.cfg")
    target = tmp_path / where
    target.write_text(f"{line}  # noqa\n" + target.read_text())
    r = _lint(tmp_path)
    assert r.returncode != 0
    broken = r.stdout.split("Broken contracts")[-1]
    assert contract in broken.replace("\n", " "), r.stdout[-3000:]


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.append(m)
                    if m == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_circles():
    graph = grimp.build_graph(*PACKAGES)
    assert _cycles(graph) == []


def test_the_circle_finder_finds_a_circle():
    graph = grimp.ImportGraph()
    for m in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(m)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y"]]


def test_modules_stay_small():
    too_long = {
        str(p.relative_to(ROOT)): n
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 450
    }
    assert too_long == {}


def test_app_keeps_its_concepts_in_packages():
    """At most six loose modules at app's top besides __init__ and cli: the rest of app
    lives in packages named for what they own (labels, export, analysis, review, live)."""
    loose = sorted(p.name for p in (ROOT / "app").glob("*.py") if p.stem not in ("__init__", "cli"))
    assert len(loose) <= 6, loose
