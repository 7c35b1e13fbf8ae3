"""The dissertation's CNN (section 4.1; layer table of Figure 4.9b).

Y (N, H, W, 1) -> UV (N, H, W, 2). A 3x3 'valid' convolution, then stride-2 3x3 convolutions
down to a 4x4 bottleneck (at 32 px: 30 -> 15 -> 8 -> 4), then nearest-neighbour 2x upsampling
stages back to full size, ReLU hidden layers and a tanh output. The same network with batch
normalisation instead of dropout is the CGAN's generator (4.2.2).

Resolution rule: one stride-2 stage per halving from the resolution down to 4x4
(log2(resolution) - 2 stages: 3 at 32 px, 4 at 64 px, 5 at 128 px); the extra stages of the
64 and 128 px versions sit in the middle of the network, so the first and last layers are the
dissertation's. The network is fully convolutional: it takes any H, W that are multiples of
2 ** stages.
"""

from __future__ import annotations

import dataclasses
import math

import keras
from keras import layers

from colourise_core.models.family import Family, layout
from colourise_core.models.family import from_dict as config_from_dict

# Down-stage filters (stride-2 convs) and the convs after each upsampling, per resolution.
# 32 px is exactly Figure 4.9b (233,106 parameters with batch normalisation).
_LAYOUTS = {
    32: ((16, 32, 128), ((128,), (32, 16), ())),
    64: ((16, 32, 64, 128), ((128,), (64,), (32, 16), ())),
    128: ((16, 32, 64, 128, 128), ((128,), (128,), (64,), (32, 16), ())),
}


@dataclasses.dataclass(frozen=True)
class CNNConfig:
    resolution: int = 32  # training image size (32 CIFAR-10, 64 Shape Set, 128 Faces/Imagenette)
    first_filters: int = 8  # the 3x3 'valid' convolution at full resolution
    down_filters: tuple = _LAYOUTS[32][0]  # one stride-2 3x3 conv per stage
    up_filters: tuple = _LAYOUTS[32][1]  # 3x3 convs after each 2x upsampling
    dropout: float = 0.2  # after each middle conv (4.1.4); 0 for the CGAN generator
    batch_norm: bool = False  # after each middle conv; True for the CGAN generator (4.2.2)

    @classmethod
    def for_resolution(cls, resolution: int, **overrides) -> "CNNConfig":
        """The layout for 32, 64 or 128 px (see the module docstring for the rule)."""
        down, up = layout(_LAYOUTS, resolution, "CNN")
        return cls(resolution=resolution, down_filters=down, up_filters=up, **overrides)

    @classmethod
    def from_dict(cls, d: dict) -> "CNNConfig":
        return config_from_dict(cls, d, ("down_filters",), ("up_filters",))

    @property
    def stages(self) -> int:
        return len(self.down_filters)


def _regularise(x, config: CNNConfig, name: str):
    if config.batch_norm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    if config.dropout > 0:
        x = layers.Dropout(config.dropout, name=f"{name}_drop")(x)
    return x


def build(config: CNNConfig = CNNConfig(), name: str = "cnn") -> keras.Model:
    """Build the CNN from its config.

    Args:
        config: the layout and regularisation.
        name: the model's name ("generator" when used inside the CGAN).
    Returns:
        A functional keras.Model, Y (N, H, W, 1) -> UV (N, H, W, 2) in [-1, 1].
    """
    if len(config.up_filters) != config.stages:
        raise ValueError("up_filters needs one entry per down stage")
    if 2 ** config.stages * 4 != config.resolution and config.resolution != 0:
        expected = int(math.log2(config.resolution)) - 2
        raise ValueError(f"{config.resolution} px needs {expected} stages, got {config.stages}")
    conv = dict(kernel_size=3, padding="same", activation="relu")
    y = keras.Input(shape=(None, None, 1), name="y")  # (N, H, W, 1)
    x = layers.Conv2D(config.first_filters, 3, padding="valid", activation="relu", name="conv_in")(y)
    for i, f in enumerate(config.down_filters):  # (N, H / 2^(i+1), W / 2^(i+1), f)
        x = layers.Conv2D(f, strides=2, name=f"down{i}", **conv)(x)
        x = _regularise(x, config, f"down{i}")
    n_up = sum(len(s) for s in config.up_filters)
    k = 0
    for i, stage in enumerate(config.up_filters):  # (N, H / 2^(stages-i-1), ..., f)
        x = layers.UpSampling2D(2, name=f"up{i}")(x)
        for j, f in enumerate(stage):
            x = layers.Conv2D(f, name=f"up{i}_conv{j}", **conv)(x)
            k += 1
            if 1 < k < n_up:  # not the first conv after the bottleneck, nor the last hidden
                x = _regularise(x, config, f"up{i}_conv{j}")
    uv = layers.Conv2D(2, 3, padding="same", activation="tanh", name="uv")(x)  # (N, H, W, 2)
    return keras.Model(y, uv, name=name)


class CNNFamily(Family):
    """The CNN: MSE on UV with Adam, batch 512, augmented (4.1.2-4.1.4)."""

    name = "cnn"
    config_cls = CNNConfig
    defaults = dict(batch_size=512, learning_rate=1e-3, beta_1=0.9, augment=True)
    train_options = ("dropout",)

    def build(self, config: CNNConfig) -> keras.Model:
        return build(config)


FAMILY = CNNFamily()
