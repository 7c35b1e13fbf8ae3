"""The unet's hint inputs: the packed input, Levin's propagation on the output grid, widening a
network to take it (a fine-tune from weights without it), and what the propagation buys."""

import numpy as np
import pytest

from colourise_core import classic, colour, models, seeding, unet_inputs
from colourise_core.errors import WeightsError
from colourise_core.models import chroma, unet

TINY = dict(widths=(8, 16, 16, 32, 32), dilations=(1, 2), decoder_widths=(32, 32))


def _hints(n=2, h=32, w=32, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random((n, h, w, 1), dtype=np.float32)
    uv = rng.uniform(-0.3, 0.3, (n, h, w, 2)).astype(np.float32)
    mask = np.zeros((n, h, w, 1), np.float32)
    mask[0, 5:8, 9:11] = 1.0  # image 0: one hint patch; image 1: none
    return y, uv, mask


def test_block_mean_averages_each_block_and_drops_the_remainder():
    a = np.arange(5 * 5, dtype=np.float32).reshape(5, 5, 1)  # a[r, c] = 5r + c; row and column 4 dropped
    np.testing.assert_array_equal(unet_inputs.block_mean(a, 2)[..., 0], [[3.0, 5.0], [13.0, 15.0]])
    batch = np.stack([a, 2 * a])  # (N, H, W, C) as the training targets are
    np.testing.assert_array_equal(unet_inputs.block_mean(batch, 2)[1, ..., 0], [[6.0, 10.0], [26.0, 30.0]])


def test_pack_without_propagation_is_y_then_masked_hints_then_mask():
    y, uv, mask = _hints()
    x = unet_inputs.pack(y, (uv, mask))
    assert x.shape == (2, 32, 32, 4)
    np.testing.assert_array_equal(x[..., :1], y)
    np.testing.assert_array_equal(x[..., 1:3], uv * mask)
    np.testing.assert_array_equal(x[..., 3:], mask)
    np.testing.assert_array_equal(unet_inputs.pack(y), np.concatenate([y, np.zeros((2, 32, 32, 3), np.float32)], -1))


def test_pack_with_propagation_adds_levin_on_the_4x4_grid_a_flag_and_closeness():
    y, uv, mask = _hints()
    x = unet_inputs.pack(y, (uv, mask), propagate_hints=True)
    assert x.shape == (2, 32, 32, 8)
    np.testing.assert_array_equal(x[..., :4], unet_inputs.pack(y, (uv, mask)))
    assert np.all(x[1, ..., 4:] == 0.0)  # no hints: nothing propagated, flag 0
    assert np.all(x[0, ..., 6] == 1.0)
    prop = x[0, ..., 4:6]
    blocks = prop.reshape(8, 4, 8, 4, 2)
    assert np.all(blocks == blocks[:, :1, :, :1])  # constant over each 4 x 4 block
    # by hand: the hinted cells (rows 5-7 -> cells 1; cols 9-10 -> cell 2) get the mean hint there
    y_small = y[0].reshape(8, 4, 8, 4, 1).mean(axis=(1, 3))
    cell_hint = np.zeros((8, 8, 2), np.float32)
    cell_mask = np.zeros((8, 8, 1), bool)
    for (r, c) in ((1, 2),):
        sel = mask[0, 4 * r:4 * r + 4, 4 * c:4 * c + 4, 0] > 0
        cell_hint[r, c] = uv[0, 4 * r:4 * r + 4, 4 * c:4 * c + 4][sel].mean(axis=0)
        cell_mask[r, c] = True
    want = classic.levin_solve(y_small, cell_hint, cell_mask)
    np.testing.assert_allclose(blocks[:, 0, :, 0], want, atol=1e-6)
    np.testing.assert_allclose(want, np.broadcast_to(cell_hint[1, 2], want.shape), atol=1e-6)  # one hint: everywhere
    # closeness: exp(-d / 3) for d the Euclidean distance in cells to the hinted cell (1, 2)
    rows, cols = np.mgrid[0:8, 0:8]
    near = np.exp(-np.hypot(rows - 1, cols - 2) / unet_inputs.CLOSENESS_CELLS)
    np.testing.assert_allclose(x[0, ::4, ::4, 7], near, rtol=1e-5)
    assert np.all(x[0, ..., 7].reshape(8, 4, 8, 4) == x[0, ::4, ::4, 7][:, None, :, None])


def test_propagation_returns_the_hints_where_every_cell_is_hinted_and_follows_edges():
    rng = np.random.default_rng(3)
    y = rng.random((16, 16, 1), dtype=np.float32)
    cells = rng.uniform(-0.3, 0.3, (4, 4, 2)).astype(np.float32)
    uv = np.repeat(np.repeat(cells, 4, axis=0), 4, axis=1)
    np.testing.assert_allclose(unet_inputs.propagate(y, uv, np.ones((16, 16, 1), np.float32)), cells, atol=1e-6)
    # two regions of different luma, a hint in each: each region takes its own hint's colour
    y = np.where(np.arange(32)[None, :, None] < 16, 0.2, 0.8).repeat(32, axis=0).astype(np.float32)
    uv = np.zeros((32, 32, 2), np.float32)
    mask = np.zeros((32, 32, 1), np.float32)
    uv[2, 2], mask[2, 2] = (0.2, -0.1), 1.0
    uv[29, 29], mask[29, 29] = (-0.15, 0.25), 1.0
    out = unet_inputs.propagate(y, uv, mask)  # (8, 8, 2); across the edge leaks under 2% of the step
    np.testing.assert_allclose(out[:, :4], np.broadcast_to([0.2, -0.1], (8, 4, 2)), atol=0.005)
    np.testing.assert_allclose(out[:, 4:], np.broadcast_to([-0.15, 0.25], (8, 4, 2)), atol=0.005)


def test_propagation_needs_sides_that_are_multiples_of_the_output_stride():
    y = np.zeros((1, 30, 32, 1), np.float32)
    with pytest.raises(ValueError, match="multiples of 4, got 30x32"):
        unet_inputs.pack(y, (np.zeros((1, 30, 32, 2)), np.ones((1, 30, 32, 1))), propagate_hints=True)


def test_widen_kernel_pads_new_input_channels_with_zeros_and_refuses_other_shapes():
    old = np.arange(3 * 3 * 4 * 2, dtype=np.float32).reshape(3, 3, 4, 2)
    new = unet_inputs.widen_kernel(old, (3, 3, 7, 2))
    np.testing.assert_array_equal(new[:, :, :4], old)
    assert np.all(new[:, :, 4:] == 0)
    assert unet_inputs.widen_kernel(old, old.shape) is old
    for bad in ((3, 3, 3, 2), (3, 3, 7, 3), (1, 1, 7, 2)):
        with pytest.raises(ValueError, match="cannot widen"):
            unet_inputs.widen_kernel(old, bad)


def test_propagate_is_left_out_of_the_spec_at_its_default():
    assert "propagate" not in models.make_spec("unet", unet.UNetConfig.for_resolution(32))["config"]
    assert models.make_spec("unet", unet.UNetConfig.for_resolution(32, propagate=True))["config"]["propagate"] is True


def test_a_fine_tune_widens_weights_without_propagation_to_the_same_network(tmp_path):
    rng = np.random.default_rng(0)
    old = models.build_model("unet", 32, **TINY)
    for v in old.trainable_weights:  # away from the initialisation, so that a wrong copy shows
        v.assign(rng.normal(0, 0.2, v.shape).astype("float32"))
    old.prior.assign(np.full(len(old.centres), 1.0 / len(old.centres), "float32"))
    path = tmp_path / "old.weights.h5"
    models.save_weights_atomic(old, path)
    new = models.build_model("unet", 32, propagate=True, **TINY)
    with pytest.raises(WeightsError, match=r"propagate=False \(model: True\)"):  # not a fine-tune; absent = default
        models.load_weights_checked(new, path)
    models.load_weights_checked(new, path, fine_tune=True)
    y, uv, mask = _hints(n=2, h=48, w=32)
    family = models.family_of(new)
    want = family.logits(old, y, (uv, mask))
    got = family.logits(new, y, (uv, mask))  # the propagation is fed, at zero weight
    np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max())
    assert np.abs(new.net.get_layer("e1").kernel.numpy()[:, :, 4:]).max() == 0.0


