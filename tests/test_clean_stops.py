"""Clean stops and full disks (issue 14, cases 5 and 6), with real processes and signals.

Ctrl-C (once, or twice 20 ms apart) and SIGTERM on ``record``, ``autolabel`` and
``export`` must close every writer, leave no temporary file and print one line with a
defined exit code (130 for SIGINT, 143 for SIGTERM); a full disk must give one line,
exit 2, no temporary file and the old file intact. Each scenario runs the real command
in a child process; readiness is polled (a file growing, a temporary file appearing),
never slept for.

A genuinely full disk needs a small file system: as root a tmpfs is mounted for the
test (skipped with the reason when not root; where root cannot mount, the test is left
out locally and fails under CI, see tests.real_data). A per-process file size limit
(RLIMIT_FSIZE) makes the same failure without root.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import pytest

from app.cli import main
from drivers import stop_request
from drivers.errors import DiskFullError, ThermorigError
from drivers.session import SessionReader
from drivers.stop_request import Interrupted, deferred, handling_stop_signals
from drivers.write_failures import WriteError, write_error
from tests.fakes import FakeRig, write_fake_session
from tests.real_data import unavailable

REPO = Path(__file__).resolve().parents[1]
THERMORIG = [sys.executable, "-m", "app.cli"]
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and mounts")


# -- helpers ------------------------------------------------------------------------
def start(*args: object, **popen: object) -> subprocess.Popen:
    return subprocess.Popen(
        [*THERMORIG, *(str(a) for a in args)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen, timeout: float = 120) -> None:
    """Poll ``ready`` until true; fail if ``proc`` ends first or it takes too long."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the command ended before it was ready: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"not ready after {timeout} s")
        time.sleep(0.02)


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); a command that does not end in time is a failure."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running {timeout} s after the signal (hung); stderr: {err!r}")
    return proc.returncode, out, err


def the_one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {stderr!r}"
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Temporary files and staging folders a writer left behind."""
    return sorted(
        p.name for p in folder.iterdir() if p.name.endswith(".tmp") or ".partial-" in p.name
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def small_fs(size: str, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``4m``) mounted for the block: a disk that really fills."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    folder = Path(tempfile.mkdtemp(prefix="thermorig-fs-"))
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        unavailable(f"root could not mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def fill(folder: Path, leave: int) -> None:
    """Fill ``folder``'s file system until about ``leave`` bytes are free."""
    free = shutil.disk_usage(folder).free
    with open(folder / "filler", "wb") as fh:
        fh.write(b"\0" * max(free - leave, 0))


# -- fixtures -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def replay_source(tmp_path_factory) -> Path:
    """3 s of large fake frames: recorded again with --fast, the writer is still busy
    (compressing a full queue) when a stop signal comes."""
    path = tmp_path_factory.mktemp("replay") / "source.h5"
    write_fake_session(path, FakeRig(duration=3.0, scale=32))
    return path


@pytest.fixture(scope="module")
def labeled(tmp_path_factory) -> dict[str, Path]:
    """1 s of the synthetic cycling rig (30 thermal frames), its projected labels, and
    a copy with every row accepted (what export takes)."""
    root = tmp_path_factory.mktemp("labeled")
    session, labels = root / "ride.h5", root / "ride.labels.h5"
    assert main(["simulate", str(session), "--seconds", "1", "--seed", "1", "-q"]) == 0
    argv = ["autolabel", session, "--rig", "truth", "--rgb-labels", "truth", "--out", labels]
    assert main([str(a) for a in [*argv, "-q"]]) == 0
    accepted = root / "ride.accepted.h5"
    shutil.copy(labels, accepted)
    with h5py.File(accepted, "r+") as f:
        f["thermal/status"][...] = 1
    return {"session": session, "labels": labels, "accepted": accepted}


