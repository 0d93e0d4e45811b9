"""Qt's system libraries: the soname → Debian package table against the plugins' own
``ldd``, and the one-line refusal when the xcb platform plugin cannot load."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import app.ui.main.launch
from app import qt_libraries
from app.cli import main
from app.qt_libraries import BASE_LIBRARIES, LIBRARY_PACKAGES

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Qt's system libraries matter on Linux only"
)

QT = qt_libraries.qt_dir()
PYSIDE = QT.parent


def window_binaries() -> list[Path]:
    """What Qt loads to open a window: the xcb plugin with its GLX/EGL integrations,
    the offscreen plugin (CI), and the Python modules the app imports."""
    plugins = QT / "plugins"
    found = [plugins / "platforms" / "libqxcb.so", plugins / "platforms" / "libqoffscreen.so"]
    found += sorted((plugins / "xcbglintegrations").glob("*.so"))
    for module in ("QtCore", "QtGui", "QtWidgets"):
        found += sorted(PYSIDE.glob(f"{module}.*.so"))
    assert all(p.is_file() for p in found) and len(found) >= 7, found
    return found


def ldd(binary: Path) -> dict[str, str]:
    """{soname: resolved path, or "" when not found} for everything ``binary`` loads."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    libs = {}
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) >= 3 and parts[1] == "=>":
            libs[parts[0]] = "" if parts[2] == "not" else parts[2]
        else:  # the vdso and the loader: "name (0x...)"
            libs[Path(parts[0]).name] = parts[0]
    return libs


def outside_qt() -> dict[str, str]:
    """The libraries of :func:`window_binaries` that PySide6's wheel does not carry."""
    libs: dict[str, str] = {}
    for binary in window_binaries():
        for soname, path in ldd(binary).items():
            if path.startswith(str(PYSIDE.parent)) or soname.startswith(("libQt6", "libicu")):
                continue
            libs[soname] = path
    return libs


def test_the_table_covers_every_system_library_the_window_loads():
    libs = outside_qt()
    # The plugin's own xcb libraries are among them (the set is not vacuous).
    assert {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"} <= set(libs)
    uncovered = sorted(s for s in libs if s not in LIBRARY_PACKAGES and s not in BASE_LIBRARIES)
    assert uncovered == [], "add these to app/qt_libraries.py LIBRARY_PACKAGES"


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg (Debian/Ubuntu)")
def test_the_table_names_the_package_that_owns_each_library_here():
    libs = {s: p for s, p in outside_qt().items() if p and s in LIBRARY_PACKAGES}
    # dpkg knows a library by the path it installed (/lib/... or the real file).
    paths = {s: {p, str(Path(p).resolve())} for s, p in libs.items()}
    r = subprocess.run(
        ["dpkg", "-S", *sorted(set().union(*paths.values()))], capture_output=True, text=True
    )
    owner = {}
    for line in r.stdout.splitlines():
        packages, path = line.split(": ", 1)
        owner[path] = {p.split(":")[0] for p in packages.split(", ")}
    wrong = {
        s: sorted(set().union(*(owner.get(p, set()) for p in paths[s])))
        for s in libs
        if LIBRARY_PACKAGES[s] not in set().union(*(owner.get(p, set()) for p in paths[s]))
    }
    assert wrong == {}, "dpkg says these libraries belong to other packages"
    assert len(libs) >= 20


@pytest.mark.parametrize(
    ("env", "xcb"),
    [
        ({"DISPLAY": ":0"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": ""}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),
        ({"QT_QPA_PLATFORM": "xcb:nograb"}, True),
        ({"QT_QPA_PLATFORM": "xcb;offscreen"}, True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}, False),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, False),
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, False),
        ({}, False),
    ],
)
def test_uses_xcb_follows_how_qt_picks_its_platform(env, xcb):
    assert qt_libraries.uses_xcb(env) is xcb


#: A library no system has, given a table entry for these tests: a real library of the
#: table (libxcb-icccm.so.4) cannot be hidden from the loader where it is installed.
ABSENT, ABSENT_PACKAGE = "libthermorig-absent.so.4", "libthermorig-absent4"


