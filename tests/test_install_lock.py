"""requirements/lock.txt and scripts/lockfile.py: the lock covers what setup.cfg asks
for within its ranges, is made for a named Python, and drift from it is reported."""

from __future__ import annotations

import configparser
import importlib.util
import json
import re
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"

_spec = importlib.util.spec_from_file_location("lockfile", ROOT / "scripts" / "lockfile.py")
lockfile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lockfile)


def setup_cfg_requirements() -> list[Requirement]:
    """install_requires, the test, train and gige extras, and the build backend's needs."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in ("test", "train", "gige"):
        lines += cfg["options.extras_require"][extra].splitlines()
    lines += lockfile.build_requires(ROOT / "pyproject.toml")
    return [Requirement(s) for s in (x.split("#")[0].strip() for x in lines) if s]


def test_the_lock_pins_every_requirement_within_setup_cfgs_ranges():
    pins, _ = lockfile.read_lock(LOCK)
    requirements = setup_cfg_requirements()
    assert len(requirements) >= 20
    outside = []
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate():
            continue
        name, version = pins[lockfile.normalize(req.name)]
        if not req.specifier.contains(version, prereleases=True):
            outside.append(f"{name}=={version} outside {req}")
    assert outside == []


def test_the_lock_says_how_when_and_for_which_python_it_was_made():
    text = LOCK.read_text()
    _, tag = lockfile.read_lock(LOCK)
    assert re.fullmatch(r"3\.\d+ \w+-\w+", tag), tag
    assert "bash scripts/lock on 20" in text and "# system: " in text


def test_the_lock_holds_the_cpu_torch_not_the_cuda_build():
    pins, _ = lockfile.read_lock(LOCK)
    assert pins["torch"][1].endswith("+cpu")
    assert lockfile.cuda_builds(list(pins.values())) == []


def report(*items: tuple[str, str, dict]) -> dict:
    """A pip ``install --report`` with the given (name, version, download_info)."""
    return {
        "version": "1",
        "install": [
            {"metadata": {"name": n, "version": v}, "download_info": info} for n, v, info in items
        ],
    }


def test_pins_come_from_pips_report_without_the_project_itself():
    pins = lockfile.pins_from_report(
        report(
            ("numpy", "2.4.6", {"url": "https://x/numpy.whl", "archive_info": {}}),
            ("thermorig", "0.1.0", {"url": "file:///src", "dir_info": {"editable": True}}),
            ("Jinja2", "3.1.6", {"url": "https://x/j.whl", "archive_info": {}}),
        )
    )
    assert pins == [("Jinja2", "3.1.6"), ("numpy", "2.4.6")]


def test_write_makes_a_lock_that_reads_back_and_refuses_a_cuda_torch(tmp_path, capsys):
    rep = tmp_path / "report.json"
    lock = tmp_path / "lock.txt"
    info = {"url": "https://x/t.whl", "archive_info": {}}
    rep.write_text(
        json.dumps(report(("torch", "2.13.0+cpu", info), ("PySide6_Essentials", "6.11.3", info)))
    )
    assert lockfile.write(rep, lock) == 0
    pins, tag = lockfile.read_lock(lock)
    assert pins == {
        "torch": ("torch", "2.13.0+cpu"),
        "pyside6-essentials": ("PySide6_Essentials", "6.11.3"),
    }
    assert tag == lockfile.python_tag()
    before = lock.read_text()
    rep.write_text(json.dumps(report(("torch", "2.13.0", info), ("nvidia-cublas", "13.1", info))))
    assert lockfile.write(rep, lock) == 2
    assert "CUDA torch" in capsys.readouterr().err
    assert lock.read_text() == before


def test_differences_name_upgrades_and_packages_the_lock_lacks():
    lock = {"numpy": ("numpy", "2.4.6"), "pillow": ("pillow", "13.0.0")}
    have = {
        "numpy": ("numpy", "2.5.0"),
        "pillow": ("Pillow", "13.0.0"),
        "rich": ("rich", "14.0.0"),
    }
    assert lockfile.differences(lock, have) == [
        "numpy 2.4.6 (lock) -> 2.5.0",
        "rich 14.0.0 (not in the lock)",
    ]


def test_another_python_gets_one_line_saying_how_to_proceed(tmp_path, capsys):
    lock = tmp_path / "lock.txt"
    lock.write_text(lockfile.lock_text([("numpy", "2.4.6")], "2026-01-01", "3.99 os-cpu", "X"))
    assert lockfile.check(lock) == 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "made for Python 3.99 os-cpu" in err and "--latest" in err
    lock.write_text(lockfile.lock_text([], "2026-01-01", lockfile.python_tag(), "X"))
    lockfile.check(lock)
    assert capsys.readouterr().err == ""