# -- case 6: signals ----------------------------------------------------------------
@POSIX
@pytest.mark.parametrize(
    "source, signals, code",
    [
        ("replay", (signal.SIGINT,), 130),
        # The synthetic rig's large frames keep the writer busy compressing a full queue
        # when the second Ctrl-C comes: where that Ctrl-C could interrupt the wait for
        # the writer, the process hung at exit on h5py's lock, the file left open.
        ("synthetic:cycling", (signal.SIGINT, signal.SIGINT), 130),
        ("replay", (signal.SIGTERM,), 143),
    ],
    ids=["ctrl-c", "ctrl-c-twice-20ms-apart", "sigterm"],
)
def test_record_stops_on_signals_with_a_closed_session_and_its_summary(
    replay_source, tmp_path, source, signals, code
):
    out = tmp_path / "stopped.h5"
    spec = f"replay:{replay_source}" if source == "replay" else source
    proc = start("record", out, "--source", spec, "--fast", "-q")
    wait_until(lambda: out.exists() and out.stat().st_size > 3 * 2**20, proc)  # frames flushed
    for k, sig in enumerate(signals):
        if k:
            time.sleep(0.02)
        proc.send_signal(sig)
    rc, stdout, stderr = finish(proc)
    line = the_one_line(stderr)
    assert rc == code, stderr
    name = signal.Signals(signals[0]).name
    assert line.startswith(f"thermorig: stopped by {name}") and f"wrote {out}: " in line, line
    with h5py.File(out, "r") as f:  # closed: plain h5py opens it (a killed one it refuses)
        counts = {s: int(f[f"streams/{s}/count"][0]) for s in f["streams"]}
        assert all(f[f"streams/{s}/frames"].shape[0] == n for s, n in counts.items())
    assert sum(counts.values()) > 0
    said = {s: int(n) for s, n in re.findall(r"\b(thermal|depth|color) (\d+)", line)}
    assert said == counts, line
    assert leftovers(tmp_path) == []


@POSIX
@pytest.mark.parametrize(
    "sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["sigterm", "ctrl-c"]
)
def test_autolabel_stopped_by_a_signal_keeps_the_old_labels_and_no_temporary_file(
    labeled, tmp_path, sig, code
):
    out = tmp_path / "ride.labels.h5"
    shutil.copy(labeled["labels"], out)
    before = sha256(out)
    argv = ["autolabel", labeled["session"], "--rig", "truth", "--rgb-labels", "truth"]
    proc = start(*argv, "--out", out, "-q")
    wait_until(lambda: bool(leftovers(tmp_path)), proc)  # its temporary file is being written
    proc.send_signal(sig)
    rc, _, stderr = finish(proc)
    line = the_one_line(stderr)
    assert rc == code, stderr
    assert line == f"thermorig: stopped by {stop_request.signal_name(sig)}; {out.name} is unchanged"
    assert leftovers(tmp_path) == []
    assert sha256(out) == before


@POSIX
def test_export_stopped_by_sigterm_leaves_no_staging_folder(labeled, tmp_path):
    out = tmp_path / "dataset"
    proc = start("export", labeled["session"], "--labels", labeled["accepted"], "--out", out, "-q")
    wait_until(lambda: any(tmp_path.glob(".dataset.partial-*/*/images/*.png")), proc)
    proc.send_signal(signal.SIGTERM)
    rc, _, stderr = finish(proc)
    assert rc == 143, stderr
    assert the_one_line(stderr) == f"thermorig: stopped by SIGTERM; no export written to {out}"
    assert leftovers(tmp_path) == [] and not out.exists()


# -- case 5: full disks -------------------------------------------------------------
@POSIX
def test_autolabel_on_a_full_disk_gives_one_line_and_keeps_the_old_labels(labeled):
    with small_fs("8m") as fs:
        out = fs / "ride.labels.h5"
        shutil.copy(labeled["labels"], out)
        before = sha256(out)
        fill(fs, leave=100_000)  # far less than the new file needs
        argv = ["autolabel", labeled["session"], "--rig", "truth", "--rgb-labels", "truth"]
        rc, _, stderr = finish(start(*argv, "--out", out, "-q"), timeout=300)
        line = the_one_line(stderr)
        assert rc == 2, stderr
        assert line.startswith(f"thermorig: error: disk full: could not write {out} ("), line
        assert f"{out.name} is unchanged" in line
        assert leftovers(fs) == [] and sha256(out) == before


