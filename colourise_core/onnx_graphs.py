"""Inference graphs in the form the ONNX converter can trace with any input size.

Keras' `UpSampling2D(interpolation="bilinear")` asks a symbolic size for a Python bool when
TensorFlow traces it with an unknown height and width, so the unet's graph (two 2x bilinear
upsamplings) cannot be exported with dynamic sizes as it is. `exportable` clones a graph with
each such layer replaced by `Upsample2x`, the same interpolation in plain keras.ops (slices,
weighted sums, a stack and a reshape), sharing every other layer and so every weight.

The interpolation is TensorFlow's bilinear resize with half-pixel centres (Keras' default) at
scale 2: output row 2i sits at input coordinate i - 1/4 and row 2i + 1 at i + 1/4, so

    out[2i]     = 1/4 x[i - 1] + 3/4 x[i]        out[2i + 1] = 3/4 x[i] + 1/4 x[i + 1],

the neighbours clamped at the edges (TensorFlow clamps the coordinate), per axis.
"""

from __future__ import annotations

import keras
from keras import layers, ops


def _double(x, axis: int):
    """2x half-pixel linear interpolation of x along `axis` (1: rows, 2: columns) of (N, H, W, C)."""
    first = x[:, :1] if axis == 1 else x[:, :, :1]
    last = x[:, -1:] if axis == 1 else x[:, :, -1:]
    head = x[:, :-1] if axis == 1 else x[:, :, :-1]
    tail = x[:, 1:] if axis == 1 else x[:, :, 1:]
    prev = ops.concatenate([first, head], axis=axis)  # x[i - 1], clamped
    nxt = ops.concatenate([tail, last], axis=axis)  # x[i + 1], clamped
    even = 0.25 * prev + 0.75 * x
    odd = 0.75 * x + 0.25 * nxt
    pairs = ops.stack([even, odd], axis=axis + 1)  # (N, H, 2, W, C) or (N, H, W, 2, C)
    shape = ops.shape(x)
    new = [-1, shape[1], shape[2], shape[3]]
    new[axis] = shape[axis] * 2
    return ops.reshape(pairs, new)


class Upsample2x(layers.Layer):
    """`UpSampling2D(2, interpolation="bilinear")` (channels last) in ops that trace with any size."""

    def call(self, x):
        return _double(_double(x, 1), 2)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else 2 * h, None if w is None else 2 * w, c)


def _replaceable(layer) -> bool:
    return (isinstance(layer, layers.UpSampling2D) and layer.interpolation == "bilinear"
            and tuple(layer.size) == (2, 2) and layer.data_format == "channels_last")


def exportable(graph: keras.Model) -> keras.Model:
    """`graph` itself, or a clone sharing its layers with each 2x bilinear `UpSampling2D` replaced
    by `Upsample2x` (same outputs within float rounding; see the module docstring).

    Args:
        graph: a functional Keras model (an inference graph of a family).
    Returns:
        A functional model with the same inputs, outputs and weights.
    """
    if not any(_replaceable(layer) for layer in graph.layers):
        return graph
    return keras.models.clone_model(
        graph, clone_function=lambda layer: Upsample2x(name=layer.name) if _replaceable(layer) else layer)
