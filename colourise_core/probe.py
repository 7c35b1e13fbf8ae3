"""The first convolutional layer's feature maps of a colourise model (dissertation 5.2).

The probe looks into the network that takes the luma Y at inference: the CNN itself, the CGAN's
generator, the CVAE's conditional encoder (the path used at inference), and reads the output of
its first `Conv2D` layer (CNN and CGAN: "conv_in", a 3x3 valid conv on Y).
"""

from __future__ import annotations

import keras
import numpy as np

from colourise_core import imageio

LUMA_NETWORKS = ("generator", "cond_encoder", "net")  # attributes of a wrapper model that hold its Y -> ... network


def first_conv(model: keras.Model) -> tuple[keras.Model, keras.layers.Layer]:
    """The network that takes Y at inference, and its first Conv2D layer.

    Args:
        model: a colourise model (from `models.build_model`, `weights.load_pretrained`, ...).

    Returns:
        `(network, layer)`.
    """
    net = next((getattr(model, a) for a in LUMA_NETWORKS if isinstance(getattr(model, a, None), keras.Model)), model)
    conv = next(layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D))
    return net, conv


def feature_maps(model: keras.Model, luma: np.ndarray) -> tuple[np.ndarray, str]:
    """The first conv layer's activations on a luma image.

    Args:
        model: a colourise model.
        luma: (H, W, 1) in [0, 1]; resized to the network's input size when that is fixed (the CVAE's
            dense layers take only its training resolution).

    Returns:
        `(maps (h, w, C) float32, the layer's name)`.
    """
    net, conv = first_conv(model)
    probe = keras.Model(net.inputs[0], conv.output)
    y = np.asarray(luma, np.float32)
    height, width = net.inputs[0].shape[1:3]  # None for a fully convolutional network
    if height is not None and width is not None:
        y = imageio.resize_float(y, (height, width)).reshape(height, width, 1)
    if net.inputs[0].shape[-1] == 4:  # the unet's network: [Y - 0.5, hint U, hint V, hint mask], no hints
        y = np.concatenate([y - 0.5, np.zeros(y.shape[:-1] + (3,), np.float32)], axis=-1)
    maps = keras.ops.convert_to_numpy(probe(y[None], training=False))[0]
    return maps, conv.name
