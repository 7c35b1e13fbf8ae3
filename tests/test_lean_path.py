"""The lean full-size path (`inference.colourise_many`, `colour.chroma_to_rgb8`) against the
reference float path: the same pixels within 1/255, the luma kept, shared steps done once."""

import numpy as np
import pytest

from app_fixtures import smooth_photo
from colourise_core import colour, imageio, inference


def _photo(h, w, seed=0):
    """A smooth colour image (H, W, 3) uint8 with a little noise."""
    return smooth_photo(h, w, seed, periods=(7, 3, 11, 1), noise=0.03)


def _levels(a, b):
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


def test_kernel_matches_reference_including_gamut_edges():
    rng = np.random.default_rng(1)
    n = 200_000
    y = rng.uniform(0, 1, (n, 1)).astype(np.float32)
    y[:2000] = 0.0  # black and white with strong chroma: the scale must go to 0 (grey)
    y[2000:4000] = 1.0
    uv = rng.uniform(-1.0, 1.0, (n, 2)).astype(np.float32)  # far outside the chroma range too
    uv[4000:6000] = 0.0
    ref = colour.to_uint8(colour.luma_chroma_to_rgb(y, uv))  # float64 reference
    u = np.clip(uv[:, 0], -colour.U_MAX, colour.U_MAX).reshape(400, 500)
    v = np.clip(uv[:, 1], -colour.V_MAX, colour.V_MAX).reshape(400, 500)
    got = colour.chroma_to_rgb8(y.reshape(400, 500, 1), u, v).reshape(n, 3)
    assert _levels(got, ref) <= 1
    assert np.mean(got != ref) < 1e-3  # off by one only at rounding ties
    np.testing.assert_array_equal(got[:2000], 0)
    np.testing.assert_array_equal(got[2000:4000], 255)
    luma_out = colour.rgb_to_y(got / 255.0)
    assert np.abs(luma_out - y).max() <= 0.5 / 255 + 1e-6
    # clipped chroma really was fitted: a saturated colour is not clipped per channel
    assert np.abs(luma_out[6000:] - y[6000:]).max() <= 0.5 / 255 + 1e-6


def test_kernel_tiles_give_the_same_pixels(monkeypatch):
    rng = np.random.default_rng(2)
    y = rng.uniform(0, 1, (37, 53, 1)).astype(np.float32)
    u = rng.uniform(-colour.U_MAX, colour.U_MAX, (37, 53)).astype(np.float32)
    v = rng.uniform(-colour.V_MAX, colour.V_MAX, (37, 53)).astype(np.float32)
    whole = colour.chroma_to_rgb8(y, u, v)
    monkeypatch.setattr(colour, "_KERNEL_TILE", 53 * 3 + 7)  # 3 rows a tile, the last one short
    np.testing.assert_array_equal(colour.chroma_to_rgb8(y, u, v), whole)


def test_luma_of_is_rgb_to_y():
    rgb = np.random.default_rng(3).uniform(0, 1, (31, 17, 3)).astype(np.float32)
    np.testing.assert_allclose(colour.luma_of(rgb), colour.rgb_to_y(rgb), atol=1e-6)


@pytest.mark.parametrize("size", [(1, 1), (3, 10000), (10000, 3), (40, 50), (667, 1001)])
def test_upsample_uv_is_resize_then_clip(size):
    uv = np.random.default_rng(4).uniform(-0.8, 0.8, (32, 32, 2)).astype(np.float32)
    u, v = inference.upsample_uv(uv, size)
    ref = colour.merge_y_uv(np.zeros(size + (1,), np.float32), imageio.resize_float(uv, size))
    np.testing.assert_allclose(u, ref[..., 1], atol=1e-5)
    np.testing.assert_allclose(v, ref[..., 2], atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1), (3, 10000), (667, 1001)])
def test_many_equals_reference_and_keeps_luma(tiny_models, shape):
    rgb = _photo(*shape)
    results = inference.colourise_many(rgb, tiny_models)
    assert list(results) == ["cnn", "cgan", "cvae"]
    luma_in = colour.rgb_to_y(rgb / 255.0)
    for name, model in tiny_models.items():
        got = results[name]
        assert got.rgb8.dtype == np.uint8 and got.rgb8.shape == shape + (3,)
        ref = colour.to_uint8(inference.colourise(rgb, model))
        assert _levels(got.rgb8, ref) <= 1, name
        assert np.abs(colour.rgb_to_y(got.rgb8 / 255.0) - luma_in).max() <= 1 / 255, name
        np.testing.assert_allclose(got.rgb, got.rgb8 / 255.0, atol=1e-7)
        assert got.seen == inference.input_size(model, *shape)


