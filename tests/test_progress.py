"""app.progress: the lazily opened bar of commands that may fail before their first frame."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from app.progress import lazy_progress, progress_bar


def test_lazy_progress_opens_its_bar_on_the_first_call(capsys):
    with ExitStack() as stack:
        progress = lazy_progress(stack, "export out", "frames")
        assert capsys.readouterr().err == ""  # Bad inputs would print only their error.
        progress(3, 10)
        progress(10, 10)
    err = capsys.readouterr().err
    assert "export out" in err and "10.0/10 frames" in err


def test_lazy_progress_is_silent_when_quiet(capsys):
    with ExitStack() as stack:
        progress = lazy_progress(stack, "stats s", "frames", quiet=True)
        progress(5, 5)
    assert capsys.readouterr().err == ""


def test_lazy_progress_bar_closes_with_its_stack_on_error(capsys):
    with pytest.raises(RuntimeError), ExitStack() as stack:
        lazy_progress(stack, "autolabel s")(1, 4)
        raise RuntimeError("bad frame")
    err = capsys.readouterr().err
    assert "1.0/4 frames" in err and err.endswith("\n")  # Closed: the line is ended.


def test_progress_bar_run_past_its_total_keeps_drawing(capsys):
    # tqdm drops the total of a bar that overshoots it by half a unit; the bar's
    # format must not need it then (a study once failed at its very end here).
    with progress_bar(10.0, "study s") as bar:
        bar.update(12.0)
        bar.refresh()
    assert "12.0/? s" in capsys.readouterr().err
