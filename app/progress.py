"""Progress bars for long command-line work (stderr, so stdout stays parseable)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(
    total: float | None, desc: str, unit: str = "s", quiet: bool = False
) -> Iterator[tqdm]:
    """A tqdm bar on stderr; ``quiet`` hides it (``--quiet`` or scripted use).

    The total is shown through tqdm's ``total_fmt``: tqdm drops the total of a bar
    that ran past it, and a format of the bare number would then fail mid-command.
    """
    bar = tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=quiet,
        mininterval=0.25,
        dynamic_ncols=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total_fmt} {unit} [{elapsed}<{remaining}] {postfix}"
        if total
        else None,
    )
    try:
        yield bar
    finally:
        bar.close()


def lazy_progress(
    stack: ExitStack, desc: str, unit: str = "frames", quiet: bool = False
) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback whose bar opens (on ``stack``) at its first
    call: work that fails on bad inputs before its first frame prints only its error."""
    bar: tqdm | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = stack.enter_context(progress_bar(total, desc, unit, quiet))
        bar.update(done - bar.n)  # tqdm redraws at most every 0.25 s

    return progress


class StageBars:
    """A ``progress(stage, done, total)`` callback for work in stages (scanning a stream,
    detecting, fitting): one tqdm bar per stage on stderr, the last closed by
    :meth:`close`."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.stage: str | None = None
        self.bar: tqdm | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(
                total=total, desc=stage, file=sys.stderr, disable=self.quiet, mininterval=0.25
            )
        assert self.bar is not None
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
