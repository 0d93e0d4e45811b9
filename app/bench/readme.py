"""README's performance table, rendered from a saved ``thermorig bench --json`` run.

Why from a file: the figures belong to one run on one machine (its date, cores and
load are part of what they mean), so the table is regenerated from the JSON that run
wrote (``docs/bench.json``), never typed, and ``python -m app.docs_commands --check``
fails when README and the JSON disagree. To refresh it on a quiet machine::

    .venv/bin/thermorig bench --only projection --only preview --only review \
        --only models --json > docs/bench.json
    .venv/bin/python -m app.docs_commands
"""

from __future__ import annotations

import json
from pathlib import Path

from app.bench import Result, format_value

#: Rows whose note states a target say whether it was met, e.g. "target p95 <= 30 ms (met)".
_VERDICTS = ("(met)", "(not met)")


def load_run(path: Path) -> dict:
    """A saved run: ``{"machine": {...}, "results": [Result dicts]}``."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise ValueError(f"{path}: not a 'thermorig bench --json' run")
    return doc


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(doc: dict) -> str:
    """The Markdown block: where and when it was measured, then one row a result."""
    fields = set(Result.__dataclass_fields__)
    results = [Result(**{k: v for k, v in d.items() if k in fields}) for d in doc["results"]]
    m = doc.get("machine", {})
    where = ", ".join(
        str(x)
        for x in (
            m.get("date"),
            f"{m['cores']} cores" if m.get("cores") else None,
            f"load {m['load']}" if m.get("load") else None,
            f"Python {m['python']}" if m.get("python") else None,
        )
        if x
    )
    lines = [
        f"Measured by `{doc.get('command', 'thermorig bench')}` ({where}); ratios are the"
        " peer's time over ours, timed in turns in the same run (> 1: thermorig is faster).",
        "",
        "| group | what | thermorig | peer | ratio | target, notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        peer = "" if r.peer_value is None else f"{r.peer} {r.peer_value:.3g} {r.unit}"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}×"
        note = r.note
        for verdict in _VERDICTS:
            note = note.replace(verdict, f"**{verdict}**")
        lines.append(
            f"| {r.group} | {_cell(r.name)} | {format_value(r.value)} {r.unit} | {_cell(peer)} | {ratio} | {_cell(note)} |"
        )
    return "\n".join(lines) + "\n"
