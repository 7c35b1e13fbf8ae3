"""ONNX parity for the families past the dissertation's three, with their shipped weights: the unet
(set `general`: its logits graph, the chroma decoding in numpy, with and without hints, at the sizes
it is used at) and the MDN CVAE (set `imagenette-mdn`: the mixture's sampling in numpy). Also the
numpy twins of models.chroma / models.mdn and the exportable upsampling equal what they copy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from app_fixtures import smooth_photo
from colourise_core import inference, onnx_decoding, onnx_export, onnx_graphs, onnx_runtime, weights
from colourise_core.errors import ColouriseError
from colourise_core.models import chroma, mdn

REPO = Path(__file__).resolve().parents[1]
SHIPPED = {"general": "unet", "imagenette-mdn": "cvae", "shapes": "unet"}  # sets with these families (weights/manifest.json)


_photo = smooth_photo


HINTS = {"points": [{"x": 10, "y": 12, "rgb": [220, 30, 30]}, {"x": 150, "y": 90, "rgb": [20, 40, 230]},
                    {"x": 80, "y": 60, "rgb": [30, 200, 40]}], "radius": 4}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The two shipped sets exported with the CLI's code: {set: (keras model, OnnxModel)}, and the root."""
    root = tmp_path_factory.mktemp("onnx_shipped")
    out = {}
    for set_name, name in SHIPPED.items():
        onnx_export.export_set(set_name, out=root, models=(name,), log=lambda *_: None)
        out[set_name] = (weights.load_pretrained(name, set_name), onnx_runtime.load(name, set_name, root=root))
    return out, root


def _hint_maps(shape, rng):
    n, h, w, _ = shape
    uv = rng.uniform(-0.3, 0.3, (n, h, w, 2)).astype("float32")
    mask = (rng.uniform(0, 1, (n, h, w, 1)) < 0.02).astype("float32")
    return uv, mask


def test_upsample2x_is_keras_bilinear_upsampling():
    x = np.random.default_rng(0).normal(0, 1, (2, 5, 7, 3)).astype("float32")
    want = keras.ops.convert_to_numpy(keras.layers.UpSampling2D(2, interpolation="bilinear")(x))
    got = keras.ops.convert_to_numpy(onnx_graphs.Upsample2x()(x))
    assert got.shape == want.shape == (2, 10, 14, 3)
    assert np.abs(got - want).max() <= 1e-6
    one = np.arange(3, dtype="float32").reshape(1, 1, 3, 1)  # a row 0 1 2: 0, .25, .75, 1.25, 1.75, 2
    np.testing.assert_allclose(keras.ops.convert_to_numpy(onnx_graphs.Upsample2x()(one))[0, 0, :, 0],
                               [0, 0.25, 0.75, 1.25, 1.75, 2.0], atol=1e-7)


def test_numpy_twins_equal_the_keras_modules_numbers():
    rng = np.random.default_rng(1)
    centres = chroma.uv_bins(0.05)
    logits = rng.normal(0, 3, (2, 3, 4, len(centres)))
    for t in (1.0, 0.38, 0.0):
        np.testing.assert_array_equal(onnx_decoding.annealed_mean(chroma.log_softmax_np(logits), centres, t),
                                      chroma.annealed_mean(chroma.log_softmax_np(logits), centres, t))
    np.testing.assert_array_equal(onnx_decoding.log_softmax(logits), chroma.log_softmax_np(logits))
    k_logits, means, logvars = rng.normal(0, 1, (3, 4)), rng.normal(0, 1, (3, 4, 6)), rng.normal(-1, 0.3, (3, 4, 6))
    np.testing.assert_array_equal(onnx_decoding.mixture_weights(k_logits), mdn.mixture_weights(k_logits))
    for t, comp in [(1.0, None), (0.0, None), (0.5, 2)]:
        np.testing.assert_array_equal(onnx_decoding.sample_latent(k_logits, means, logvars, 5, t, 7, comp),
                                      mdn.sample_latent(k_logits, means, logvars, 5, t, 7, comp))
    with pytest.raises(ValueError, match="out of range"):
        onnx_decoding.sample_latent(k_logits, means, logvars, 1, 0.0, 0, 4)


def test_export_writes_the_decodings_and_their_numbers(shipped):
    models, root = shipped
    unet = json.loads((root / "general" / "unet.onnx.json").read_text())
    keras_unet = models["general"][0]
    assert unet["decoding"] == "chroma" and sorted(unet["graphs"]) == ["logits"]
    t_stored, alpha = (float(v) for v in keras.ops.convert_to_numpy(keras_unet.decode))
    assert unet["input"]["temperature_default"] == t_stored and unet["input"]["default_render"] == 96
    assert unet["input"]["hint_side"] == keras_unet.config.hint_patch == models["general"][1].hint_side
    np.testing.assert_array_equal(unet["decoding_params"]["centres"], keras_unet.centres)
    np.testing.assert_allclose(unet["decoding_params"]["log_offset"], alpha * np.log(keras_unet.bin_weights()), rtol=1e-12)
    cvae = json.loads((root / "imagenette-mdn" / "cvae.onnx.json").read_text())
    assert cvae["decoding"] == "mixture" and sorted(cvae["graphs"]) == ["cond_encoder", "decoder"]
    assert cvae["input"]["fixed_size"] is True and 0 <= cvae["parity_max_abs"] <= 1 / 255


