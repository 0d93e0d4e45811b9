"""The command reference (``docs/commands.md``) and README's command table, rendered
from the argparse parsers of :mod:`app.cli`; and README's performance table, rendered
from the saved bench run ``docs/bench.json`` (:mod:`app.bench.readme`).

Why generated: the parsers are what ``thermorig`` actually accepts, so a reference
written from them cannot drift; a hand-kept copy goes stale the day an option is
added. Only the part between the ``BEGIN GENERATED`` and ``END GENERATED`` markers of
each file is rewritten; the hand-written introduction and examples around it are
kept. ``tests/test_docs.py`` fails when the committed files differ from what this
renders, so after changing a command (or adding one to ``app.cli.COMMANDS``) run::

    .venv/bin/python -m app.docs_commands          # rewrite both files
    .venv/bin/python -m app.docs_commands --check  # exit 1 if either is stale

The output is the same on every machine: usage lines are wrapped at a fixed width and
machine-specific paths (the user model folder, the home folder) are replaced by their
portable spelling.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.bench.readme import load_run, render_table
from app.cli import build_parser
from drivers.atomic import atomic_write

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "commands.md"
README = ROOT / "README.md"
BENCH_RUN = ROOT / "docs" / "bench.json"
REGENERATE = "python -m app.docs_commands"

#: Markers around the generated block of a file (``name`` tells the blocks apart).
BEGIN = "<!-- BEGIN GENERATED {name}: run `" + REGENERATE + "`, do not edit by hand -->"
END = "<!-- END GENERATED {name} -->"

#: Usage lines are wrapped as in a terminal this wide, whatever the real one is.
USAGE_COLUMNS = 90


class StaleError(Exception):
    """A file whose markers are missing, so the generated block has no place."""


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of every sub-command, in ``--help`` order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, helps.get(name, ""), p) for name, p in action.choices.items()]
    return []


@contextmanager
def _columns(n: int) -> Iterator[None]:
    """argparse wraps usage to ``$COLUMNS``; fix it so the output is reproducible."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(n)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def _portable(text: str) -> str:
    """Machine-specific paths in help texts, as every machine's reference spells them."""
    from models.catalog import user_models_dir

    text = text.replace(str(user_models_dir()), "~/.local/share/thermorig/models")
    return text.replace(str(Path.home()), "~")


def _code(text: str) -> str:
    """Text for a code span in a markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _cell(text: str) -> str:
    """Prose for markdown (a table cell or a paragraph): one line, pipes escaped, and
    ``<``/``>`` as entities so that ``annotations_<split>.json`` is not taken for HTML."""
    return _code(text).replace("<", "&lt;").replace(">", "&gt;")


def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        name = action.metavar if isinstance(action.metavar, str) else " ".join(action.metavar)
    elif action.choices is not None:
        name = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        name = action.dest if not action.option_strings else action.dest.upper()
    nargs = action.nargs
    if nargs == "+":
        return f"{name} [{name} ...]"
    if nargs == "*":
        return f"[{name} ...]"
    if nargs == "?":
        return f"[{name}]"
    if isinstance(nargs, int) and nargs > 1:
        return " ".join([name] * nargs)
    return name


def _signature(action: argparse.Action) -> str:
    if not action.option_strings:
        return _metavar(action)
    names = ", ".join(action.option_strings)
    return names if action.nargs == 0 else f"{names} {_metavar(action)}"


def _default(action: argparse.Action) -> str:
    d = action.default
    if d is None or d == "" or d is argparse.SUPPRESS or (action.nargs == 0 and d is False):
        return ""
    if isinstance(d, (list, tuple)):
        d = ",".join(map(str, d))
    return f"`{d}`"


def _notes(action: argparse.Action, exclusive: dict[int, list[str]]) -> str:
    notes = []
    if action.option_strings and action.required:
        notes.append("required")
    if isinstance(action, argparse._AppendAction) and "repeat" not in (action.help or ""):
        notes.append("repeatable")
    others = exclusive.get(id(action))
    if others:
        notes.append("not with " + ", ".join(f"`{o}`" for o in others))
    return f" ({'; '.join(notes)})" if notes else ""


def _exclusive(parser: argparse.ArgumentParser) -> dict[int, list[str]]:
    """For each action in a mutually exclusive group, the options it excludes."""
    out: dict[int, list[str]] = {}
    for group in parser._mutually_exclusive_groups:
        for a in group._group_actions:
            out[id(a)] = [b.option_strings[0] for b in group._group_actions if b is not a]
    return out


def _required_groups(parser: argparse.ArgumentParser) -> list[str]:
    return [
        "one of " + ", ".join(f"`{a.option_strings[0]}`" for a in g._group_actions)
        for g in parser._mutually_exclusive_groups
        if g.required
    ]


def render_command(name: str, summary: str, parser: argparse.ArgumentParser) -> str:
    """One sub-command's section: usage, description, arguments."""
    with _columns(USAGE_COLUMNS):
        usage = parser.format_usage().strip()
    lines = [f"### thermorig {name}", "", f"_{_cell(summary)}_", ""]
    if parser.description:
        lines += [_cell(parser.description), ""]
    lines += ["```text", usage, "```", ""]
    exclusive = _exclusive(parser)
    rows = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    if rows:
        lines += ["| argument | meaning | default |", "|---|---|---|"]
        for a in rows:
            meaning = (a.help or "") % {"prog": parser.prog, **vars(a)} if a.help else ""
            if a.choices is not None and a.metavar is not None:
                meaning += f" Choices: {', '.join(map(str, a.choices))}."
            cell = _cell(meaning + _notes(a, exclusive))
            lines.append(f"| `{_code(_signature(a))}` | {cell} | {_default(a)} |")
        lines.append("")
    for req in _required_groups(parser):
        lines += [f"Exactly {req} is required.", ""]
    return "\n".join(lines)


