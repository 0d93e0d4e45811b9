"""Flatbuffer surgery and custom-op support for converting MediaPipe's .tflite files.

Build time only (the throwaway conversion venv): every TensorFlow / tf2onnx import is
inside the function that needs it, so the pure-numpy parts (:func:`transpose_conv_reference`,
:func:`transpose_conv_params`) stay importable by the tests without TensorFlow.

* :func:`densify` — pose_detection stores sparse weights expanded by ``DENSIFY`` ops,
  which tf2onnx cannot read.
* :func:`transpose_conv_handler` — selfie_segmentation ends in MediaPipe's custom op
  ``Convolution2DTransposeBias`` (a transposed convolution with bias; TFLite's own
  interpreter cannot run it), mapped to ONNX ``ConvTranspose``.
* :func:`truncate_before_custom_op` + :func:`transpose_conv_reference` — an independent
  reference for that op: the graph up to it through TFLite's built-in kernels, the op
  itself in float64 numpy straight from its definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: MediaPipe's custom transposed convolution (mediapipe/util/tflite/operations).
TRANSPOSE_CONV_BIAS = "Convolution2DTransposeBias"
#: TfLitePadding values as stored in the op's custom options.
_PADDING = {1: "SAME", 2: "VALID"}
#: Transpose permutations between TFLite's layouts and ONNX's.
NHWC_TO_NCHW = [0, 3, 1, 2]
NCHW_TO_NHWC = [0, 2, 3, 1]
OHWI_TO_IOHW = [3, 0, 1, 2]  # ConvTranspose weights: (in channels, out channels, kH, kW)


@dataclass(frozen=True)
class TransposeConvParams:
    """The custom options of ``Convolution2DTransposeBias``: TFLite's
    ``TfLiteTransposeConvParams`` struct as raw bytes (int32 padding, stride_width,
    stride_height), not a flexbuffer — tf2onnx therefore reads no attributes for it."""

    padding: str
    stride_w: int
    stride_h: int


def transpose_conv_params(options: bytes) -> TransposeConvParams:
    raw = np.frombuffer(bytes(options)[:12], "<i4")
    if raw.size != 3 or int(raw[0]) not in _PADDING or min(raw[1:]) < 1:
        raise ValueError(f"unexpected {TRANSPOSE_CONV_BIAS} options {bytes(options)!r}")
    return TransposeConvParams(_PADDING[int(raw[0])], int(raw[1]), int(raw[2]))


def transpose_conv_pads(in_hw: tuple[int, int], kernel_hw: tuple[int, int], p: TransposeConvParams):
    """(output (H, W), ONNX pads [top, left, bottom, right]) of the op.

    SAME: output = input × stride, and the full transposed-convolution result
    ((in - 1) · stride + kernel) is cropped by the surplus, the smaller half at the
    start — how TFLite pads a transposed convolution."""
    strides = (p.stride_h, p.stride_w)
    full = [(i - 1) * s + k for i, s, k in zip(in_hw, strides, kernel_hw, strict=True)]
    if p.padding == "VALID":
        return (full[0], full[1]), [0, 0, 0, 0]
    out = [i * s for i, s in zip(in_hw, strides, strict=True)]
    total = [f - o for f, o in zip(full, out, strict=True)]
    if min(total) < 0:
        raise ValueError(f"kernel {kernel_hw} smaller than stride {strides}: SAME is undefined")
    begin = [t // 2 for t in total]
    return (out[0], out[1]), [begin[0], begin[1], total[0] - begin[0], total[1] - begin[1]]


def transpose_conv_reference(
    x: np.ndarray, w_ohwi: np.ndarray, bias: np.ndarray, p: TransposeConvParams
) -> np.ndarray:
    """(N, H', W', O) float64 output of the op, from its definition: every input pixel
    scatters ``kernel · value`` into a stride-spaced window of the output, plus bias.
    ``x`` is NHWC, the kernel OHWI as TFLite stores it."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w_ohwi, np.float64)
    n, h, wd, _ = x.shape
    o, kh, kw, _ = w.shape
    (oh, ow), (top, left, _, _) = transpose_conv_pads((h, wd), (kh, kw), p)
    full = np.zeros((n, (h - 1) * p.stride_h + kh, (wd - 1) * p.stride_w + kw, o))
    for dy in range(kh):
        for dx in range(kw):
            contrib = np.einsum("nhwc,oc->nhwo", x, w[:, dy, dx, :])
            full[
                :,
                dy : dy + (h - 1) * p.stride_h + 1 : p.stride_h,
                dx : dx + (wd - 1) * p.stride_w + 1 : p.stride_w,
            ] += contrib
    return full[:, top : top + oh, left : left + ow] + np.asarray(bias, np.float64)


# ----------------------------------------------------------------- flatbuffer access


