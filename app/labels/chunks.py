"""Label files made in pieces: each chunk a label file of the whole session with only
its frame range written, merged once into the session's label file.

``thermorig batch`` labels long sessions in frame ranges on several workers. Each
range is written by the single command's own function (autolabel, infer) into a
label file of its own, published atomically, so a killed worker loses only its
chunk. The merge replays every written row through the one :class:`LabelWriter`:
rows a person made or reviewed in an existing file are kept exactly as a serial run
keeps them, and the result is row for row the file the serial command writes.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.labels.sidecar import SOURCE_NONE, LabelReader, LabelsError
from app.labels.sidecar_writer import LabelWriter
from drivers.atomic import publish_new
from drivers.locks import LockFile

#: Optional per-row datasets a chunk may carry (docs/formats/labels.md).
EXTRAS = ("confidence", "validity", "time_gap", "keypoints")


def merge_chunks(
    session: str | Path,
    out: str | Path,
    stream: str,
    chunks: Sequence[tuple[range, Path]],
    command: str = "thermorig batch",
) -> dict[str, int]:
    """Write ``out`` from ``chunks`` ((frame range, chunk label file) covering every
    row of ``stream`` once); returns rows written and rows kept from ``out``."""
    if not chunks:
        raise LabelsError("no chunks to merge")
    first = LabelReader(chunks[0][1], check_journal=False)
    with first:
        classes, n, shape = first.classes, first.count(stream), first.shape(stream)
        extras = tuple(e for e in EXTRAS if e in first.datasets(stream))
        names = tuple(first.keypoint_names(stream))
        provenance = first.provenance(stream)
    covered = np.zeros(n, int)
    for frames, _ in chunks:
        covered[frames.start : frames.stop] += 1
    if not (covered == 1).all():
        raise LabelsError(f"the chunks of {out} do not cover its {n} rows exactly once")
    written = 0
    with LabelWriter(out, session=session, classes=classes, command=command) as writer:
        writer.create_stream(stream, n, shape, extras, keypoint_names=names, provenance=provenance)
        for frames, path in chunks:
            with LabelReader(path, check_journal=False) as r:
                if r.classes != classes or r.count(stream) != n or r.shape(stream) != shape:
                    raise LabelsError(f"{path}: a chunk of another layout than {chunks[0][1]}")
                source, status = r.array(stream, "source"), r.array(stream, "status")
                for i in frames:
                    if source[i] == SOURCE_NONE:
                        continue  # never written by the chunk's run: stays unlabeled
                    row = {e: r.row(stream, e, i) for e in extras}
                    written += writer.write(
                        stream, i, r.mask(stream, i), int(source[i]), status=int(status[i]), **row
                    )
        kept = writer.kept.get(stream, 0)
    return {"rows": n, "written": int(written), "kept_reviewed": int(kept)}


def publish_whole_chunk(
    out: str | Path, stream: str, chunk: Path, command: str = "thermorig batch"
) -> dict[str, int] | None:
    """A session labeled in one chunk, and no label file there yet: the chunk *is* the
    file the serial command writes (same writer, same rows), so it is published as
    ``out`` instead of copied row by row (a third of a short session's batch time).
    None where it cannot be (a label file exists: its reviewed rows must be kept, so
    merge; or the chunk is on another file system); ``out``'s lock is held meanwhile."""
    out = Path(out)
    if out.exists():
        return None
    lock = LockFile.take(out, command)
    try:
        with LabelReader(chunk, check_journal=False) as r:
            n = r.count(stream)
            written = int(np.count_nonzero(r.array(stream, "source") != SOURCE_NONE))
        try:
            publish_new(chunk, out)
        except FileExistsError:
            return None
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                return None
            raise
    finally:
        if lock is not None:
            lock.release()
    return {"rows": n, "written": written, "kept_reviewed": 0}
