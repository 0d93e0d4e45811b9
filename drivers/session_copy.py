"""A faithful copy of an HDF5 file with its per-row datasets trimmed, and its proof.

Used by :mod:`drivers.session_repair`. Every group and dataset is created from its
source's own creation property list, so chunking, the filter pipeline with its
parameters (Blosc2 through hdf5plugin, lzf, gzip), fill values and link order come over
unchanged instead of being re-described, and datasets no reader knows yet are carried
too. Chunks of fixed-size data are copied as stored (``read_direct_chunk`` /
``write_direct_chunk``): the frames are never decompressed and compressed again, which
keeps their bytes identical and is several times faster. Variable-length strings are
references into a heap, so those datasets are copied by value.

``rows`` maps a group's path to the rows to keep of every growing (first axis
unlimited) dataset in it; the group's ``count`` dataset is set to that number.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from drivers.errors import SessionError, one_line
from drivers.session import open_h5

Progress = Callable[[int, int], None]
Offset = tuple[int, ...]


@dataclass
class Copied:
    """What :func:`copy_trimmed` wrote: per dataset, the chunks copied as stored; and
    the progress count (chunks copied, then chunks verified)."""

    chunks: dict[str, set[Offset]] = field(default_factory=dict)
    done: int = 0
    total: int = 0


def _kept(ds: h5py.Dataset, rows: dict[str, int]) -> int | None:
    """Rows of ``ds`` to keep, or None for a dataset copied whole (scalars included)."""
    n = rows.get(ds.parent.name)
    if n is None or not ds.shape or ds.maxshape[0] is not None:
        return None
    return min(n, ds.shape[0])


def _raw(ds: h5py.Dataset) -> bool:
    """Chunks that can be copied as stored: chunked, no variable-length parts."""
    return ds.chunks is not None and not ds.dtype.hasobject


def _full(ds: h5py.Dataset, rows: dict[str, int]) -> int:
    """Rows of a chunked ``ds`` kept in whole chunks (copied as stored); the rest of the
    rows kept, a part of one chunk, are copied by value."""
    keep = _kept(ds, rows)
    keep = ds.shape[0] if keep is None else keep
    return keep // ds.chunks[0] * ds.chunks[0]


def _offsets(ds: h5py.Dataset, below: int) -> list[Offset]:
    """Offsets of the chunks stored (written at least once) that start before row ``below``."""
    found: list[Offset] = []
    ds.id.chunk_iter(lambda info: found.append(tuple(info.chunk_offset)))
    return [off for off in found if off[0] < below]


def _lcpl() -> h5py.h5p.PropLCID:
    lcpl = h5py.h5p.create(h5py.h5p.LINK_CREATE)  # h5py names links in UTF-8
    lcpl.set_char_encoding(h5py.h5t.CSET_UTF8)
    return lcpl


def _copy_attrs(src: h5py.HLObject, dst: h5py.HLObject) -> None:
    for name in src.attrs:
        value = src.attrs[name]
        if isinstance(value, h5py.Empty):
            dst.attrs[name] = value
        else:
            aid = src.attrs.get_id(name)
            dst.attrs.create(name, value, shape=aid.shape, dtype=aid.dtype)


def _datasets(group: h5py.Group) -> list[h5py.Dataset]:
    found: list[h5py.Dataset] = []
    group.visititems(
        lambda _name, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None
    )
    return found


class _Progress:
    def __init__(self, copied: Copied, progress: Progress | None):
        self.copied = copied
        self.progress = progress

    def tick(self) -> None:
        c = self.copied
        c.done += 1
        if self.progress is not None and (c.done % 32 == 0 or c.done == c.total):
            self.progress(c.done, c.total)


class _Copy:
    def __init__(self, rows: dict[str, int], progress: Progress | None):
        self.rows = rows
        self.lcpl = _lcpl()
        self.copied = Copied()
        self.bar = _Progress(self.copied, progress)
        self.offsets: dict[str, list[Offset]] = {}

    def group(self, src: h5py.Group, dst: h5py.Group) -> None:
        _copy_attrs(src, dst)
        for name in src:
            obj = src[name]
            if isinstance(obj, h5py.Group):
                gcpl = obj.id.get_create_plist()
                gid = h5py.h5g.create(dst.id, name.encode(), lcpl=self.lcpl, gcpl=gcpl)
                self.group(obj, h5py.Group(gid))
            else:
                self.dataset(obj, dst, name)
        n = self.rows.get(src.name)
        if n is not None and "count" in dst and _kept(dst["count"], self.rows) is None:
            dst["count"][0] = n

    def dataset(self, src: h5py.Dataset, parent: h5py.Group, name: str) -> None:
        keep = _kept(src, self.rows)
        space = src.id.get_space()
        if keep is not None:
            maxshape = tuple(h5py.h5s.UNLIMITED if m is None else m for m in src.maxshape)
            space.set_extent_simple((keep, *src.shape[1:]), maxshape)
        dcpl = src.id.get_create_plist()
        dsid = h5py.h5d.create(
            parent.id, name.encode(), src.id.get_type(), space, dcpl=dcpl, lcpl=self.lcpl
        )
        dst = h5py.Dataset(dsid)
        _copy_attrs(src, dst)
        if not src.shape:
            dst[()] = src[()]
            return
        keep = src.shape[0] if keep is None else keep
        if not _raw(src):
            if keep and src.size:
                dst[:keep] = src[:keep]
            return
        full = _full(src, self.rows)
        stored = self.copied.chunks[src.name] = set()
        for off in self.offsets[src.name]:
            mask, data = src.id.read_direct_chunk(off)
            dst.id.write_direct_chunk(off, data, mask)
            stored.add(off)
            self.bar.tick()
        if keep > full:
            dst[full:keep] = src[full:keep]


def copy_trimmed(
    src: h5py.File, dst: h5py.File, rows: dict[str, int], progress: Progress | None = None
) -> Copied:
    """Copy ``src`` (open, SWMR reading is fine) into the new file ``dst``; progress
    counts chunks, copying then verifying (:func:`verify_copy`)."""
    copy = _Copy(rows, progress)
    for ds in _datasets(src):
        if _raw(ds):
            copy.offsets[ds.name] = _offsets(ds, _full(ds, rows))
    copy.copied.total = 2 * sum(len(o) for o in copy.offsets.values())
    copy.group(src, dst)
    return copy.copied


def _same(a: object, b: object) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    if a.dtype.hasobject:
        return a.tolist() == b.tolist()
    return bool(np.array_equal(a, b))


def _filters(ds: h5py.Dataset) -> list[tuple]:
    plist = ds.id.get_create_plist()
    return [plist.get_filter(i) for i in range(plist.get_nfilters())]


class _Verify:
    def __init__(self, rows, appended, copied: Copied, progress: Progress | None):
        self.rows = rows
        self.appended = appended
        self.copied = copied
        self.bar = _Progress(copied, progress)

    def fail(self, what: str) -> None:
        raise SessionError(f"the repaired copy differs from the original: {what}")

    def attrs(self, src: h5py.HLObject, dst: h5py.HLObject) -> None:
        if list(src.attrs) != list(dst.attrs):
            self.fail(f"attributes of {src.name}")
        for name in src.attrs:
            same_type = src.attrs.get_id(name).dtype == dst.attrs.get_id(name).dtype
            if not same_type or not _same(src.attrs[name], dst.attrs[name]):
                self.fail(f"attribute {name} of {src.name}")

    def group(self, src: h5py.Group, dst: h5py.Group) -> None:
        self.attrs(src, dst)
        if list(src) != list(dst):
            self.fail(f"members of {src.name}")
        for name in src:
            if isinstance(src[name], h5py.Group):
                self.group(src[name], dst[name])
            else:
                self.dataset(src[name], dst[name])

    def dataset(self, src: h5py.Dataset, dst: h5py.Dataset) -> None:
        self.attrs(src, dst)
        layout = (src.dtype, src.chunks, src.maxshape, _filters(src))
        if layout != (dst.dtype, dst.chunks, dst.maxshape, _filters(dst)):
            self.fail(f"dtype, chunks or filters of {src.name}")
        if not _same(src.fillvalue, dst.fillvalue):
            self.fail(f"fill value of {src.name}")
        keep = _kept(src, self.rows)
        group = src.parent.name
        if src.name == f"{group}/count" and group in self.rows and keep is None:
            if not _same(dst[()], [self.rows[group] + self.appended.get(group, 0)]):
                self.fail(f"{src.name}")
            return
        if keep is None:
            if not _same(src[()], dst[()]):
                self.fail(f"values of {src.name}")
            return
        if dst.shape != (keep + self.appended.get(group, 0), *src.shape[1:]):
            self.fail(f"rows of {src.name}: {dst.shape[0]}, expected {keep}")
        full = 0
        if _raw(src):
            full = _full(src, self.rows)
            self.chunks(src, dst, full)
        if not _same(src[full:keep], dst[full:keep]):
            self.fail(f"values of {src.name}")
        if full and not (_same(src[0], dst[0]) and _same(src[full - 1], dst[full - 1])):
            self.fail(f"decoded first or last row of {src.name}")

    def chunks(self, src: h5py.Dataset, dst: h5py.Dataset, full: int) -> None:
        present = _offsets(dst, full)
        if set(present) != self.copied.chunks.get(src.name, set()):
            self.fail(f"chunks of {src.name}")
        for off in present:  # bytes compared in full: faster than hashing them
            if dst.id.read_direct_chunk(off) != src.id.read_direct_chunk(off):
                self.fail(f"chunk {off} of {src.name}")
            self.bar.tick()


def verify_copy(
    src_path: str | os.PathLike,
    new_path: str | os.PathLike,
    rows: dict[str, int],
    copied: Copied,
    progress: Progress | None = None,
    appended: dict[str, int] | None = None,
) -> None:
    """Raise SessionError unless ``new_path`` opens with plain h5py (no SWMR) and holds
    what :func:`copy_trimmed` was to copy from ``src_path``: the same structure, layouts
    and attributes, every stored chunk byte for byte (filter mask included), every
    other value, and ``appended`` extra rows (per group) after the rows kept."""
    try:
        new = h5py.File(new_path, "r")
    except OSError as exc:
        raise SessionError(f"the repaired copy does not open: {one_line(exc)}") from exc
    with new, open_h5(Path(src_path)) as old:
        _Verify(rows, appended or {}, copied, progress).group(old, new)
