"""Progress bars for long command-line work (stderr, so stdout stays parseable)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(
    total: float | None, desc: str, unit: str = "s", quiet: bool = False
) -> Iterator[tqdm]:
    """A tqdm bar on stderr; ``quiet`` hides it (``--quiet`` or scripted use)."""
    bar = tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=quiet,
        mininterval=0.25,
        dynamic_ncols=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} {unit} [{elapsed}<{remaining}] {postfix}"
        if total
        else None,
    )
    try:
        yield bar
    finally:
        bar.close()