@pytest.mark.parametrize("size", [(96, 64), (64, 96), (96, 96), (256, 176)])  # R = 96 either way; a render size
@pytest.mark.parametrize("with_hints", [False, True])
def test_parity_unet(shipped, size, with_hints):
    keras_unet, onnx_unet = shipped[0]["general"]
    rng = np.random.default_rng(2)
    y = rng.uniform(0, 1, (1,) + size + (1,)).astype("float32")
    hints = _hint_maps(y.shape, rng) if with_hints else None
    for t in (None, 1.0, 0.0):  # the stored T, the mean, the mode
        want = inference.predict_uv(keras_unet, y, 1, t, 0, hints)
        got = inference.model_predict_uv(onnx_unet, y, 1, t, 0, hints)
        assert got.shape == want.shape == (1, 1) + size + (2,)
        assert np.abs(got - want).max() <= 1e-4, t
    if with_hints:  # the hints reach the graph: they change the colours
        with_h, without = (inference.model_predict_uv(onnx_unet, y, 1, None, 0, h) for h in (hints, None))
        assert np.abs(with_h - without).max() > 1e-2


@pytest.mark.parametrize("size", [(64, 48), (64, 64)])  # the shapes set's unet: R = 64
def test_parity_unet_at_64(shipped, size):
    keras_unet, onnx_unet = shipped[0]["shapes"]
    assert onnx_unet.resolution == keras_unet.resolution == 64
    rng = np.random.default_rng(4)
    y = rng.uniform(0, 1, (1,) + size + (1,)).astype("float32")
    for hints in (None, _hint_maps(y.shape, rng)):
        want = inference.predict_uv(keras_unet, y, 1, None, 0, hints)
        got = inference.model_predict_uv(onnx_unet, y, 1, None, 0, hints)
        assert got.shape == want.shape == (1, 1) + size + (2,)
        assert np.abs(got - want).max() <= 1e-4


@pytest.mark.parametrize("samples,temperature,seed,component", [(1, 0.0, 0, None), (3, 0.0, 0, None), (3, 1.0, 4, None),
                                                                 (2, 0.0, 0, 3), (2, 1.5, 1, 5)])
def test_parity_mdn_cvae_sampling(shipped, samples, temperature, seed, component):
    keras_cvae, onnx_cvae = shipped[0]["imagenette-mdn"]
    y = np.random.default_rng(3).uniform(0, 1, (2, 128, 128, 1)).astype("float32")
    want = inference.predict_uv(keras_cvae, y, samples, temperature, seed, component=component)
    got = onnx_cvae.predict_uv(y, samples, temperature, seed, component=component)
    assert got.shape == want.shape == (samples, 2, 128, 128, 2)
    assert np.abs(got - want).max() <= 1e-4
    if samples > 1 and (temperature > 0 or component is None):
        assert np.abs(got[0] - got[-1]).max() > 1e-3  # different components or draws: different colours


def test_parity_full_size_pixels_with_hints(shipped):
    models = {"unet": shipped[0]["general"], "cvae": shipped[0]["imagenette-mdn"]}
    rgb = _photo(100, 171)
    kw = dict(samples={"cvae": 2}, temperature={"cvae": 1.0}, seed=3, hints={"unet": HINTS})
    want = inference.colourise_many(rgb, {n: m[0] for n, m in models.items()}, **kw)
    got = inference.colourise_many(rgb, {n: m[1] for n, m in models.items()}, **kw)
    for name in want:
        assert got[name].seen == want[name].seen
        assert np.abs(got[name].rgb8.astype(int) - want[name].rgb8).max() <= 1, name
    plain = inference.colourise_many(rgb, {"unet": models["unet"][1]})["unet"].rgb8
    assert np.abs(plain.astype(int) - got["unet"].rgb8).max() > 20  # the hints coloured something


def test_onnx_model_without_hints_refuses_them(shipped):
    onnx_cvae = shipped[0]["imagenette-mdn"][1]
    y = np.zeros((1, 128, 128, 1), "float32")
    with pytest.raises(ColouriseError, match="the cvae model takes no hints; use a model that does"):
        onnx_cvae.predict_uv(y, hints=_hint_maps(y.shape, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="no mixture"):
        shipped[0]["general"][1].predict_uv(np.zeros((1, 96, 96, 1), "float32"), component=1)


def test_cli_unet_with_hints_on_onnx_never_imports_tensorflow(shipped, tmp_path):
    _, root = shipped
    Image.fromarray(_photo(120, 170)).save(tmp_path / "p.png")
    (tmp_path / "h.json").write_text(json.dumps(HINTS))
    env = {**os.environ, "COLOURISE_ONNX_DIR": str(root), "PYTHONPATH": str(REPO)}
    env.pop("COLOURISE_WEIGHTS_DIR", None)
    probe = ("import sys; from colourise_core import cli; rc = cli.main(sys.argv[1:]); "
             "print('IMPORTED', 'tensorflow' in sys.modules, 'keras' in sys.modules); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", probe, "colourise", str(tmp_path / "p.png"), "--model", "unet",
                           "--weights", "general", "--hints", str(tmp_path / "h.json"), "--runtime", "onnx",
                           "--out", str(tmp_path / "o")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "IMPORTED False False" in proc.stdout
    got = np.asarray(Image.open(tmp_path / "o" / "p.unet.png"), dtype=int)
    want = inference.colourise_many(tmp_path / "p.png", {"unet": shipped[0]["general"][0]}, hints={"unet": HINTS})
    assert got.shape == (120, 170, 3) and np.abs(got - want["unet"].rgb8).max() <= 1
