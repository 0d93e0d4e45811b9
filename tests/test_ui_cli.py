"""Starting the window from the command line, and refusing to where there is no display."""

import os
import signal
import subprocess
import sys
import time

import pytest

import app.ui.app
import app.ui.main.launch
from app.bench import load_benchmarks
from app.cli import main
from app.commands.gui import display_problem

NO_DISPLAY = {
    k: v
    for k, v in os.environ.items()
    if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY matters on Linux only")
@pytest.mark.parametrize("args", [[], ["gui", "--source", "synthetic:treadmill"]])
def test_without_a_display_the_window_command_explains_and_exits_2(args):
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=NO_DISPLAY,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "QT_QPA_PLATFORM=offscreen" in err
    assert "simulate, record, info" in err


def test_display_problem_reads_the_environment():
    assert display_problem({}, "linux").startswith("no display found")
    assert display_problem({"DISPLAY": ":0"}, "linux") == ""
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") == ""
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") == ""
    assert display_problem({}, "win32") == "" and display_problem({}, "darwin") == ""


def test_no_subcommand_opens_the_window_on_the_synthetic_rig(monkeypatch):
    calls = []
    monkeypatch.setattr(
        app.ui.main.launch, "run_gui", lambda source, rig: calls.append((source, rig))
    )
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert main([]) == 0
    assert main(["gui", "--source", "replay:s.h5", "--rig", "r.json"]) == 0
    assert calls == [("synthetic:cycling", None), ("replay:s.h5", "r.json")]


def test_the_window_starts_its_source_ahead_with_a_short_switch_interval_until_done(
    monkeypatch,
):
    import app.commands.gui as gui

    before, started = sys.getswitchinterval(), []

    def head_start(spec, then):
        started.append((spec, sys.getswitchinterval(), then))
        return None if spec.startswith("replay:") else object()  # replays have none

    monkeypatch.setattr(gui, "head_start", head_start)
    monkeypatch.setattr(app.ui.main.launch, "run_gui", lambda source, rig: 0)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    try:
        assert main(["gui", "--source", "replay:s.h5"]) == 0
        assert sys.getswitchinterval() == before  # nothing ahead: put back at once
        assert main(["gui", "--source", "synthetic:treadmill"]) == 0
        spec, interval, then = started[-1]
        assert spec == "synthetic:treadmill"
        assert interval == pytest.approx(gui.STARTUP_SWITCH_INTERVAL_S)
        assert sys.getswitchinterval() == pytest.approx(gui.STARTUP_SWITCH_INTERVAL_S)  # building
        then()  # the head start is over
        assert sys.getswitchinterval() == before
    finally:
        sys.setswitchinterval(before)


def test_help_lists_the_gui_and_the_headless_commands_without_loading_qt():
    code = (
        "import sys, contextlib, io\n"
        "from app.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "print(out.getvalue())\n"
        "print('qt loaded:', any(m.startswith('PySide6') for m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for cmd in ("gui", "simulate", "record", "info"):
        assert cmd in r.stdout
    assert "qt loaded: False" in r.stdout


def test_preview_benchmark_is_registered_and_runs_the_windows_bench(monkeypatch):
    """``thermorig bench --only preview`` reaches the Qt side (app/ui/bench/preview.py)
    with the quick flag and reports what it returns. (A real quick run opens the window
    for ~30 s of live preview, recording and wizard: too long for the suite.)"""
    import app.ui.bench.preview

    calls = []
    marker = object()
    monkeypatch.setattr(
        app.ui.bench.preview, "run_preview_bench", lambda quick: calls.append(quick) or [marker]
    )
    bench = load_benchmarks()["preview"]
    assert bench(True) == [marker] and bench(False) == [marker]
    assert calls == [True, False]


def test_the_application_starts_and_exits_cleanly(tmp_path):
    """The real start-up path, quit after a moment: exit code 0, no crash at exit
    (pyqtgraph widgets left to garbage collection segfaulted on Qt 6.11.2)."""
    code = (
        "import sys\n"
        "from app.ui import app as ui\n"
        "from app.ui.main.launch import run_gui\n"
        "qapp = ui.make_app()\n"
        "from PySide6 import QtCore\n"
        "QtCore.QTimer.singleShot(2500, qapp.quit)\n"
        "sys.exit(run_gui('synthetic:cycling'))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "config" / "thermorig" / "thermorig.conf").exists(), "settings saved"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX signals")
def test_ctrl_c_in_the_terminal_closes_the_window(tmp_path):
    """SIGINT closes the window as its close button would (Qt alone swallowed it: the
    window stayed open), exit code 130, no traceback."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "gui", "--source", "replay:/no/such.h5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        time.sleep(4.0)  # the window is up (a source that cannot open: quick to start)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err


def test_run_window_returns_the_exit_code_then_disposes_the_window(qapp):
    """The one sequence that `thermorig gui` and `thermorig review` end with."""
    from PySide6 import QtCore, QtWidgets

    events = []

    class Window(QtWidgets.QWidget):
        def dispose(self) -> None:
            events.append(("dispose", self.isVisible()))

    window = Window()
    window.destroyed.connect(lambda: events.append(("deleted", None)))
    QtCore.QTimer.singleShot(0, lambda: qapp.exit(3))
    assert app.ui.app.run_window(window) == 3
    # Shown while the loop ran, disposed once after, then really deleted by Qt.
    assert events == [("dispose", True), ("deleted", None)]
