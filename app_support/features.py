"""The first convolutional layer's feature maps of each model (dissertation 5.2).

CNN: layer "conv_in" (3x3 valid conv on Y); CGAN: its generator's "conv_in"; CVAE: the first
conv of the conditional encoder (the path used at inference), "cond_encoder_conv0".
"""

from __future__ import annotations

import keras
import numpy as np

from colourise_core import imageio


def first_conv(model) -> tuple[keras.Model, keras.layers.Layer]:
    """(network holding the layer, the first conv layer) of a colourise model."""
    name = model.colourise_name
    if name == "cnn":
        return model, model.get_layer("conv_in")
    if name == "cgan":
        return model.generator, model.generator.get_layer("conv_in")
    net = model.cond_encoder
    conv = next(layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D))
    return net, conv


def feature_maps(model, luma: np.ndarray) -> tuple[np.ndarray, str]:
    """The first conv layer's activations on a luma image.

    Args:
        model: a colourise model.
        luma: (H, W, 1) in [0, 1]; resized to the model's resolution for the CVAE (fixed size).
    Returns:
        (maps (h, w, C) float32, the layer's name).
    """
    net, conv = first_conv(model)
    probe = keras.Model(net.inputs[0], conv.output)
    y = np.asarray(luma, np.float32)
    if model.colourise_name == "cvae":
        y = imageio.resize_float(y, (model.resolution, model.resolution)).reshape(model.resolution, model.resolution, 1)
    maps = keras.ops.convert_to_numpy(probe(y[None], training=False))[0]
    return maps, conv.name
