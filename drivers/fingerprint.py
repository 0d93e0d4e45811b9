"""A session file's fingerprint: the identity a label sidecar stores as ``session_hash``.

It lives in ``drivers`` because both the app (which writes and checks label files)
and ``models/training`` (which reads label files to train, and may not import
``app``) must compute it the same way; docs/formats/labels.md documents it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: How session_hash is computed, stored in front of the digest.
HASH_METHOD = "sha256-size-first-last-1MiB"
_HASH_BLOCK = 1 << 20


def session_fingerprint(path: str | os.PathLike) -> str:
    """A cheap but robust identity of a (large, never modified) session file.

    SHA-256 over the file size (8 bytes, little-endian), the first MiB and the last MiB:
    HDF5 keeps its superblock and root objects at the start and the data of the latest
    frames at the end, so a different recording, a truncated copy or an appended one
    all change it, while hashing a 10 GB session costs two 1 MiB reads.
    """
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha256(size.to_bytes(8, "little"))
    with p.open("rb") as fh:
        h.update(fh.read(_HASH_BLOCK))
        if size > _HASH_BLOCK:
            fh.seek(max(_HASH_BLOCK, size - _HASH_BLOCK))
            h.update(fh.read(_HASH_BLOCK))
    return f"{HASH_METHOD}:{h.hexdigest()}"
