"""What the reader fuzz tests (tests/test_fuzz_readers.py) share: running a reader
isolated and checking its outcome, and ways to change a file — bytes overwritten or
cut, HDF5 datasets deleted, retyped or refilled, attributes replaced — plus the small
session every session example starts from."""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path

import h5py
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.cli import main
from drivers.base import SourceInfo
from drivers.session_writer import SessionWriter
from drivers.types import Frame, StreamSpec
from tests.isolated import run_isolated
from tests.scene3d import make_rig


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_reader(path: Path, read, timeout_s: float = 20.0) -> None:
    """``read()`` (in a child) returns or raises a one-line ThermorigError; ``path``
    is unchanged."""
    before = _digest(path)
    outcome = run_isolated(read, timeout_s)
    assert outcome.kind in ("ok", "user"), f"{outcome.kind}: {outcome.value}"
    if outcome.kind == "user":
        assert outcome.value.strip() and "\n" not in outcome.value, repr(outcome.value)
    assert _digest(path) == before, "the reader changed its input"


def cli_one_line(*argv: object) -> int:
    """``thermorig ARGV`` in this (child) process: exit 0, or 2 with one stderr line."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    lines = err.getvalue().strip().splitlines()
    assert code == 0 or (code == 2 and len(lines) == 1), (code, err.getvalue())
    return code


# -- changing files ---------------------------------------------------------------------

byte_edits = st.tuples(
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=12),
    st.one_of(st.none(), st.floats(0, 1)),  # cut the file to this fraction of its size
)


def apply_bytes(data: bytes, edits) -> bytes:
    flips, cut = edits
    b = bytearray(data)
    for where, value in flips:
        b[int(where * len(b))] = value
    return bytes(b[: int(cut * len(b))] if cut is not None else b)


weird_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=12),
    st.binary(max_size=12),
    st.booleans(),
    st.lists(st.integers(-300, 300), max_size=5),
    st.sampled_from(
        [
            "[]",
            '["a"]',
            '{"a": 1}',
            "[1, 2]",
            "null",
            "[[[[",
            '"x"',
            "NaN",
            '["background", "left_calf", "right_calf"]',
            "\udcff",
        ]
    ),  # fmt: skip
)

#: Any small array: dtype-wide values (NaN, infinities, extremes) in any rank.
arrays = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.uint16, np.int8, np.int64, np.float32, np.float64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
)


def _refill(ds: h5py.Dataset, seed: int) -> None:
    """Overwrite a dataset's values with a mix of ordinary and extreme ones."""
    rng = np.random.default_rng(seed)
    if ds.dtype.kind == "f":
        pool = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0, 1e300, 1e-300, 7.5])
    else:
        info = np.iinfo(ds.dtype)
        pool = np.array([info.min, info.max, 0, 1, 2, 3, 4, 255], dtype=np.int64)
        pool = np.clip(pool, info.min, info.max)
    values = rng.choice(pool, size=ds.shape)
    keep = rng.random(ds.shape) < 0.5
    with np.errstate(over="ignore", invalid="ignore"):  # 1e300 as float32: inf, wanted
        ds[...] = np.where(keep, ds[()], values).astype(ds.dtype)


def h5_edits(datasets: list[str], groups: list[str], attr_keys: list[str]):
    """One structured change of an HDF5 file, as data (applied by :func:`apply_h5`)."""
    return st.one_of(
        st.tuples(st.just("delete"), st.sampled_from(datasets + groups[1:])),
        st.tuples(st.just("dataset"), st.sampled_from(datasets), arrays),
        st.tuples(st.just("refill"), st.sampled_from(datasets), st.integers(0, 2**32 - 1)),
        st.tuples(st.just("resize"), st.sampled_from(datasets), st.integers(0, 9)),
        st.tuples(
            st.just("attr"),
            st.sampled_from(groups + datasets),
            st.sampled_from(attr_keys),
            weird_values,
        ),
    )


def apply_h5(path: Path, edits) -> None:
    """Apply structured changes; one HDF5 cannot make (an unsupported value) is skipped."""
    with h5py.File(path, "r+") as f:
        for edit in edits:
            op, target = edit[0], edit[1]
            try:
                if target != "/" and target not in f:
                    continue
                if op == "delete":
                    del f[target]
                elif op == "dataset":
                    del f[target]
                    f.create_dataset(target, data=edit[2])
                elif op == "refill":
                    ds = f[target]
                    if ds.dtype.kind in "iuf" and 0 < ds.size <= 4096:
                        _refill(ds, edit[2])
                elif op == "resize":
                    ds = f[target]
                    if ds.chunks:
                        ds.resize((edit[2], *ds.shape[1:]))
                else:
                    value = edit[3]
                    f[target].attrs[edit[2]] = value
            except (ValueError, TypeError, OSError, KeyError, RuntimeError, UnicodeEncodeError):
                continue


def small_session(path: Path) -> Path:
    """Three streams, truth, a rig, an event and a gap, in a few kilobytes."""
    h, w = 6, 8
    specs = {
        "thermal": StreamSpec("thermal", "thermal", (h, w), "uint16", "centikelvin", 10.0),
        "depth": StreamSpec("depth", "depth", (h, w), "uint16", "depth_units", 10.0, 0.001),
        "color": StreamSpec("color", "color", (h, w, 3), "uint8", "rgb", 10.0),
    }
    truth = {"rig": make_rig().to_dict(), "classes": ["background", "calf"],
             "keypoints": ["knee"], "board": None}  # fmt: skip
    info = SourceInfo(spec="test:fuzz", activity="cycling", rig=make_rig().to_dict(), truth=truth)
    rng = np.random.default_rng(0)
    with SessionWriter(path, specs, info, codec="gzip", min_free_bytes=0) as wr:
        for i in range(3):
            for name, spec in specs.items():
                array = rng.integers(0, 255 if spec.dtype == "uint8" else 40000, spec.shape)
                labels = (array.reshape(h, w, -1)[..., 0] > 100).astype(np.uint8)
                kp = np.array([[1.5, 2.5]], np.float32)
                wr.write(Frame(name, i, 100 + i / 10, array.astype(spec.dtype),
                               truth={"labels": labels, "keypoints": kp}))  # fmt: skip
        wr.mark(100.05, "start")
        wr.gap("depth", 100.1, float("nan"), "unplugged")
    return path