@POSIX
def test_infer_on_a_disk_without_a_byte_free_gives_one_line_and_no_temporary_file(labeled):
    with small_fs("4m") as fs:
        out = fs / "model.labels.h5"
        fill(fs, leave=0)
        argv = ["infer", labeled["session"], "--model", "thermal-calf-seg", "--out", out, "-q"]
        rc, _, stderr = finish(start(*argv), timeout=300)
        line = the_one_line(stderr)
        assert rc == 2, stderr
        assert line.startswith(f"thermorig: error: disk full: could not write {out} ("), line
        assert leftovers(fs) == [] and not out.exists()


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))


@POSIX
def test_a_label_file_that_cannot_grow_gives_one_line_without_root(labeled, tmp_path):
    """RLIMIT_FSIZE: writes past 200 kB fail (EFBIG) as on a full disk, no root needed."""
    out = tmp_path / "ride.labels.h5"
    shutil.copy(labeled["labels"], out)
    before = sha256(out)
    argv = ["autolabel", labeled["session"], "--rig", "truth", "--rgb-labels", "truth"]
    proc = start(*argv, "--out", out, "-q", preexec_fn=_limit_file_size)
    rc, _, stderr = finish(proc, timeout=300)
    line = the_one_line(stderr)
    assert rc == 2, stderr
    assert line.startswith(f"thermorig: error: could not write {out}: the file grew larger"), line
    assert f"{out.name} is unchanged" in line
    assert leftovers(tmp_path) == [] and sha256(out) == before


_FILL_THE_DISK = """
import sys
from drivers.errors import DiskFullError
from drivers.recorder import record
from tests.fakes import FakeRig
rig = FakeRig(duration=None)
rig.open()
try:
    record(rig, sys.argv[1], min_free_bytes=0, codec="none")
except DiskFullError as exc:
    print(sum(exc.summary.frames.values()))
    print(exc)
"""


