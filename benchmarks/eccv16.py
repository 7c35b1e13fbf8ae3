"""Zhang, Isola and Efros, "Colorful Image Colorization" (ECCV 2016): the eccv16 network in Keras.

The layout of `colorizers/eccv16.py` in github.com/richzhang/colorization (PyTorch), rebuilt
layer for layer, for timing only (random weights; the benchmarks compare forward-pass cost):

    model1  conv 64, conv 64 stride 2, BN              (H/2)
    model2  conv 128, conv 128 stride 2, BN            (H/4)
    model3  conv 256 x2, conv 256 stride 2, BN         (H/8)
    model4  conv 512 x3, BN
    model5  conv 512 x3 dilation 2, BN
    model6  conv 512 x3 dilation 2, BN
    model7  conv 512 x3, BN
    model8  transposed conv 256 (4x4, stride 2), conv 256 x2, conv 313 1x1   (H/4)
    softmax over the 313 ab bins, 1x1 conv 313 -> 2 (no bias), bilinear upsampling x4

Every 3x3 conv has a ReLU and a bias; the input is L (N, H, W, 1); the output ab (N, H, W, 2).
PyTorch's padding=1 (2 with dilation 2) keeps the sizes exactly as Keras' padding="same" does.

    python benchmarks/eccv16.py        # prints the parameter count (32.2 M) and one forward time
"""

from __future__ import annotations

import time


def build_eccv16(size: int | None = 256):
    """The eccv16 generator with random weights.

    Args:
        size: input height and width (None: any size divisible by 8).
    Returns:
        A keras.Model, L (N, size, size, 1) -> ab (N, size, size, 2).
    """
    import keras
    from keras import layers

    def conv(x, filters, stride=1, dilation=1, name=None):
        return layers.Conv2D(filters, 3, strides=stride, dilation_rate=dilation, padding="same",
                             activation="relu", name=name)(x)

    l_in = keras.Input((size, size, 1), name="l")
    x = layers.Rescaling(1 / 100.0, offset=-0.5, name="normalize_l")(l_in)  # (L - 50) / 100
    blocks = (
        ("model1", [(64, 1, 1), (64, 2, 1)]),
        ("model2", [(128, 1, 1), (128, 2, 1)]),
        ("model3", [(256, 1, 1), (256, 1, 1), (256, 2, 1)]),
        ("model4", [(512, 1, 1)] * 3),
        ("model5", [(512, 1, 2)] * 3),
        ("model6", [(512, 1, 2)] * 3),
        ("model7", [(512, 1, 1)] * 3),
    )
    for block, convs in blocks:
        for k, (filters, stride, dilation) in enumerate(convs):
            x = conv(x, filters, stride, dilation, name=f"{block}_conv{k}")
        x = layers.BatchNormalization(name=f"{block}_bn")(x)
    x = layers.Conv2DTranspose(256, 4, strides=2, padding="same", activation="relu", name="model8_up")(x)
    x = conv(x, 256, name="model8_conv1")
    x = conv(x, 256, name="model8_conv2")
    x = layers.Conv2D(313, 1, name="model8_bins")(x)  # (N, H/4, W/4, 313)
    x = layers.Softmax(name="softmax")(x)
    x = layers.Conv2D(2, 1, use_bias=False, name="model_out")(x)
    x = layers.UpSampling2D(4, interpolation="bilinear", name="upsample4")(x)
    ab = layers.Rescaling(110.0, name="unnormalize_ab")(x)
    return keras.Model(l_in, ab, name="eccv16")


def main() -> None:
    import numpy as np

    model = build_eccv16(256)
    x = np.random.default_rng(0).uniform(0, 100, (1, 256, 256, 1)).astype("float32")
    start = time.perf_counter()
    model(x, training=False)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    out = model(x, training=False)
    warm = time.perf_counter() - start
    print(f"eccv16: {model.count_params():,} parameters, output {tuple(out.shape)}, "
          f"forward at 256x256: first call {cold:.3f} s, second {warm:.3f} s")


if __name__ == "__main__":
    main()
