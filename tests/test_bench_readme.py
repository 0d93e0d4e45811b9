"""app.bench.readme: README's performance table comes from a saved bench run."""

from __future__ import annotations

import json

import pytest

from app.bench import Result
from app.bench.readme import load_run, render_table


def _run(*results: Result) -> dict:
    return {
        "command": "thermorig bench --only review",
        "machine": {"date": "2026-12-04", "cores": 2, "load": 1.5, "python": "3.11.9"},
        "results": [r.to_dict() for r in results],
    }


def test_table_rows_carry_figure_peer_ratio_and_verdict():
    transfer = Result("projection", "full transfer", 20.0, "ms/frame", "rs.align", 5.0, "85%")
    step = Result(
        "review", "frame step", 27.0, "ms", note="p95 43 ms; target p95 <= 30 ms (not met)"
    )
    text = render_table(_run(transfer, step))
    assert "`thermorig bench --only review` (2026-12-04, 2 cores, load 1.5" in text
    assert (
        "| projection | full transfer | 20 ms/frame | rs.align 5 ms/frame | 0.25× | 85% |" in text
    )
    assert (
        "| review | frame step | 27 ms |  |  | p95 43 ms; target p95 <= 30 ms **(not met)** |"
        in text
    )


def test_a_pipe_in_a_name_does_not_break_the_table():
    text = render_table(_run(Result("g", "a | b", 1.0, "ms")))
    assert "| g | a \\| b | 1 ms |" in text


def test_a_file_that_is_not_a_bench_run_is_refused(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps([1, 2]), encoding="utf-8")
    with pytest.raises(ValueError, match="not a 'thermorig bench --json' run"):
        load_run(path)
