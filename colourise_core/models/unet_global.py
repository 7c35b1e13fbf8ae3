"""The unet's optional global-feature branch: a classifier on the dataset's class labels whose
features are fused into the bottleneck at every position.

The dissertation's future work 6.1.2 (feature extraction: what the scene is should inform its
colours), built as Iizuka, Simo-Serra and Ishikawa, "Let there be Color!" (SIGGRAPH 2016) did:
a global feature vector from the encoder, trained with an extra cross-entropy on image classes,
concatenated with the mid-level features at every position and mixed by a 1x1 "fusion layer".
Their global network takes a fixed 224 x 224 image; here the vector is a global average of the
bottleneck (the unet stays fully convolutional, any input size).

    bottleneck (N, h, w, C) -> mean over (h, w) -> Dense(G) + ReLU -> g (N, G)
        g -> Dense(K) -> class logits (N, K)             (the extra CE term, weight in the config)
        [bottleneck, g tiled to (N, h, w, G)] -> 1x1 conv (C) + BN + ReLU -> fused (N, h, w, C)
"""

from __future__ import annotations

import numpy as np
from keras import layers, ops


class TileToMap(layers.Layer):
    """[vector (N, G), map (N, h, w, C)] -> the vector at every position (N, h, w, G)."""

    def call(self, inputs):
        g, fmap = inputs
        shape = ops.shape(fmap)
        return ops.broadcast_to(g[:, None, None, :], (shape[0], shape[1], shape[2], ops.shape(g)[-1]))

    def compute_output_shape(self, input_shapes):
        g, fmap = input_shapes
        return (fmap[0], fmap[1], fmap[2], g[-1])


def fuse(x, channels: int, width: int, classes: int, bn_momentum: float):
    """The branch on bottleneck features x (N, h, w, C).

    Returns:
        (fused (N, h, w, channels), class logits (N, classes)).
    """
    g = layers.GlobalAveragePooling2D(name="global_pool")(x)  # (N, C)
    g = layers.Dense(width, activation="relu", name="global")(g)  # (N, G): Iizuka's global features
    class_logits = layers.Dense(classes, name="class_logits")(g)  # (N, K)
    tiled = TileToMap(name="global_tile")([g, x])  # (N, h, w, G)
    x = layers.Concatenate(name="global_concat")([x, tiled])  # (N, h, w, C + G)
    x = layers.Conv2D(channels, 1, use_bias=False, name="fusion")(x)  # Iizuka's fusion layer
    x = layers.BatchNormalization(momentum=bn_momentum, name="fusion_bn")(x)
    return layers.ReLU(name="fusion_relu")(x), class_logits


def class_cross_entropy(class_logits, labels):
    """Mean softmax cross-entropy of the labelled images; a label < 0 (no class) counts nothing.

    Args:
        class_logits: (N, K) float.
        labels: (N,) int32, -1 where an image has no label.
    Returns:
        A scalar: sum of -log softmax(logits)[label] over labelled images / their count (0 if none).
    """
    labelled = ops.cast(labels >= 0, "float32")  # (N,)
    log_p = class_logits - ops.logsumexp(class_logits, axis=-1, keepdims=True)  # (N, K)
    picked = ops.take_along_axis(log_p, ops.maximum(labels, 0)[:, None], axis=-1)[:, 0]  # (N,)
    return -ops.sum(picked * labelled) / ops.maximum(ops.sum(labelled), 1.0)


def check_labels(labels, classes: int, dataset_name: str) -> None:
    """A clear message when the training data cannot feed a `classes`-way global branch."""
    from colourise_core.errors import ColouriseError

    if labels is None:
        raise ColouriseError(f"unet global features need class labels, and the training data ({dataset_name}) has none; "
                             "use a labelled dataset (imagenette, cifar10, a folder of class folders) or global_classes 0")
    top = int(np.max(labels)) if len(labels) else -1
    if top >= classes:
        raise ColouriseError(f"unet global_classes is {classes} but the training data has class index {top}; "
                             f"set global_classes to at least {top + 1}")
