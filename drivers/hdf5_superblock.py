"""Whether an HDF5 file's superblock is intact, checked before HDF5 opens the file.

HDF5 verifies the superblock's checksum itself, but what it does on a mismatch depends
on how the file is opened: a plain open fails at once, while a SWMR reader — which
thermorig must be to read a recording whose recorder was killed — *retries* every read
of damaged metadata (100 times, sleeping longer each time): one flipped byte in the
superblock of a session made ``thermorig info`` appear to hang. Checking the checksum
here first turns that into a one-line "the file is damaged".

Superblock versions 2 and 3 (HDF5 1.8+ files; sessions and label files are written so)
carry a checksum: Bob Jenkins' lookup3 ``hashlittle`` over the bytes before it, which
is what :func:`lookup3` computes (from the algorithm's public description; HDF5 uses
it for all its metadata checksums). Versions 0 and 1 have none and are not checked.
"""

from __future__ import annotations

import os
from typing import BinaryIO

SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle`` of ``data`` (32 bits), HDF5's checksum."""
    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & _MASK
    i = 0
    while n - i > 12:
        a = (a + int.from_bytes(data[i : i + 4], "little")) & _MASK
        b = (b + int.from_bytes(data[i + 4 : i + 8], "little")) & _MASK
        c = (c + int.from_bytes(data[i + 8 : i + 12], "little")) & _MASK
        # mix(a, b, c)
        a = ((a - c) & _MASK) ^ _rot(c, 4)
        c = (c + b) & _MASK
        b = ((b - a) & _MASK) ^ _rot(a, 6)
        a = (a + c) & _MASK
        c = ((c - b) & _MASK) ^ _rot(b, 8)
        b = (b + a) & _MASK
        a = ((a - c) & _MASK) ^ _rot(c, 16)
        c = (c + b) & _MASK
        b = ((b - a) & _MASK) ^ _rot(a, 19)
        a = (a + c) & _MASK
        c = ((c - b) & _MASK) ^ _rot(b, 4)
        b = (b + a) & _MASK
        i += 12
    tail = data[i:]
    if not tail:
        return c
    tail = tail + bytes(12 - len(tail))
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    c = (c + int.from_bytes(tail[8:12], "little")) & _MASK
    # final(a, b, c)
    c = ((c ^ b) - _rot(b, 14)) & _MASK
    a = ((a ^ c) - _rot(c, 11)) & _MASK
    b = ((b ^ a) - _rot(a, 25)) & _MASK
    c = ((c ^ b) - _rot(b, 16)) & _MASK
    a = ((a ^ c) - _rot(c, 4)) & _MASK
    b = ((b ^ a) - _rot(a, 14)) & _MASK
    c = ((c ^ b) - _rot(b, 24)) & _MASK
    return c


def find_superblock(fh: BinaryIO) -> tuple[int, bytes] | None:
    """The superblock's offset in the open file ``fh`` and its first 12 bytes
    (signature, version, ..., flags at byte 11), or None if there is none. It sits at
    byte 0 or, after a user block, at 512, 1024, 2048, ..."""
    size = os.fstat(fh.fileno()).st_size
    offset = 0
    while offset + 12 <= size:
        fh.seek(offset)
        head = fh.read(12)
        if head[:8] == SIGNATURE:
            return offset, head
        offset = 512 if offset == 0 else offset * 2
    return None


def superblock_problem(path: str | os.PathLike) -> str | None:
    """Why the superblock of the HDF5 file ``path`` is damaged (a phrase), or None
    when it is intact, has no checksum (versions 0, 1) or is not found."""
    with open(path, "rb") as fh:
        found = find_superblock(fh)
        if found is None:
            return None
        offset, head = found
        version, offsets = head[8], head[9]
        if version not in (2, 3):
            return None
        if offsets not in (2, 4, 8, 16):
            return f"its HDF5 superblock names {offsets}-byte addresses"
        fh.seek(offset)
        end = 12 + 4 * offsets  # 4 addresses, then the checksum
        block = fh.read(end + 4)
        if len(block) < end + 4:
            return "its HDF5 superblock is cut short"
        if lookup3(block[:end]) != int.from_bytes(block[end:], "little"):
            return "its HDF5 superblock fails its checksum"
        return None
