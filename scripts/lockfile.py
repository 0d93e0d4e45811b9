"""requirements/lock.txt: write it from pip's resolution, read it, compare a venv with it.

The lock is a pip constraints file (``name==version`` lines) under a header that says
how, when and for which Python it was made. ``scripts/lock`` writes it from the report
of ``pip install --dry-run --report`` (pip's own resolver: no second resolver to trust);
``scripts/install`` installs with it as constraints and then calls ``diff`` here, so a
venv that drifted from the lock, or an upgrade tried with ``--latest``, is printed
rather than silent. Standard library only: it runs before anything is installed.

Usage (run from the repository root):
    python scripts/lockfile.py build-requires
    python scripts/lockfile.py write REPORT.json LOCK
    python scripts/lockfile.py check LOCK
    python scripts/lockfile.py diff LOCK [--latest]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import sys
from pathlib import Path

#: The header line that names the interpreter a lock was made for.
PYTHON_LINE = "# python: "


def normalize(name: str) -> str:
    """PEP 503 form: pip freeze, metadata and the lock may spell a name differently
    (PySide6_Essentials, pyside6-essentials)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def python_tag() -> str:
    """``3.11 linux-x86_64``: what decides which wheels a lock's versions have."""
    v = sys.version_info
    return f"{v.major}.{v.minor} {sys.platform}-{platform.machine()}"


def os_name() -> str:
    """The distribution's pretty name (the system libraries the wheels were tested on)."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return platform.platform()
    found = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.M)
    return found.group(1) if found else platform.platform()


def build_requires(pyproject: Path = Path("pyproject.toml")) -> list[str]:
    """The build backend's requirements (``[build-system] requires``), so that the lock
    pins the setuptools and wheel that build the editable install, from one list."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pip carries the same parser
        from pip._vendor import tomli as tomllib
    return list(tomllib.loads(pyproject.read_text())["build-system"]["requires"])


def pins_from_report(report: dict) -> list[tuple[str, str]]:
    """(name, version) of every distribution in a ``pip install --report``, sorted;
    the project itself (installed from its directory) is left out."""
    pins = []
    for item in report["install"]:
        if "dir_info" in item.get("download_info", {}):
            continue
        meta = item["metadata"]
        pins.append((meta["name"], meta["version"]))
    return sorted(pins, key=lambda p: normalize(p[0]))


def cuda_builds(pins: list[tuple[str, str]]) -> list[str]:
    """Pins that mean a CUDA torch: this lock is for the CPU wheel (a few hundred MB,
    not several GB of nvidia-* packages)."""
    bad = [f"{n}=={v}" for n, v in pins if normalize(n).startswith("nvidia-")]
    bad += [f"{n}=={v}" for n, v in pins if normalize(n) == "torch" and "+cpu" not in v]
    return bad


def lock_text(pins: list[tuple[str, str]], date: str, tag: str, system: str) -> str:
    """The lock file's content: the header, then one ``name==version`` line each."""
    header = [
        "# thermorig's lock: the exact versions CI tests; bash scripts/install and .ci/run",
        "# install with it as pip constraints (bash scripts/install --latest ignores it).",
        f"# Made by bash scripts/lock on {date}: pip's resolution of pip, the build backend",
        "# (pyproject.toml) and .[test,train,gige] at the newest versions setup.cfg allows.",
        f"{PYTHON_LINE}{tag}",
        f"# system: {system}",
        "# To update: bash scripts/lock, then bash .ci/run, then commit (docs/install.md).",
    ]
    return "\n".join(header + [f"{n}=={v}" for n, v in pins]) + "\n"


def read_lock(path: Path) -> tuple[dict[str, tuple[str, str]], str]:
    """The pins ({normalized name: (name, version)}) and the Python tag of a lock."""
    pins: dict[str, tuple[str, str]] = {}
    tag = ""
    for line in path.read_text().splitlines():
        if line.startswith(PYTHON_LINE):
            tag = line[len(PYTHON_LINE) :].strip()
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = (s.strip() for s in line.split("==", 1))
            pins[normalize(name)] = (name, version)
    return pins, tag


def installed() -> dict[str, tuple[str, str]]:
    """Distributions of the running interpreter, except those installed from a local
    directory (the editable project), as {normalized name: (name, version)}."""
    found = {}
    for dist in importlib.metadata.distributions():
        direct = dist.read_text("direct_url.json")
        if direct and "dir_info" in json.loads(direct):
            continue
        name = dist.metadata["Name"]
        found[normalize(name)] = (name, dist.version)
    return found


def differences(lock: dict[str, tuple[str, str]], have: dict[str, tuple[str, str]]) -> list[str]:
    """One line per installed distribution whose version is not the locked one."""
    lines = []
    for key in sorted(have):
        name, version = have[key]
        if key not in lock:
            lines.append(f"{name} {version} (not in the lock)")
        elif lock[key][1] != version:
            lines.append(f"{name} {lock[key][1]} (lock) -> {version}")
    return lines


def write(report_path: Path, lock_path: Path) -> int:
    """Write the lock from a pip report, atomically (a failed run leaves the old one)."""
    pins = pins_from_report(json.loads(report_path.read_text()))
    bad = cuda_builds(pins)
    if bad:
        print(
            f"scripts/lock: pip chose a CUDA torch ({', '.join(bad[:3])}); give it the CPU "
            "wheel (PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu) and run again",
            file=sys.stderr,
        )
        return 2
    date = datetime.date.today().isoformat()
    tmp = lock_path.with_name(lock_path.name + ".tmp")
    tmp.write_text(lock_text(pins, date, python_tag(), os_name()))
    os.replace(tmp, lock_path)
    print(f"{lock_path}: {len(pins)} pins for Python {python_tag()}")
    return 0


def check(lock_path: Path) -> int:
    """One line if this interpreter is not the one the lock was made for."""
    _, tag = read_lock(lock_path)
    if tag and tag != python_tag():
        print(
            f"note: {lock_path} was made for Python {tag}, this is Python {python_tag()}: installing "
            "from it anyway; if pip cannot, use bash scripts/install --latest [EXTRAS] (and "
            "bash scripts/lock to lock for this Python, see docs/install.md)",
            file=sys.stderr,
        )
    return 0


def diff(lock_path: Path, latest: bool) -> int:
    """Print how this venv differs from the lock (the upgrades --latest brought in)."""
    pins, _ = read_lock(lock_path)
    lines = differences(pins, installed())
    if not lines:
        print(f"installed versions are those of {lock_path}")
        return 0
    head = "newest versions that differ from" if latest else "this venv differs from"
    print(f"{head} {lock_path}:")
    for line in lines:
        print(f"  {line}")
    if latest:
        print("to adopt them: bash scripts/lock, then bash .ci/run, then commit the lock")
    else:
        print("(left from an earlier install: a fresh venv gets exactly the lock)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build-requires")
    w = sub.add_parser("write")
    w.add_argument("report", type=Path)
    w.add_argument("lock", type=Path)
    c = sub.add_parser("check")
    c.add_argument("lock", type=Path)
    d = sub.add_parser("diff")
    d.add_argument("lock", type=Path)
    d.add_argument("--latest", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "build-requires":
        print("\n".join(build_requires()))
        return 0
    if args.cmd == "write":
        return write(args.report, args.lock)
    if args.cmd == "check":
        return check(args.lock)
    return diff(args.lock, args.latest)


if __name__ == "__main__":
    sys.exit(main())