def test_many_decodes_once_and_shares_luma(tiny_models, monkeypatch, tmp_path):
    path = tmp_path / "p.png"
    imageio.save_png_atomic(path, _photo(60, 90))
    calls = []
    real = imageio.load_rgb
    monkeypatch.setattr(imageio, "load_rgb", lambda *a, **k: calls.append(a) or real(*a, **k))
    results = inference.colourise_many(path, tiny_models)
    assert len(calls) == 1
    lumas = {id(r.luma) for r in results.values()}
    assert len(lumas) == 1
    assert set(results["cnn"].steps) >= {"decode", "luma", "y resize", "forward", "uv resize", "rgb8"}


def test_many_samples_and_render_size_per_model(tiny_models):
    rgb = _photo(40, 64)
    results = inference.colourise_many(rgb, tiny_models, samples={"cvae": 3}, temperature={"cvae": 1.5}, seed=7,
                                       render_size={"cnn": 64})
    assert results["cvae"].rgb8.shape == (3, 40, 64, 3)
    assert results["cnn"].rgb8.shape == (40, 64, 3) and results["cgan"].rgb8.shape == (40, 64, 3)
    assert results["cnn"].seen == (40, 64) and results["cgan"].seen == (32, 32)
    ref = inference.colourise(rgb, tiny_models["cvae"], samples=3, temperature=1.5, seed=7)
    assert _levels(results["cvae"].rgb8, colour.to_uint8(ref)) <= 1
    ref_cnn = inference.colourise(rgb, tiny_models["cnn"], render_size=64)
    assert _levels(results["cnn"].rgb8, colour.to_uint8(ref_cnn)) <= 1


def test_many_keeps_alpha(tiny_models):
    rgba = np.dstack([_photo(20, 30), np.linspace(0, 255, 600).reshape(20, 30).astype(np.uint8)])
    out = inference.colourise_many(rgba, {"cnn": tiny_models["cnn"]})["cnn"]
    np.testing.assert_allclose(out.alpha, rgba[..., 3] / 255.0, atol=1e-6)


# ----------------------------------------------------------------------------- memory (issue 11)


def _traced_peak(fn):
    """(result, peak bytes numpy and Python allocated while fn ran), with tracemalloc."""
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        return out, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_decode_and_luma_make_no_full_size_float_rgb(tmp_path):
    """A 3 MP photo decoded and its luma computed: less memory at the peak than one float32 RGB
    copy of it would take alone (36 MB); what is kept is its uint8 bytes and the float32 luma."""
    h, w = 1500, 2000
    path = tmp_path / "big.png"
    imageio.save_png_atomic(path, _photo(h, w), compress_level=1)
    float_rgb = h * w * 3 * 4

    def decode_and_luma():
        loaded = imageio.load_rgb(path)
        return loaded, loaded.luma()

    (loaded, luma), peak = _traced_peak(decode_and_luma)
    assert loaded.pixels.dtype == np.uint8 and luma.dtype == np.float32 and luma.shape == (h, w, 1)
    assert peak < float_rgb, f"peak {peak / 1e6:.1f} MB vs a float RGB copy {float_rgb / 1e6:.1f} MB"
    np.testing.assert_allclose(luma, colour.luma_of(loaded.rgb), atol=1e-6)


def test_each_result_can_be_dropped_before_the_next_is_made(tiny_models):
    """`colourise_each` makes one model's full-size result at a time: a caller that writes and drops
    each (the CLI) peaks lower, by about the other results, than one holding all of them."""
    rgb = _photo(1000, 1500)
    loaded = imageio.load_rgb(rgb)
    result_bytes = 1000 * 1500 * 3  # one uint8 result

    def streamed():
        names = []
        for name, result in inference.colourise_each(loaded, tiny_models):
            names.append((name, result.rgb8.shape))
            result = None  # written, then dropped
        return names

    names, peak_each = _traced_peak(streamed)
    held, peak_all = _traced_peak(lambda: inference.colourise_many(loaded, tiny_models))
    assert [n for n, _ in names] == list(held) == ["cnn", "cgan", "cvae"]
    assert peak_all - peak_each > 1.5 * result_bytes, (peak_each / 1e6, peak_all / 1e6)


def test_first_call_at_a_size_runs_eagerly_then_compiled():
    """Cold start: the first forward pass at an input size is eager (no tf.function trace for a
    one-off), the second compiles; both give the same UV."""
    from colourise_core import models

    model = models.build_model("cnn", 32)
    family = models.family_of(model)
    y = np.random.default_rng(0).uniform(0, 1, (1, 32, 48, 1)).astype("float32")
    first = family.run_graph(model, "uv", y)
    assert model.predict_function is None  # nothing traced yet
    second = family.run_graph(model, "uv", y)
    assert model.predict_function is not None  # the second call at this size compiled
    assert first.shape == second.shape == (1, 32, 48, 2)
    assert np.abs(first - second).max() <= 1e-5
    family.run_graph(model, "uv", np.zeros((1, 64, 64, 1), "float32"))  # a new size: eager again
    assert model._colourise_shapes_seen == {(1, 32, 48, 1), (1, 64, 64, 1)}
