"""A model package: ``NAME.onnx`` beside ``NAME.json``, loaded and checked together.

Loading opens the ONNX file in onnxruntime (so a corrupt or truncated file is caught
here, not in the middle of a session) and compares the graph's input and output with
what the JSON promises: names, element type, rank, channels, input size, number of
classes or keypoints. Every mismatch is listed in one line, because "does not match"
alone sends a person hunting; the JSON's task and representation decide what is
expected (:mod:`models.registry`, :mod:`models.preprocess`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.errors import one_line
from models.errors import ModelError
from models.preprocess import colormap_id, get_representation
from models.registry import Dim, handler_for
from models.spec import Manifest, parse_manifest

if TYPE_CHECKING:  # onnxruntime loads with the first model, not with the window
    import onnxruntime as ort

#: ONNX element type of every input and output thermorig reads.
FLOAT = "tensor(float)"


def default_threads() -> int:
    """Intra-op threads for one model: half the cores, 1 to 4.

    A model runs beside capture, recording and the GUI; letting onnxruntime take every
    core makes its own latency jittery and starves the recorder, and small networks
    gain little past a few threads.
    """
    return max(1, min(4, (os.cpu_count() or 2) // 2))


@dataclass(frozen=True)
class IOInfo:
    """One graph input or output as onnxruntime reports it (dims: int, str or None)."""

    name: str
    shape: tuple[Any, ...]
    type: str

    @classmethod
    def of(cls, node: Any) -> IOInfo:
        return cls(node.name, tuple(node.shape or ()), node.type)


@dataclass
class ModelPackage:
    """A loaded, validated model: its manifest and an onnxruntime session."""

    name: str
    onnx_path: Path
    json_path: Path
    manifest: Manifest
    session: ort.InferenceSession
    input_name: str
    output_name: str
    threads: int

    @property
    def task(self) -> str:
        return self.manifest.task

    @property
    def names(self) -> tuple[str, ...]:
        """Classes of a segmenter, keypoints of a keypoint model."""
        return handler_for(self.task).names(self.manifest)

    @property
    def size_bytes(self) -> int:
        return self.onnx_path.stat().st_size


def package_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(NAME.onnx, NAME.json) for ``NAME.onnx``, ``NAME.json`` or ``NAME``."""
    p = Path(path)
    base = p.with_suffix("") if p.suffix.lower() in (".onnx", ".json") else p
    return base.with_name(base.name + ".onnx"), base.with_name(base.name + ".json")


def _fmt_shape(shape: tuple[Any, ...]) -> str:
    return "×".join(str(d) if isinstance(d, int) else "?" for d in shape) or "scalar"


def _dim_ok(actual: Any, expected: Dim) -> bool:
    if expected is None or not isinstance(actual, int) or actual < 0:
        return True  # dynamic on either side
    if isinstance(expected, tuple):
        return actual in expected
    return actual == expected


def _fmt_expected(expected: tuple[Dim, ...]) -> str:
    def one(d: Dim) -> str:
        if d is None:
            return "?"
        if isinstance(d, tuple):
            return "|".join(map(str, d))
        return str(d)

    return "×".join(one(d) for d in expected)


def _pick(
    kind: str, nodes: list[IOInfo], wanted: str | None, field: str
) -> tuple[IOInfo | None, list[str]]:
    if wanted is not None:
        for n in nodes:
            if n.name == wanted:
                return n, []
        have = ", ".join(n.name for n in nodes) or "none"
        return None, [f"the JSON's {field} is '{wanted}' but the graph's {kind}s are {have}"]
    if kind == "input" and len(nodes) != 1:
        have = ", ".join(n.name for n in nodes) or "none"
        return None, [
            f"the graph has {len(nodes)} inputs ({have}); name the one to feed in {field}"
        ]
    if not nodes:
        return None, [f"the graph has no {kind}s"]
    return nodes[0], []