@POSIX
def test_a_recording_that_fills_the_disk_to_the_last_byte_says_what_it_kept():
    """No safety margin: HDF5 itself meets the full disk. The process must not crash,
    and the file keeps (readably) what the message says."""
    with small_fs("4m") as fs:
        out = fs / "full.h5"
        proc = subprocess.run(
            [sys.executable, "-c", _FILL_THE_DISK, str(out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0 and proc.stderr == "", proc
        kept, message = proc.stdout.strip().splitlines()
        assert message.startswith(f"disk full: could not write {out} ("), message
        assert f"{out} keeps {kept} frames (" in message
        assert f"run thermorig repair {out}" in message
        with SessionReader(out) as reader:  # readable as last flushed
            assert sum(reader.count(s) for s in reader.streams) == int(kept) > 0


@POSIX
def test_record_on_a_read_only_file_system_says_so(replay_source):
    with small_fs("1m", read_only=True) as fs:
        out = fs / "never.h5"
        rc, _, stderr = finish(start("record", out, "--source", f"replay:{replay_source}", "-q"))
        assert rc == 2
        assert the_one_line(stderr) == (
            f"thermorig: error: cannot write {out}: {fs} is on a read-only file system;"
            " write elsewhere"
        )


# -- minor: what a failed recording kept --------------------------------------------
def _damage_frame(path: Path, stream: str, row: int) -> None:
    """Overwrite the stored bytes of one frame: reading it fails, the rest reads."""
    with h5py.File(path, "r") as f:
        frames = f[f"streams/{stream}/frames"]
        chunk = frames.id.get_chunk_info_by_coord((row,) + (0,) * (frames.ndim - 1))
    with open(path, "r+b") as fh:
        fh.seek(chunk.byte_offset)
        fh.write(b"\xff" * chunk.size)


def test_a_recording_from_a_damaged_replay_says_what_it_kept(tmp_path, capsys):
    source, out = tmp_path / "damaged.h5", tmp_path / "copy.h5"
    write_fake_session(source, FakeRig(duration=2.0))
    _damage_frame(source, "thermal", 9)
    assert main(["record", str(out), "--source", f"replay:{source}", "--fast", "-q"]) == 2
    line = the_one_line(capsys.readouterr().err)
    assert "cannot read frame 9 of thermal" in line
    kept = re.search(rf"{re.escape(str(out))} keeps (\d+) frames \(thermal 9, ", line)
    assert kept, line
    with h5py.File(out, "r") as f:  # closed, holding what the line says
        assert sum(int(f[f"streams/{s}/count"][0]) for s in f["streams"]) == int(kept[1])


# -- the pieces ---------------------------------------------------------------------
def _signal_self(sig: int) -> None:
    """Send ``sig`` to this process and let its Python handler run."""
    os.kill(os.getpid(), sig)
    time.sleep(0.01)  # the handler runs at the next bytecode, at the latest here


@POSIX
def test_a_signal_inside_deferred_work_is_only_a_request_and_repeats_are_ignored():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with handling_stop_signals():
        with deferred():
            _signal_self(signal.SIGTERM)
            assert stop_request.requested() == signal.SIGTERM
            _signal_self(signal.SIGINT)  # a repeat: ignored, not a second stop
            assert stop_request.requested() == signal.SIGTERM
            with pytest.raises(Interrupted) as stopped:
                stop_request.check()
        assert stopped.value.exit_code == 143
        _signal_self(signal.SIGINT)  # outside deferred work now, and still ignored
    assert stop_request.requested() is None
    assert {s: signal.getsignal(s) for s in before} == before  # restored


@POSIX
def test_a_stopped_command_line_ignores_a_late_repeat_while_it_exits():
    """Two Ctrl-C 20 ms apart on a busy machine: the second can come after the command
    closed its file and printed its line, as the process exits. It must not kill the
    process (exit -2 instead of the 130 the line announced)."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with handling_stop_signals(process_ends=True):
            with deferred():
                _signal_self(signal.SIGINT)
        assert {s: signal.getsignal(s) for s in before} == dict.fromkeys(before, signal.SIG_IGN)
        _signal_self(signal.SIGINT)  # the late repeat: nothing happens
        with handling_stop_signals(process_ends=True):
            pass  # no stop requested: the handlers in force before come back
        assert {s: signal.getsignal(s) for s in before} == dict.fromkeys(before, signal.SIG_IGN)
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
    with handling_stop_signals(process_ends=True):
        pass
    assert {s: signal.getsignal(s) for s in before} == before


@POSIX
def test_a_signal_outside_deferred_work_stops_at_once():
    with handling_stop_signals():
        with pytest.raises(Interrupted) as stopped:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(10)  # interrupted by the handler
        assert stopped.value.exit_code == 130
        assert str(stopped.value) == "stopped by SIGINT (Ctrl-C)"


def test_write_errors_name_the_problem_in_one_line(tmp_path):
    target = tmp_path / "out.h5"
    hdf5 = OSError(
        "Unable to synchronously create file (file write failed: time = Thu Dec  3\n"
        ", filename = 'x', file descriptor = 8, errno = 28, error message = 'No space"
        " left on device', buf = 0x1, total write size = 96)"
    )
    full = write_error(hdf5, target, "out.h5 is unchanged")
    assert isinstance(full, DiskFullError) and isinstance(full, OSError)
    assert str(full).startswith(f"disk full: could not write {target} (")
    assert "out.h5 is unchanged; free space or write elsewhere" in str(full)
    cases = {
        errno.EROFS: f"{tmp_path} is on a read-only file system",
        errno.EACCES: f"permission denied in {tmp_path}",
        errno.EFBIG: "the file grew larger than the file system or a limit allows",
    }
    for number, text in cases.items():
        error = write_error(OSError(number, os.strerror(number)), target)
        assert isinstance(error, WriteError) and not isinstance(error, DiskFullError)
        assert text in str(error) and "\n" not in str(error)
    assert write_error(full, target) is full  # told once


def test_every_error_reaches_stderr_as_one_line(monkeypatch, capsys):
    import app.commands.info as info

    def fails(_args):
        raise ThermorigError("the first line\nand a second one")

    monkeypatch.setattr(info, "run", fails)
    assert main(["info", "x.h5"]) == 2
    assert the_one_line(capsys.readouterr().err) == (
        "thermorig: error: the first line and a second one"
    )

    def hdf5_fails(_args):
        raise OSError("Can't write data (file write failed: time = Thu\n, errno = 28, ...)")

    monkeypatch.setattr(info, "run", hdf5_fails)
    assert main(["info", "x.h5"]) == 2
    assert the_one_line(capsys.readouterr().err) == "thermorig: error: No space left on device"