def test_a_fine_tune_cannot_drop_the_propagation_and_says_so(tmp_path):
    path = tmp_path / "prop.weights.h5"
    models.save_weights_atomic(models.build_model("unet", 32, propagate=True, **TINY), path)
    plain = models.build_model("unet", 32, **TINY)
    with pytest.raises(WeightsError, match=r"trained with propagate=True, which the model lacks: a fine-tune may add "
                                           r"propagate but not drop it"):
        models.load_weights_checked(plain, path, fine_tune=True)


def test_hint_skip_feeds_the_pooled_hint_map_to_the_decoder_and_widens_from_weights_without_it(tmp_path):
    rng = np.random.default_rng(1)
    old = models.build_model("unet", 32, **TINY)
    for v in old.trainable_weights:
        v.assign(rng.normal(0, 0.2, v.shape).astype("float32"))
    old.prior.assign(np.full(len(old.centres), 1.0 / len(old.centres), "float32"))
    path = tmp_path / "old.weights.h5"
    models.save_weights_atomic(old, path)
    new = models.build_model("unet", 32, hint_skip=True, **TINY)
    assert "hint_skip" not in old.spec["config"] and new.spec["config"]["hint_skip"] is True
    models.load_weights_checked(new, path, fine_tune=True)
    y, uv, mask = _hints(n=2, h=48, w=32)
    family = models.family_of(new)
    np.testing.assert_allclose(family.logits(new, y, (uv, mask)), family.logits(old, y, (uv, mask)), atol=1e-4)
    d4 = new.net.get_layer("d4").kernel
    assert d4.shape[2] == old.net.get_layer("d4").kernel.shape[2] + 3 and np.abs(d4.numpy()[:, :, -3:]).max() == 0.0
    # the short path alone carries a hint: the encoder's hint kernels zeroed, the decoder's given weight
    e1 = new.net.get_layer("e1").kernel
    e1.assign(np.concatenate([e1.numpy()[:, :, :1], np.zeros_like(e1.numpy()[:, :, 1:])], axis=2))
    d4.assign(np.concatenate([d4.numpy()[:, :, :-3], rng.normal(0, 1.0, (*d4.shape[:2], 3, d4.shape[3]))], axis=2).astype("float32"))
    with_hint = family.logits(new, y[:1], (uv[:1], mask[:1]))  # (1, 12, 8, Q); the hint patch lies in block (1, 2)
    without = family.logits(new, y[:1])
    moved = np.abs(with_hint - without).max(axis=-1)[0]  # (12, 8)
    assert moved[1, 2] > 1e-2 and moved[5:, :].max() < 1e-6  # a 3 x 3 decoder conv reaches one block around it only
    with pytest.raises(WeightsError, match="add hint_skip before propagate"):
        prop = tmp_path / "prop.weights.h5"
        models.save_weights_atomic(models.build_model("unet", 32, propagate=True, **TINY), prop)
        models.load_weights_checked(models.build_model("unet", 32, propagate=True, hint_skip=True, **TINY), prop, fine_tune=True)