def check_io(
    m: Manifest, inputs: list[IOInfo], outputs: list[IOInfo]
) -> tuple[list[str], str, str]:
    """Problems between the manifest and the graph's inputs/outputs, and the names of
    the input and output to use."""
    problems: list[str] = []
    handler = handler_for(m.task)
    rep = get_representation(m.input.representation)
    if m.input.stream not in rep.stream_kinds:
        problems.append(
            f"representation '{rep.name}' reads {'/'.join(rep.stream_kinds)} streams, not"
            f" '{m.input.stream}'"
        )
    if rep.name == "heatmap":
        try:
            colormap_id(m.input.colormap)
        except ModelError as exc:
            problems.append(str(exc))
    for key in ("mean", "std"):
        n = len(getattr(m.input, key))
        if n not in (1, rep.channels):
            problems.append(
                f"input.normalization.{key} has {n} values for {rep.channels} channel(s)"
            )
    if m.output.kind not in handler.output_kinds:
        problems.append(
            f"a {m.task} model's output kind is {' or '.join(handler.output_kinds)},"
            f" not '{m.output.kind}'"
        )
    if not handler.names(m):
        problems.append(f"the JSON names no {handler.names_field}")
    inp, more = _pick("input", inputs, m.input.name, "input.name")
    problems += more
    if inp is not None:
        if len(inputs) > 1 and m.input.name is not None:
            others = ", ".join(n.name for n in inputs if n.name != inp.name)
            problems.append(f"the graph has further inputs ({others}) that thermorig cannot feed")
        expected: tuple[Dim, ...] = (1, rep.channels, m.input.height, m.input.width)
        if m.input.layout == "NHWC":
            expected = (1, m.input.height, m.input.width, rep.channels)
        if inp.type != FLOAT:
            problems.append(f"input '{inp.name}' is {inp.type}, not float32")
        if len(inp.shape) != 4 or not all(map(_dim_ok, inp.shape, expected)):
            problems.append(
                f"input '{inp.name}' is {_fmt_shape(inp.shape)} but the JSON asks for"
                f" {_fmt_expected(expected)} ({m.input.layout}, size [{m.input.width},"
                f" {m.input.height}], {rep.name}: {rep.channels}"
                f" channel{'s' if rep.channels > 1 else ''})"
            )
    out, more = _pick("output", outputs, m.output.name, "output.name")
    problems += more
    if out is not None and handler.names(m) and m.output.kind in handler.output_kinds:
        expected = handler.expected_output(m)
        if m.input.layout == "NHWC" and len(expected) == 4:
            expected = (expected[0], expected[2], expected[3], expected[1])
        if out.type != FLOAT:
            problems.append(f"output '{out.name}' is {out.type}, not float32")
        if len(out.shape) != len(expected) or not all(map(_dim_ok, out.shape, expected)):
            what = f"{len(handler.names(m))} {handler.names_field}"
            problems.append(
                f"output '{out.name}' is {_fmt_shape(out.shape)} but {m.output.kind} for"
                f" {what} must be {_fmt_expected(expected)}"
            )
    return problems, inp.name if inp else "", out.name if out else ""


def read_manifest(json_path: Path) -> Manifest:
    try:
        raw = json_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {json_path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        why = one_line(exc)[:120]
        raise ModelError(f"{json_path} is not valid JSON ({why}); fix or replace it") from None
    return parse_manifest(data, str(json_path))


def open_session(onnx_path: Path, threads: int) -> ort.InferenceSession:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # onnxruntime's warnings would bury our one-line errors
    try:
        return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own, undocumented exception types
        why = " ".join(str(exc).split())
        if len(why) > 160:
            why = why[:157] + "..."
        raise ModelError(
            f"{onnx_path} is not a readable ONNX model ({why}); export it again or replace it"
        ) from None


def load_package(path: str | os.PathLike, threads: int | None = None) -> ModelPackage:
    """Load and validate the package at ``path`` (``NAME.onnx``, ``NAME.json`` or ``NAME``)."""
    onnx_path, json_path = package_paths(path)
    if not onnx_path.is_file() and not json_path.is_file():
        raise ModelError(f"no model package at {onnx_path.with_suffix('')} (.onnx + .json)")
    if not json_path.is_file():
        raise ModelError(
            f"{onnx_path} has no {json_path.name} beside it; a model package is NAME.onnx"
            " with NAME.json saying its task, input and classes"
        )
    if not onnx_path.is_file():
        raise ModelError(f"{json_path} has no {onnx_path.name} beside it; add the network")
    manifest = read_manifest(json_path)
    n_threads = threads or default_threads()
    session = open_session(onnx_path, n_threads)
    inputs = [IOInfo.of(n) for n in session.get_inputs()]
    outputs = [IOInfo.of(n) for n in session.get_outputs()]
    problems, input_name, output_name = check_io(manifest, inputs, outputs)
    if problems:
        raise ModelError(
            f"{onnx_path.name} does not match {json_path.name}: " + "; ".join(problems)
        )
    return ModelPackage(
        name=onnx_path.stem,
        onnx_path=onnx_path,
        json_path=json_path,
        manifest=manifest,
        session=session,
        input_name=input_name,
        output_name=output_name,
        threads=n_threads,
    )
