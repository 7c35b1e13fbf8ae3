"""The unet's optional global-feature branch (Iizuka et al. 2016; the dissertation's 6.1.2):
the class cross-entropy term, the fusion into the bottleneck, labels through the trainer."""

from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from colourise_core import models, training, unet_inputs
from colourise_core.data import load_dataset, pipeline
from colourise_core.errors import ColouriseError
from colourise_core.models import chroma, unet, unet_global

TINY = dict(widths=(8, 8, 8, 16, 16), dilations=(2,), decoder_widths=(16, 16))


def _global_unet(classes=3, weight=0.25, resolution=32):
    return models.build_model("unet", resolution, global_classes=classes, global_width=8, global_weight=weight, **TINY)


def test_class_cross_entropy_is_the_mean_over_labelled_images():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0], [9.0, -9.0, 0.0]], np.float32)
    labels = np.array([0, 2, -1], np.int32)  # the third image has no label: it counts nothing
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    want = -(log_p[0, 0] + log_p[1, 2]) / 2
    got = float(keras.ops.convert_to_numpy(unet_global.class_cross_entropy(logits, labels)))
    assert got == pytest.approx(want, rel=1e-6)
    none = unet_global.class_cross_entropy(logits, np.array([-1, -1, -1], np.int32))
    assert float(keras.ops.convert_to_numpy(none)) == 0.0


def test_loss_is_rebalanced_chroma_ce_plus_weighted_class_ce_by_hand():
    model = _global_unet(classes=3, weight=0.25)
    rng = np.random.default_rng(0)
    prior = rng.random(len(model.centres)) + 0.1
    model.prior.assign((prior / prior.sum()).astype("float32"))
    y = rng.random((3, 32, 32, 1), dtype=np.float32)
    uv = rng.uniform(-0.3, 0.3, (3, 32, 32, 2)).astype("float32")
    labels = np.array([2, 0, -1], np.float32)
    x = unet_inputs.pack(y)
    target = model.encode_target(uv, labels)  # (3, 8, 8, 2k + 1)
    k = model.config.soft_k
    assert target.shape == (3, 8, 8, 2 * k + 1) and np.all(target[..., -1] == labels[:, None, None])
    logits, class_logits = (keras.ops.convert_to_numpy(t) for t in model(x, training=False))
    assert logits.shape == (3, 8, 8, len(model.centres)) and class_logits.shape == (3, 3)
    loss = float(keras.ops.convert_to_numpy(model.compute_loss(x, target, (logits, class_logits))))
    # by hand, in float64
    log_p = chroma.log_softmax_np(logits.astype(np.float64))  # (3, 8, 8, Q)
    idx, wts = target[..., :k].astype(int), target[..., k:2 * k].astype(np.float64)
    ce = -(wts * np.take_along_axis(log_p, idx, axis=-1)).sum(axis=-1)  # (3, 8, 8)
    rebalance = chroma.rebalance_weights(keras.ops.convert_to_numpy(model.prior), model.config.rebalance)
    chroma_term = np.mean(ce * rebalance[idx[..., 0]])
    c = class_logits.astype(np.float64)
    lp = c - np.log(np.exp(c).sum(axis=1, keepdims=True))
    class_term = -(lp[0, 2] + lp[1, 0]) / 2
    assert loss == pytest.approx(chroma_term + 0.25 * class_term, rel=1e-5)
    assert 0.25 * class_term > 1e-3 * chroma_term  # the class term is really in it


def test_global_features_reach_every_position_of_the_chroma_logits():
    model = _global_unet()
    x = unet_inputs.pack(np.random.default_rng(1).random((2, 32, 32, 1), dtype=np.float32))
    before = keras.ops.convert_to_numpy(model.net(x, training=False))  # net: the inference graph
    dense = model.net.get_layer("global")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 3.0, bias + 0.5])  # only the global vector changes
    after = keras.ops.convert_to_numpy(model.net(x, training=False))
    changed = np.abs(after - before).max(axis=-1)  # (2, 8, 8)
    assert changed.min() > 1e-5  # every output position moved: the fusion is global
    g = np.arange(6, dtype=np.float32).reshape(2, 3)
    tiled = keras.ops.convert_to_numpy(unet_global.TileToMap()([g, np.zeros((2, 4, 5, 7), np.float32)]))
    assert tiled.shape == (2, 4, 5, 3) and np.array_equal(tiled, np.broadcast_to(g[:, None, None], (2, 4, 5, 3)))


def test_without_global_features_the_network_and_weight_layout_are_unchanged():
    plain = models.build_model("unet", 32, **TINY)
    assert not hasattr(plain, "net_train") and plain.cls_tracker is None
    assert not {"global_classes", "global_width", "global_weight"} & set(plain.spec["config"])  # shipped specs match
    names = {layer.name for layer in plain.net.layers}
    assert not names & {"global", "class_logits", "fusion"}
    with_global = _global_unet()
    assert {"global", "fusion"} <= {layer.name for layer in with_global.net.layers}  # fused into inference
    assert "class_logits" in {layer.name for layer in with_global.net_train.layers}  # training only
    assert "class_logits" not in {layer.name for layer in with_global.net.layers}


def test_global_unet_weights_round_trip(tmp_path):
    model = _global_unet()
    rng = np.random.default_rng(2)
    for v in model.net_train.trainable_variables:
        v.assign(rng.normal(0, 0.1, v.shape).astype("float32"))
    path = tmp_path / "g.weights.h5"
    models.export_weights(model, path, dtype="float32")
    again = models.build_from_spec(models.read_spec(path))
    models.load_weights_checked(again, path)
    x = unet_inputs.pack(rng.random((1, 32, 32, 1), dtype=np.float32))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.net(x)), keras.ops.convert_to_numpy(again.net(x)))


def _class_folder(root: Path, classes=("a", "b"), n=6) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    return root


def test_batches_carry_each_images_class_label(tmp_path):
    data = load_dataset("folder", data=str(_class_folder(tmp_path / "d")), split="train", resolution=32)
    batches = pipeline.YUVBatches(data, batch_size=5, shuffle=True, seed=3, target="uvl")
    order = batches._order[:5]
    y, target = batches[0]
    assert target.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(target[..., 2], np.broadcast_to(data.labels[order][:, None, None], (5, 32, 32)))
    _, uv = pipeline.YUVBatches(data, batch_size=5, shuffle=True, seed=3, target="uv")[0]
    np.testing.assert_array_equal(target[..., :2], uv)


def test_trainer_trains_the_class_term_on_labelled_data_and_refuses_unlabelled(tmp_path):
    folder = _class_folder(tmp_path / "d")
    cfg = dict(model="unet", resolution=32, epochs=1, batch_size=4, steps_per_epoch=2, val_limit=4)
    mc = {**{k: list(v) for k, v in TINY.items()}, "global_classes": 2, "global_width": 8}
    result = training.train(training.TrainConfig(dataset="folder", data=str(folder), model_config=mc, **cfg), tmp_path / "run")
    logs = result.history[0]
    assert np.isfinite(logs["cls"]) and logs["cls"] > 0 and np.isfinite(logs["val_cls"])
    assert result.model.config.global_classes == 2
    with pytest.raises(ColouriseError, match="has none"):  # the Shape Set has no class labels
        training.train(training.TrainConfig(dataset="shapes", limit=16, model_config=mc, **cfg), tmp_path / "r2")
    with pytest.raises(ColouriseError, match="at least 2"):
        training.train(training.TrainConfig(dataset="folder", data=str(folder), model_config={**mc, "global_classes": 1},
                                            **cfg), tmp_path / "r3")
