"""Which split (train / val / test ...) a session goes to when exporting labels.

Splits are made by subject or by session, never by frame: neighbouring frames of one
recording are nearly identical, so frames of one person in both train and test would
measure memory, not generalisation. A split is chosen either

- by fractions, ``train=0.8,val=0.1,test=0.1``: the id (subject or session name) is
  hashed (SHA-256, so the same on every machine and every run) to a number in [0, 1)
  that falls into one fraction's interval. Exports of different batches of sessions
  therefore always put one subject in the same split. With few subjects the shares
  are only approximate: a subject is never cut in two to hit a fraction;
- or by lists, ``test=subjA,subjB,val=subjC``: listed ids go to their split, all
  others to ``train``.

Without a rule everything goes to ``train``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from drivers.errors import ThermorigError

SPLIT_BY = ("subject", "session")
DEFAULT_SPLIT = "train"
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
#: Prefix of the hashed text, so that a split hash never equals another use of SHA-256.
_SALT = "thermorig-split:"


class SplitError(ThermorigError):
    """A --split rule that does not parse, or a session it cannot place."""


@dataclass(frozen=True)
class SplitRule:
    """Fractions per split name (in order), or explicit id lists per split name."""

    by: str = "subject"
    fractions: dict[str, float] = field(default_factory=dict)
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Every split this rule can produce, in a stable order."""
        if self.fractions:
            return list(self.fractions)
        names = [DEFAULT_SPLIT] + [n for n in self.lists if n != DEFAULT_SPLIT]
        return names

    @property
    def active(self) -> bool:
        return bool(self.fractions or self.lists)

    def to_dict(self) -> dict:
        d: dict = {"by": self.by, "names": self.names}
        if self.fractions:
            d["fractions"] = self.fractions
            d["hash"] = f"sha256('{_SALT}' + id), first 8 bytes big-endian / 2**64"
        if self.lists:
            d["lists"] = {k: list(v) for k, v in self.lists.items()}
            d["unlisted"] = DEFAULT_SPLIT
        return d


def parse_split(texts: list[str] | str | None, by: str = "subject") -> SplitRule:
    """``train=0.8,val=0.1,test=0.1`` or ``test=subjA,subjB,val=subjC`` (several
    texts are joined with commas); None or empty: everything in train."""
    if by not in SPLIT_BY:
        raise SplitError(f"--split-by must be one of {', '.join(SPLIT_BY)}, not {by!r}")
    if isinstance(texts, str):
        texts = [texts]
    text = ",".join(t for t in (texts or []) if t.strip())
    if not text:
        return SplitRule(by=by)
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if "=" in token:
            name, value = (s.strip() for s in token.split("=", 1))
            if not _NAME.match(name):
                raise SplitError(f"split name {name!r} in --split must be letters, digits, _ or -")
            if name in entries:
                raise SplitError(f"split {name!r} given twice in --split {text!r}")
            current = entries[name] = [value] if value else []
        elif current is None:
            raise SplitError(
                f"--split {text!r} must start with NAME=...; e.g. train=0.8,val=0.1,test=0.1"
            )
        else:
            current.append(token)
    fractions = {}
    for name, values in entries.items():
        if len(values) == 1:
            try:
                fractions[name] = float(values[0])
            except ValueError:
                pass
    if len(fractions) == len(entries):
        return SplitRule(by=by, fractions=_check_fractions(fractions, text))
    if fractions:
        raise SplitError(
            f"--split {text!r} mixes fractions and lists; give either"
            " train=0.8,val=0.1,test=0.1 or test=ID,ID"
        )
    seen: dict[str, str] = {}
    for name, ids in entries.items():
        if not ids:
            raise SplitError(f"split {name!r} in --split lists no {by}; e.g. {name}=ID1,ID2")
        for i in ids:
            if i in seen and seen[i] != name:
                raise SplitError(f"{by} {i!r} is listed in splits {seen[i]!r} and {name!r}")
            seen[i] = name
    return SplitRule(by=by, lists={k: tuple(v) for k, v in entries.items()})


def _check_fractions(fractions: dict[str, float], text: str) -> dict[str, float]:
    for name, f in fractions.items():
        if not 0.0 <= f <= 1.0:
            raise SplitError(f"fraction of split {name!r} must be in 0..1, got {f}")
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-6:
        raise SplitError(f"fractions of --split {text!r} add up to {total:g}, not 1")
    return fractions


def hash_unit(ident: str) -> float:
    """A number in [0, 1) that depends only on ``ident`` (same on every machine)."""
    digest = hashlib.sha256((_SALT + ident).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / float(1 << 64)


def assign(rule: SplitRule, ident: str) -> str:
    """The split of a subject or session id under ``rule``."""
    if rule.lists:
        for name, ids in rule.lists.items():
            if ident in ids:
                return name
        return DEFAULT_SPLIT
    if rule.fractions:
        u = hash_unit(ident)
        edge = 0.0
        last = DEFAULT_SPLIT
        for name, f in rule.fractions.items():
            if f <= 0:
                continue
            edge += f
            last = name
            if u < edge:
                return name
        return last  # u just under 1 with fractions summing to 1 - 1e-7
    return DEFAULT_SPLIT
