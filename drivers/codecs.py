"""How a session's frames are compressed: the codec table, and frames stored
uncompressed inside a compressed dataset when the writer is behind.

Compressing a noisy 1280x720 RGB frame costs the writer 10-30 ms of CPU; copying it
into the file costs about one. When the machine is busy and the writer falls behind a
live source, it stores frames as they are rather than let its queue fill until frames
are dropped (see :class:`drivers.writer_thread.WriterThread`). A session's frames live
one per chunk, and HDF5 records per chunk which filters were skipped (the chunk's
filter mask), so such a chunk sits in the same compressed dataset and every HDF5 reader
(h5py with hdf5plugin, h5repack, HDFView) reads it back bit for bit; only the file
grows. :func:`raw_frames` counts them, so ``thermorig info`` can say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

from drivers.errors import SessionError

try:
    import hdf5plugin
except ImportError:  # pragma: no cover - hdf5plugin is a dependency
    hdf5plugin = None


def _blosc2_lz4() -> dict[str, Any]:
    # Measured on 640x512 thermal + 640x480 depth + 1280x720 RGB with sensor noise:
    # bit-shuffle compresses noisy 16-bit and 8-bit pixels better than byte shuffle
    # at about the same speed; clevel 5 is as fast as 1 and nearly as small as 9.
    return dict(hdf5plugin.Blosc2(cname="lz4", clevel=5, filters=hdf5plugin.Blosc2.BITSHUFFLE))


#: Codec name -> factory of h5py ``create_dataset`` keyword arguments (lossless only).
CODECS: dict[str, Callable[[], dict[str, Any]]] = {
    "blosc2-lz4": _blosc2_lz4,
    "lzf": lambda: {"compression": "lzf"},
    "gzip": lambda: {"compression": "gzip", "compression_opts": 1},
    "none": lambda: {},
}


def resolve_codec(name: str) -> tuple[str, dict[str, Any], str]:
    """(codec actually used, dataset kwargs, note) for a codec name.

    Without hdf5plugin, ``blosc2-lz4`` falls back to ``lzf`` and the note says so
    (it is stored in the file's ``codec_note`` attribute).
    """
    if name not in CODECS:
        raise SessionError(f"unknown codec {name!r}; choose one of {', '.join(CODECS)}")
    if name.startswith("blosc2") and hdf5plugin is None:
        return "lzf", CODECS["lzf"](), f"{name} requested but hdf5plugin is missing; used lzf"
    return name, CODECS[name](), ""


# -- frames stored uncompressed ---------------------------------------------------------
def _filters(ds: h5py.Dataset) -> int:
    return ds.id.get_create_plist().get_nfilters()


def can_store_raw(ds: h5py.Dataset) -> bool:
    """True if ``ds`` compresses and holds one frame per chunk (as a session's frames
    do), so a frame can be stored as one unfiltered chunk."""
    one_per_chunk = ds.chunks is not None and ds.chunks == (1, *ds.shape[1:])
    return one_per_chunk and _filters(ds) > 0


def uncached() -> h5py.h5p.PropDAID:
    """Dataset access without a chunk cache, for datasets written a whole chunk at a
    time: each chunk is compressed and written at once."""
    dapl = h5py.h5p.create(h5py.h5p.DATASET_ACCESS)
    nslots, _, w0 = dapl.get_chunk_cache()
    dapl.set_chunk_cache(nslots, 0, w0)
    return dapl


def store_raw(ds: h5py.Dataset, index: int, array: np.ndarray) -> None:
    """Write ``array`` as row ``index`` of ``ds`` with every filter skipped.

    ``array`` must have the dataset's frame shape and exact dtype (byte order
    included): its bytes become the chunk as they are.
    """
    mask = (1 << _filters(ds)) - 1  # bit i set: filter i was not applied
    data = np.ascontiguousarray(array)  # its buffer is written as is, no copy
    ds.id.write_direct_chunk((int(index),) + (0,) * array.ndim, data, filter_mask=mask)


def raw_frames(ds: h5py.Dataset, count: int | None = None) -> int:
    """How many of the first ``count`` rows of ``ds`` are stored unfiltered."""
    if ds.chunks is None or _filters(ds) == 0:
        return 0
    limit = ds.shape[0] if count is None else count
    found = [0]

    def visit(info: Any) -> None:
        if info.filter_mask and info.chunk_offset[0] < limit:
            found[0] += 1

    ds.id.chunk_iter(visit)
    return found[0]