def _builtin(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _custom_code(model, op) -> str:
    code = model.operatorCodes[op.opcodeIndex].customCode
    return code.decode() if code else ""


def custom_op_options(path: Path, custom_code: str) -> dict[str, bytes]:
    """Custom options of every ``custom_code`` op, by the name of its output tensor."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    sg = model.subgraphs[0]
    return {
        sg.tensors[int(op.outputs[0])].name.decode(): bytes(np.asarray(op.customOptions, np.uint8))
        for op in sg.operators
        if _custom_code(model, op) == custom_code
    }


def constant(path: Path, tensor_name: str) -> np.ndarray:
    """A constant tensor's values as float32: stored in the file, or stored as float16
    and expanded by a ``DEQUANTIZE`` op (how MediaPipe keeps its weights)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    sg = model.subgraphs[0]
    dtypes = {schema.TensorType.FLOAT16: np.float16, schema.TensorType.FLOAT32: np.float32}
    index = {t.name.decode(): i for i, t in enumerate(sg.tensors)}
    if tensor_name not in index:
        raise KeyError(f"no tensor {tensor_name} in {path.name}")
    i = index[tensor_name]
    for op in sg.operators:
        if int(op.outputs[0]) == i and _builtin(model, op) == schema.BuiltinOperator.DEQUANTIZE:
            i = int(op.inputs[0])
    t = sg.tensors[i]
    data = model.buffers[t.buffer].data
    if data is None:
        raise ValueError(f"{tensor_name} in {path.name} is computed, not a constant")
    raw = np.frombuffer(bytes(np.asarray(data, np.uint8)), dtypes[t.type])
    return raw.reshape(t.shape).astype(np.float32)


def custom_op_inputs(path: Path, custom_code: str) -> list[str]:
    """Input tensor names of the (single) ``custom_code`` op."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    sg = model.subgraphs[0]
    ops = [op for op in sg.operators if _custom_code(model, op) == custom_code]
    if len(ops) != 1:
        raise ValueError(f"{path.name} has {len(ops)} {custom_code} ops, expected one")
    return [sg.tensors[int(i)].name.decode() for i in ops[0].inputs]


def truncate_before_custom_op(src: Path, dst: Path, custom_code: str) -> str:
    """Rewrite ``src`` to end just before its ``custom_code`` op: the op's data input
    becomes the model's output and that op and everything after it are dropped, so
    TFLite's built-in kernels alone run what is left. Returns the new output's name."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(src))
    sg = model.subgraphs[0]
    first = next(i for i, op in enumerate(sg.operators) if _custom_code(model, op) == custom_code)
    feed = int(sg.operators[first].inputs[0])
    sg.operators = sg.operators[:first]
    sg.outputs = np.array([feed], np.int32)
    flatbuffer_utils.write_model(model, str(dst))
    return sg.tensors[feed].name.decode()


def densify(src: Path, dst: Path) -> int:
    """Rewrite ``src`` with every DENSIFY op replaced by its dense constant output.

    The interpreter (without delegates, keeping all tensors) computes what each DENSIFY
    produces; those values become the output tensor's buffer and the op is dropped. The
    sparse input tensor loses its buffer and sparsity so no reader trips on it.
    Returns the number of ops removed.
    """
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(src))
    interp = tf.lite.Interpreter(
        model_path=str(src),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
    interp.invoke()
    sg = model.subgraphs[0]
    kept, removed = [], 0
    for op in sg.operators:
        if _builtin(model, op) != schema.BuiltinOperator.DENSIFY:
            kept.append(op)
            continue
        out_idx, in_idx = int(op.outputs[0]), int(op.inputs[0])
        dense = interp.get_tensor(out_idx)
        buf = schema.BufferT()
        buf.data = np.frombuffer(np.ascontiguousarray(dense).tobytes(), np.uint8)
        model.buffers.append(buf)
        sg.tensors[out_idx].buffer = len(model.buffers) - 1
        sg.tensors[in_idx].buffer = 0
        sg.tensors[in_idx].sparsity = None
        removed += 1
    sg.operators = kept
    flatbuffer_utils.write_model(model, str(dst))
    return removed


# ------------------------------------------------------------------------ tf2onnx


def transpose_conv_handler(options: dict[str, bytes]):
    """tf2onnx handler (``custom_op_handlers`` entry) turning ``Convolution2DTransposeBias``
    into ``Transpose → ConvTranspose(+bias) → Transpose``.

    TFLite works in NHWC with an OHWI kernel, ONNX in NCHW with an IOHW (input
    channels, output channels, kH, kW) kernel: the data and kernel are transposed in,
    the result transposed back; tf2onnx's optimizer folds the kernel transpose into the
    constant and cancels data transposes where it can. ``options`` (from
    :func:`custom_op_options`) supply stride and padding, which tf2onnx cannot parse."""

    def handler(ctx, node, name, args):
        x, w = node.input[0], node.input[1]
        params = transpose_conv_params(options[node.output[0]])
        _, h, wd, _ = ctx.get_shape(x)
        o, kh, kw, _ = ctx.get_shape(w)
        (oh, ow), pads = transpose_conv_pads((h, wd), (kh, kw), params)
        node.type = "ConvTranspose"
        node.domain = ""
        for a in list(node.attr):
            del node.attr[a]
        node.set_attr("kernel_shape", [kh, kw])
        node.set_attr("strides", [params.stride_h, params.stride_w])
        node.set_attr("pads", pads)
        ctx.insert_new_node_on_input(node, "Transpose", x, perm=NHWC_TO_NCHW)
        ctx.insert_new_node_on_input(node, "Transpose", w, perm=OHWI_TO_IOHW)
        out = node.output[0]
        batch = ctx.get_shape(out)[0]
        ctx.insert_new_node_on_output("Transpose", out, perm=NCHW_TO_NHWC)
        ctx.set_shape(out, [batch, o, oh, ow])

    return handler
