"""``thermorig batch export``: one export folder from a whole study, each session's
frames written by its own task.

The single export's steps, spread out: the inputs are opened and checked together
first, on the client (labels of another session, classes that differ, sessions
without a subject when splitting by subject: refused before any work, exit 2), which
fixes each session's key and split. Then one task per session writes its frames into
a staging folder beside ``--out`` (named by the options' fingerprint, so other options
never reuse its files) (:func:`app.export.build.export_session`) and
leaves its part of the manifest in ``<staging>/.parts/<session>.json``; a re-run skips
sessions whose part is there. When every session is done, the parts are assembled
(COCO numbered in session order, the manifest) and the staging folder becomes
``--out`` in one rename — the same folder the single export writes. If any session
failed, nothing is published and the staging folder waits for the re-run.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from app.batch.work import Work
from app.export.build import ExportOptions, assemble, export_session
from app.export.files import write_json
from app.export.inputs import ExportError, check_out, open_inputs, open_pair
from app.labels.sidecar import STATUS_NAMES, default_labels_path
from drivers.atomic import atomic_write


@dataclass(frozen=True, kw_only=True)
class ExportWork(Work):
    command: ClassVar[str] = "export"
    out: Path
    options: ExportOptions
    #: session path → (key, split), fixed on the client by :meth:`planned`.
    plan: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def staging(self) -> Path:
        return self.out.parent / f".{self.out.name}.batch-{self.fingerprint()}"

    def planned(self, sessions: list[Path]) -> ExportWork:
        """Check the inputs together, as export does, and fix keys and splits."""
        check_out(self.out)
        items = open_inputs(
            sessions,
            [default_labels_path(s) for s in sessions],
            stream=self.options.stream,
            statuses=self.options.statuses,
            split=self.options.split,
        )
        try:
            if not sum(len(it.rows) for it in items):
                raise ExportError(
                    f"no {self.options.stream} frame has status"
                    f" {', '.join(self.options.statuses)}; review the labels first, or"
                    " choose others with --status"
                )
            plan = {str(it.session_path): (it.key, it.split) for it in items}
        finally:
            for it in items:
                it.close()
        return replace(self, plan=plan)

    def output(self, session: Path) -> Path:
        key, _ = self.plan[str(session)]
        return self.staging / ".parts" / f"{key}.json"

    def run_session(self, session: Path) -> dict[str, Any]:
        key, split = self.plan[str(session)]
        it = open_pair(session, default_labels_path(session), self.options.stream)
        try:
            it.key, it.split = key, split
            wanted = [STATUS_NAMES.index(s) for s in self.options.statuses]
            it.rows = np.flatnonzero(np.isin(it.status, wanted))
            part = export_session(it, self.staging, self.options)
        finally:
            it.close()
        path = self.output(session)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            json.dump(part, f)
        return {"frames": len(part["frames"]), "split": split}

    def finish(self, sessions: list[Path], failed: int) -> dict[str, Any]:
        if failed:
            return {"export": None, "why": f"{failed} session(s) failed; run again"}
        parts = [json.loads(self.output(s).read_text()) for s in sessions]
        split_names = list(dict.fromkeys([*self.options.split.names, *self._splits()]))
        classes = parts[0]["session"]["classes"]
        manifest = assemble(parts, self.staging, split_names, classes, self.options)
        write_json(self.staging / "manifest.json", manifest)
        shutil.rmtree(self.staging / ".parts")
        check_out(self.out)  # taken while we worked? then leave it alone
        os.replace(self.staging, self.out)
        return {"export": str(self.out), "frames": len(manifest["frames"])}

    def _splits(self) -> list[str]:
        return [split for _, split in self.plan.values()]