def _flat_colour_images(n, seed):
    """Each image one random colour over a random luma texture: colour is unpredictable from Y."""
    rng = np.random.default_rng(seed)
    y = 0.35 + 0.3 * rng.random((n, 32, 32, 1))
    uv = np.broadcast_to(rng.uniform(-0.15, 0.15, (n, 1, 1, 2)), (n, 32, 32, 2))
    return colour.yuv_to_rgb(np.concatenate([y, uv], axis=-1)).astype("float32")


class _FlatColours:
    name, resolution, class_names, labels, masks, skipped_grey = "flat", 32, (), None, None, 0

    def __init__(self, n, seed):
        self.rgb = _flat_colour_images(n, seed)

    def __len__(self):
        return len(self.rgb)

    def load(self, idx):
        return self.rgb[np.asarray(idx)]


def test_with_propagation_one_hint_colours_the_far_side_of_the_image():
    """One hint in a corner of a one-colour image: the propagating unet carries it to the opposite
    corner, which the unet without propagation, trained the same way, barely does."""
    from tests.test_unet import _fit

    far_err = {}
    test = _FlatColours(16, 1)
    y = colour.rgb_to_y(test.rgb).astype("float32")
    true_uv = colour.rgb_to_yuv(test.rgb)[..., 1:]
    hint_uv = np.zeros((16, 32, 32, 2), "float32")
    mask = np.zeros((16, 32, 32, 1), "float32")
    hint_uv[:, 2:5, 2:5] = true_uv[:, 3:4, 3:4]
    mask[:, 2:5, 2:5] = 1.0
    for propagate in (False, True):
        seeding.seed_everything(0)
        model = models.build_model("unet", 32, hint_none=0.2, hint_p=0.5, hint_patch=3, propagate=propagate, **TINY)
        _fit(model, _FlatColours(256, 0), epochs=12)
        hinted = models.family_of(model).predict_uv(model, y, temperature=1.0, hints=(hint_uv, mask))[0]
        far_err[propagate] = float(np.mean(np.linalg.norm(hinted[:, 24:30, 24:30] - true_uv[:, 24:30, 24:30], axis=-1)))
    spread = float(np.mean(np.linalg.norm(true_uv[:, 0, 0], axis=-1)))  # the error of answering grey
    assert far_err[True] < 0.5 * spread
    assert far_err[True] < 0.6 * far_err[False]


def test_onnx_export_of_a_propagating_unet_packs_and_propagates_alike(tmp_path):
    from colourise_core import inference, onnx_export, onnx_runtime

    model = models.build_model("unet", 32, propagate=True, **TINY)
    rng = np.random.default_rng(5)
    for v in model.trainable_weights:  # the propagated channels must matter for the check to bite
        v.assign(rng.normal(0, 0.2, v.shape).astype("float32"))
    onnx = onnx_runtime.OnnxModel(onnx_export.export_model(model, tmp_path, "unet"))
    y, uv, mask = _hints(n=2, h=48, w=32)
    want = inference.predict_uv(model, y, 1, 1.0, 0, (uv, mask))
    got = onnx.predict_uv(y, 1, 1.0, 0, (uv, mask))
    assert np.abs(got - want).max() <= 1e-4
    flat = unet_inputs.pack(y, (uv, mask), propagate_hints=True)
    flat[..., 4:6] = 0.0  # the same input without the propagation: another answer
    flat[..., :1] -= 0.5  # the bare graph takes Y - 1/2
    other = models.family_of(model).run_graph(model, "logits", flat)
    assert np.abs(other - models.family_of(model).logits(model, y, (uv, mask))).max() > 1e-3


