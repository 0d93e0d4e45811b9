"""The system libraries Qt's window needs, as Debian packages, and whether they are here.

PySide6's wheel brings Qt but not the X11, OpenGL, font and D-Bus libraries of the
system. When one is missing, Qt's xcb platform plugin fails to load and Qt aborts with
a multi-line message that names the wrong culprit ("xcb-cursor0 is needed" while
libxcb-icccm4 was the one missing). So the window commands ask ``ldd`` which libraries
the plugin cannot find *before* Qt loads it, and name the Debian packages to install.

:data:`LIBRARY_PACKAGES` is the one table of sonames → Debian packages: the window
commands' messages read it, ``scripts/install`` installs from it
(``python3 app/qt_libraries.py missing`` prints the packages it lacks), and
tests/test_qt_platform.py checks it against ``ldd`` of the plugins. No Qt import here
(Qt lives under app/ui/), and the standard library only: scripts/install runs this
file with the system Python before any venv exists.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

#: Every library outside Qt that Qt's xcb platform plugin (with its GLX/EGL
#: integrations), the offscreen plugin and the QtCore/QtGui/QtWidgets modules load,
#: directly or through each other, except the C/C++ runtime (:data:`BASE_LIBRARIES`).
LIBRARY_PACKAGES: dict[str, str] = {
    # the xcb platform plugin (libqxcb.so, libQt6XcbQpa.so.6)
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libbsd.so.0": "libbsd0",
    "libmd.so.0": "libmd0",
    # QtGui: keyboard, OpenGL/EGL, fonts, images
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libexpat.so.1": "libexpat1",
    "libpng16.so.16": "libpng16-16",
    "libbrotlicommon.so.1": "libbrotli1",
    "libbrotlidec.so.1": "libbrotli1",
    "libz.so.1": "zlib1g",
    # QtCore and QtDBus: GLib event loop, D-Bus
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libsystemd.so.0": "libsystemd0",
    "libcap.so.2": "libcap2",
    "libgcrypt.so.20": "libgcrypt20",
    "libgpg-error.so.0": "libgpg-error0",
    "liblz4.so.1": "liblz4-1",
    "liblzma.so.5": "liblzma5",
    "libzstd.so.1": "libzstd1",
}

#: The C and C++ runtime: Python itself and every PySide6 module load these first, so
#: they are never what keeps the window from opening.
BASE_LIBRARIES = frozenset(
    {
        "linux-vdso.so.1",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "libpthread.so.0",
        "librt.so.1",
        "libstdc++.so.6",
        "libgcc_s.so.1",
    }
)

HEADLESS = (
    "without a window use QT_QPA_PLATFORM=offscreen or the headless commands "
    "thermorig simulate, record, info"
)


def qt_dir() -> Path | None:
    """PySide6's ``Qt`` folder (libraries and plugins), found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def uses_xcb(env: Mapping[str, str]) -> bool:
    """Whether Qt will load its xcb (X11) platform plugin: QT_QPA_PLATFORM names it
    first (``xcb``, ``xcb:options``, ``xcb;wayland``), or is unset with an X display
    and no Wayland session (where Qt would try Wayland first)."""
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0].strip() == "xcb"
    if not env.get("DISPLAY"):
        return False
    return not (env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland")


def missing_libraries(binary: Path) -> list[str]:
    """Sonames the dynamic loader cannot find for ``binary`` or anything it loads,
    in ``ldd``'s order; [] where ldd itself is not there to ask."""
    try:
        out = subprocess.run(
            ["ldd", str(binary)], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = re.findall(r"^\s*(\S+)\s+=>\s+not found", out, re.M)
    return list(dict.fromkeys(found))


def packages_for(sonames: Iterable[str]) -> tuple[list[str], list[str]]:
    """(the Debian packages that provide ``sonames``, the sonames not in the table)."""
    packages, unknown = [], []
    for soname in sonames:
        if soname in LIBRARY_PACKAGES:
            packages.append(LIBRARY_PACKAGES[soname])
        else:
            unknown.append(soname)
    return sorted(set(packages)), unknown


def missing_message(what: str, sonames: list[str]) -> str:
    """One line: what lacks which libraries, the apt-get command, the headless way."""
    packages, unknown = packages_for(sonames)
    todo = []
    if packages:
        todo.append(
            f"install them as root: apt-get install -y {' '.join(packages)} "
            "(or run bash scripts/install as root)"
        )
    if unknown:
        todo.append(f"find the package of {', '.join(unknown)} with apt-file search")
    return (
        f"the window cannot start: {what} needs {', '.join(sonames)}, which this system "
        f"lacks; {'; '.join(todo)}; {HEADLESS}"
    )


def xcb_problem(env: Mapping[str, str] | None = None, plugin: Path | None = None) -> str:
    """Why Qt's xcb platform plugin would fail to load here (one line), or "": asked
    of ldd (about 20 ms) before Qt aborts on its own, only where xcb will be used."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux") or not uses_xcb(env):
        return ""
    if plugin is None:
        qt = qt_dir()
        if qt is None:
            return ""  # no PySide6: the import will say so
        plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return ""
    missing = missing_libraries(plugin)
    return missing_message("Qt's xcb platform plugin", missing) if missing else ""


def import_problem(exc: ImportError) -> str:
    """One line for a Qt import that failed on a missing system library (the loader's
    "libEGL.so.1: cannot open shared object file"), naming its package."""
    sonames = re.findall(r"(\S+\.so[.\d]*): cannot open shared object file", str(exc))
    if sonames:
        return missing_message("Qt", list(dict.fromkeys(sonames)))
    return f"the window cannot start: {' '.join(str(exc).split())}; {HEADLESS}"


def missing_packages() -> list[str]:
    """Packages of the table whose libraries the loader cannot open on this machine
    (what scripts/install installs); loading by soname follows the loader's own rules."""
    missing = []
    for soname, package in LIBRARY_PACKAGES.items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(package)
    return sorted(set(missing))


def main(argv: list[str]) -> int:
    """``missing``: the packages to install here; ``all``: every package of the table."""
    if argv == ["missing"]:
        print(" ".join(missing_packages()))
    elif argv == ["all"]:
        print(" ".join(sorted(set(LIBRARY_PACKAGES.values()))))
    else:
        print("usage: python3 app/qt_libraries.py missing|all", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