def render_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """The generated block of ``docs/commands.md`` (without its markers)."""
    parser = parser or build_parser()
    with _columns(USAGE_COLUMNS):
        usage = parser.format_usage().strip()
    commands = subcommands(parser)
    lines = ["```text", usage, "```", "", "| command | what it does |", "|---|---|"]
    lines += [f"| [`{n}`](#thermorig-{n}) | {_cell(h)} |" for n, h, _ in commands]
    lines.append("")
    for n, h, p in commands:
        lines.append(render_command(n, h, p))
        # A command of sub-commands (``experiment``): each gets its own section.
        lines += [render_command(f"{n} {n2}", h2, p2) for n2, h2, p2 in subcommands(p)]
    return _portable("\n".join(lines).rstrip() + "\n")


def render_readme_table(parser: argparse.ArgumentParser | None = None) -> str:
    """The generated command table of README.md (without its markers)."""
    parser = parser or build_parser()
    lines = ["| command | what it does |", "|---|---|"]
    lines += [
        f"| [`thermorig {n}`](docs/commands.md#thermorig-{n}) | {_cell(h)} |"
        for n, h, _ in subcommands(parser)
    ]
    return _portable("\n".join(lines) + "\n")


def replace_block(text: str, name: str, block: str, where: str = "the file") -> str:
    """``text`` with the generated block ``name`` replaced by ``block``."""
    begin, end = BEGIN.format(name=name), END.format(name=name)
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        raise StaleError(f"{where} lacks the markers {begin!r} ... {end!r}; add them")
    return text[: i + len(begin)] + "\n" + block + text[j:]


def targets() -> list[tuple[Path, str, str]]:
    """(file, block name, rendered block) of everything this module keeps in step."""
    parser = build_parser()
    return [
        (REFERENCE, "COMMAND REFERENCE", render_reference(parser)),
        (README, "COMMAND TABLE", render_readme_table(parser)),
        (README, "PERFORMANCE TABLE", render_table(load_run(BENCH_RUN))),
    ]


def stale_files() -> list[Path]:
    """Files whose generated block differs from what the parsers give now."""
    out = []
    for path, name, block in targets():
        text = path.read_text(encoding="utf-8")
        if replace_block(text, name, block, str(path)) != text:
            out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name if __spec__ else 'app.docs_commands'}",
        description="Rewrite docs/commands.md and README.md's command table from the parsers,"
        " and README.md's performance table from docs/bench.json.",
    )
    ap.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    args = ap.parse_args(argv)
    try:
        if args.check:
            stale = stale_files()
            for path in stale:
                print(f"{path} is out of date: run `{REGENERATE}`", file=sys.stderr)
            return 1 if stale else 0
        for path, name, block in targets():
            text = path.read_text(encoding="utf-8")
            new = replace_block(text, name, block, str(path))
            if new != text:
                mode = path.stat().st_mode & 0o777
                with atomic_write(path, encoding="utf-8") as fh:
                    os.chmod(fh.name, mode)  # the temp file is 0600: keep the old mode
                    fh.write(new)
                print(f"updated {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    except StaleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc.filename} not found; run this in a thermorig checkout", file=sys.stderr)
        return 2
    except ValueError as exc:  # docs/bench.json that is not a bench run
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