def test_propagated_prior_adds_a_gaussian_log_likelihood_at_the_learnt_confidence():
    centres = np.array([[0.0, 0.0], [0.1, -0.05], [-0.2, 0.15]], np.float32)
    layer = chroma.PropagatedPrior(centres, 0.05)
    logits = np.array([[[[0.5, -1.0, 2.0]]], [[[0.5, -1.0, 2.0]]]], np.float32)  # (2, 1, 1, 3)
    prop = np.array([[[[0.1, -0.05, 1.0]]], [[[0.1, -0.05, 0.0]]]], np.float32)  # image 1: no hints (flag 0)
    conf = np.full((2, 1, 1, 1), 0.02, np.float32)
    out = np.asarray(layer(logits, prop, conf))
    d2 = ((centres - [0.1, -0.05]) ** 2).sum(axis=1)  # (3,)
    c = chroma.CONFIDENCE_SCALE * 0.02
    np.testing.assert_allclose(out[0, 0, 0], logits[0, 0, 0] - c * d2 / (2 * 0.05 ** 2), rtol=1e-5)
    np.testing.assert_array_equal(out[1], logits[1])  # no hints: the network's logits untouched
    assert out[0, 0, 0, 1] == logits[0, 0, 0, 1]  # the bin at the propagated chroma keeps its logit


def test_a_train_only_fine_tune_changes_those_layers_alone_and_keeps_the_prior():
    from tests.test_unet import _fit

    seeding.seed_everything(0)
    model = models.build_model("unet", 32, propagate=True, hint_none=0.0, hint_p=0.5, hint_patch=3,
                               train_only=("propagated_confidence",), **TINY)
    prior = np.random.default_rng(2).random(len(model.centres)).astype("float32")
    model.prior.assign(prior / prior.sum())
    before = {v.path: v.numpy().copy() for v in model.weights}
    y = colour.rgb_to_y(_FlatColours(4, 3).rgb).astype("float32")
    auto = models.family_of(model).predict_uv(model, y)[0]
    _fit(model, _FlatColours(64, 0), epochs=2)
    now = {v.path: v.numpy() for v in model.weights}
    changed = sorted(p for p, v in before.items() if not np.array_equal(v, now[p]))
    assert changed == ["propagated_confidence/bias", "propagated_confidence/kernel"]
    np.testing.assert_array_equal(models.family_of(model).predict_uv(model, y)[0], auto)  # no hints: as before
    with pytest.raises(ValueError, match=r"train_only names layers the network lacks: \['nope'\]"):
        models.family_of(model).compile(models.build_model("unet", 32, train_only=("nope",), **TINY), 1e-3, 0.9)


def test_uv_mse_loss_is_the_squared_error_of_the_stored_decoding():
    model = models.build_model("unet", 32, loss="uv_mse", **TINY)
    rng = np.random.default_rng(4)
    prior = rng.random(len(model.centres)) + 0.05
    model.prior.assign((prior / prior.sum()).astype("float32"))
    model.set_decoding(0.5, 0.5)
    y = rng.random((2, 32, 32, 1), dtype=np.float32)
    uv = rng.uniform(-0.2, 0.2, (2, 32, 32, 2)).astype(np.float32)
    x = unet_inputs.pack(y)
    target = model.encode_target(uv)
    logits = np.asarray(model(x))
    decoded = models.family_of(model).decode_logits(model, logits)  # the numpy decoding users get
    want = np.mean(np.sum((decoded - uv.reshape(2, 8, 4, 8, 4, 2).mean(axis=(2, 4))) ** 2, axis=-1))
    got = float(np.asarray(model.compute_loss(x, target, logits)))
    assert got == pytest.approx(want, rel=1e-4)
    with pytest.raises(ValueError, match="unet loss must be one of"):
        unet.UNetConfig(loss="mse")


def test_packing_without_hints_never_imports_scipy():
    """SciPy (Levin's solver) costs about half a second of a cold start: only hints load it."""
    import subprocess
    import sys

    probe = ("import sys, numpy as np; from colourise_core import inference, onnx_runtime, unet_inputs; "
             "unet_inputs.pack(np.zeros((1, 16, 16, 1), np.float32), propagate_hints=True); "
             "print('SCIPY', 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "SCIPY False" in out.stdout