@pytest.fixture
def plugin_missing_a_library(tmp_path, monkeypatch) -> Path:
    """A real shared object that needs :data:`ABSENT` from a folder that is then
    emptied: ldd reports it "not found", as it does a missing libxcb-icccm.so.4."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("needs a C compiler to build a plugin with a missing library")
    monkeypatch.setitem(LIBRARY_PACKAGES, ABSENT, ABSENT_PACKAGE)
    stub = tmp_path / "stub"
    stub.mkdir()
    (tmp_path / "s.c").write_text("int stub_symbol(void) { return 1; }\n")
    (tmp_path / "p.c").write_text("int stub_symbol(void);\nint f(void) { return stub_symbol(); }\n")
    lib = stub / ABSENT
    subprocess.run(
        [cc, "-shared", "-fPIC", f"-Wl,-soname,{ABSENT}", "-o", lib, tmp_path / "s.c"], check=True
    )
    platforms = tmp_path / "Qt" / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    plugin = platforms / "libqxcb.so"
    subprocess.run(
        [cc, "-shared", "-fPIC", "-o", plugin, tmp_path / "p.c", "-L", stub, f"-l:{ABSENT}"],
        check=True,
    )
    lib.unlink()
    return plugin


def test_a_missing_library_is_named_with_its_package_and_the_apt_command(
    plugin_missing_a_library,
):
    assert qt_libraries.missing_libraries(plugin_missing_a_library) == [ABSENT]
    line = qt_libraries.xcb_problem({"DISPLAY": ":0"}, plugin_missing_a_library)
    assert "\n" not in line
    assert ABSENT in line
    assert f"apt-get install -y {ABSENT_PACKAGE} " in line
    assert "QT_QPA_PLATFORM=offscreen" in line and "simulate, record, info" in line
    # Not asked where Qt will not use xcb.
    offscreen = {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}
    assert qt_libraries.xcb_problem(offscreen, plugin_missing_a_library) == ""


def test_thermorig_refuses_in_one_line_before_qt_loads_a_broken_xcb_plugin(
    plugin_missing_a_library, monkeypatch, capsys
):
    monkeypatch.setattr(qt_libraries, "qt_dir", lambda: plugin_missing_a_library.parents[2])
    monkeypatch.setattr(app.ui.main.launch, "run_gui", lambda *a: pytest.fail("Qt was started"))
    monkeypatch.setenv("DISPLAY", ":99")
    for key in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(key, raising=False)
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"apt-get install -y {ABSENT_PACKAGE}" in err


def test_a_library_outside_the_table_is_named_for_apt_file(tmp_path):
    """A copy of the real plugin away from PySide6 loses Qt's own libraries: no Debian
    package to name, so the line says how to look one up."""
    copy = tmp_path / "libqxcb.so"
    shutil.copy(QT / "plugins" / "platforms" / "libqxcb.so", copy)
    line = qt_libraries.xcb_problem({"DISPLAY": ":0"}, copy)
    assert "libQt6XcbQpa.so.6" in line and "apt-file search" in line and "\n" not in line


def test_a_failed_qt_import_names_the_package_of_its_library():
    exc = ImportError("libEGL.so.1: cannot open shared object file: No such file or directory")
    line = qt_libraries.import_problem(exc)
    assert "apt-get install -y libegl1 " in line and "QT_QPA_PLATFORM=offscreen" in line


def test_install_gets_the_packages_of_the_libraries_ldd_cannot_find():
    """scripts/install's list (``app/qt_libraries.py missing``) holds at least the
    packages of what the xcb plugin lacks here (none on a complete machine)."""
    r = subprocess.run(
        [sys.executable, str(Path(qt_libraries.__file__)), "missing"],
        capture_output=True,
        text=True,
        check=True,
    )
    lacking = qt_libraries.missing_libraries(QT / "plugins" / "platforms" / "libqxcb.so")
    assert set(qt_libraries.packages_for(lacking)[0]) <= set(r.stdout.split())
