"""ONNX post-processing of tf2onnx's output for the shipped MediaPipe models.

Build time only (``onnx`` is imported inside each function, in the conversion venv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def drop_final_sigmoid(path: Path, logits_name: str) -> None:
    """Make the graph output the logits its final Sigmoid reads (renamed ``logits_name``).

    Layout-only nodes (Reshape, Transpose) between the Sigmoid and the output stay; the
    Sigmoid becomes an Identity."""
    import onnx

    model = onnx.load(str(path))
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    node = producer[g.output[0].name]
    while node.op_type in ("Reshape", "Transpose"):
        node = producer[node.input[0]]
    names = {o for n in g.node for o in n.output} | {i.name for i in g.initializer}
    if node.op_type != "Sigmoid" or logits_name in names:
        raise ValueError(
            f"{path.name}: no final Sigmoid to drop ({node.op_type}), or '{logits_name}' taken"
        )
    node.op_type = "Identity"  # onnxruntime removes it when it optimises the graph
    old = g.output[0].name
    for n in g.node:
        for i, name in enumerate(n.output):
            if name == old:
                n.output[i] = logits_name
    g.output[0].name = logits_name
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def compact_float16(path: Path) -> int:
    """Store float32 weights that are exactly float16 values as float16 + Cast.

    The .tflite keeps its weights in float16 and dequantizes them at load; tf2onnx
    writes them back as float32, doubling the file. Casting them at load in onnxruntime
    restores the original size with bit-identical values. Returns how many were
    compacted.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    new_inits, casts, n = [], [], 0
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        if (
            arr.dtype == np.float32
            and arr.size >= 64
            and np.array_equal(arr.astype(np.float16).astype(np.float32), arr)
        ):
            half = numpy_helper.from_array(arr.astype(np.float16), init.name + "__f16")
            new_inits.append(half)
            casts.append(
                helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT)
            )
            n += 1
        else:
            new_inits.append(init)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return n


def canonical_names(path: Path) -> None:
    """Put the nodes in a canonical order and name every internal tensor by it (``t12``,
    constants ``c7``); drop node names and intermediate shape annotations.

    tf2onnx numbers the names it makes from counters, and orders independent branches,
    differently from run to run, so two conversions of the same file give the same
    graph in another order under other names — and a different 6 MB binary in version
    control. Here the next node is always the ready one (all inputs computed) with the
    smallest structural key — its inputs' canonical names (a constant not yet named:
    its content's hash), op type and attributes — so the script reproduces the shipped
    files byte for byte. Graph inputs and outputs keep their names.
    """
    import hashlib

    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    keep = {i.name for i in g.input} | {o.name for o in g.output}
    inits = {t.name: t for t in g.initializer}
    content = {}  # by value, never by tf2onnx's name
    for name, t in inits.items():
        a = numpy_helper.to_array(t)
        content[name] = hashlib.sha256(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()
    new: dict[str, str] = {}

    def label(name: str) -> str:
        if name in new:
            return new[name]
        return f"h:{content[name]}" if name in content else name

    def key(node) -> tuple:
        attrs = b"".join(a.SerializeToString() for a in node.attribute)
        return (tuple(label(i) for i in node.input), node.op_type, node.domain, attrs)

    ready_names = {i.name for i in g.input} | set(inits) | {""}
    pending = list(g.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(i in ready_names for i in n.input)]
        if not ready:
            raise ValueError(f"{path.name}: the graph has a cycle or an undefined input")
        node = min(ready, key=key)
        pending.remove(node)
        ordered.append(node)
        for name in node.input:
            if name in inits and name not in new:
                new[name] = f"c{len(new)}"
        for name in node.output:
            ready_names.add(name)
            if name not in keep:
                new[name] = f"t{len(new)}"
    for node in ordered:
        node.name = ""
        node.input[:] = [new.get(i, i) for i in node.input]
        node.output[:] = [new.get(o, o) for o in node.output]
    used = sorted((t for t in g.initializer if t.name in new), key=lambda t: int(new[t.name][1:]))
    for t in used:
        t.name = new[t.name]
    del g.initializer[:]
    g.initializer.extend(used)
    del g.node[:]
    g.node.extend(ordered)
    del g.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
