"""scripts/semantic_probe.py: reading a TensorFlow.js graph model and running it, the ridge probe and its scores.

The probe's figures (issue 10, target 1) rest on these pieces; the detector itself is an npm
download, so a tiny graph model is written here in the same format and checked against numpy.
"""

import base64
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import semantic_probe  # noqa: E402


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _write_model(folder: Path, kernel: np.ndarray, bias: np.ndarray, extra_op: str | None = None) -> Path:
    """x (1, 4, 4, 2) -> 3x3 conv + bias + ReLU6 ('conv', float16-quantised weights) -> spatial mean ('mean')."""
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "k", "op": "Const"}, {"name": "b", "op": "Const"}, {"name": "axes", "op": "Const"},
        {"name": "conv", "op": "_FusedConv2D", "input": ["x", "k", "b"],
         "attr": {"strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": {"s": _b64("SAME")},
                  "fused_ops": {"list": {"s": [_b64("BiasAdd"), _b64("Relu6")]}}}},
        {"name": "mean", "op": "Mean", "input": ["conv", "axes"], "attr": {"keep_dims": {"b": True}}},
    ]
    if extra_op:
        nodes.insert(4, {"name": "odd", "op": extra_op, "input": ["x"]})
    weights = [{"name": "k", "shape": list(kernel.shape), "dtype": "float32",
                "quantization": {"dtype": "float16", "original_dtype": "float32"}},
               {"name": "b", "shape": list(bias.shape), "dtype": "float32"},
               {"name": "axes", "shape": [2], "dtype": "int32"}]
    data = kernel.astype(np.float16).tobytes() + bias.astype(np.float32).tobytes() + np.array([1, 2], np.int32).tobytes()
    (folder / "m.bin").write_bytes(data)
    model = {"modelTopology": {"node": nodes}, "weightsManifest": [{"paths": ["m.bin"], "weights": weights}]}
    (folder / "m.json").write_text(json.dumps(model))
    return folder / "m.json"


def _reference(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The same conv in numpy: zero 'SAME' padding, bias, ReLU6. (1, 4, 4, 2) -> (1, 4, 4, C)."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((1, 4, 4, kernel.shape[-1]))
    for i in range(4):
        for j in range(4):
            out[0, i, j] = np.einsum("hwc,hwco->o", padded[0, i:i + 3, j:j + 3], kernel)
    return np.clip(out + bias, 0, 6)


def test_a_graph_model_is_read_and_run_as_numpy_computes_it(tmp_path):
    rng = np.random.default_rng(0)
    kernel = rng.normal(0, 1, (3, 3, 2, 3)).astype(np.float32)
    bias = np.array([0.5, -0.25, 3.0], np.float32)
    nodes, consts = semantic_probe.read_tfjs(_write_model(tmp_path, kernel, bias))
    assert [n["name"] for n in nodes][-1] == "mean"
    np.testing.assert_array_equal(consts["k"], kernel.astype(np.float16).astype(np.float32))  # float16 restored
    np.testing.assert_array_equal(consts["axes"], [1, 2])
    x = rng.normal(0, 1, (1, 4, 4, 2)).astype(np.float32)
    conv, mean = semantic_probe.run_graph(nodes, consts, x, ["conv", "mean"])
    expected = _reference(x, consts["k"], bias)
    np.testing.assert_allclose(conv, expected, atol=1e-5)
    np.testing.assert_allclose(mean, expected.mean((1, 2), keepdims=True), atol=1e-5)
    assert 0 < (expected == 6).sum() and 0 < (expected == 0).sum()  # the ReLU6 clipped on both sides


def test_an_op_it_cannot_run_is_named(tmp_path):
    nodes, consts = semantic_probe.read_tfjs(_write_model(tmp_path, np.ones((3, 3, 2, 1), np.float32),
                                                          np.zeros(1, np.float32), extra_op="TopKV2"))
    with pytest.raises(ValueError, match="node odd: op TopKV2 is not supported"):
        semantic_probe.run_graph(nodes, consts, np.zeros((1, 4, 4, 2), np.float32), ["mean"])


def test_ridge_recovers_a_linear_relation_and_scores_are_exact():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (500, 3))
    w = np.array([[1.0, -2.0], [0.5, 0.0], [0.0, 3.0]])
    t = x @ w + np.array([0.25, -0.5])
    x_test = rng.normal(0, 1, (50, 3))
    np.testing.assert_allclose(semantic_probe.ridge(x, t, x_test, strength=0.0), x_test @ w + [0.25, -0.5], atol=1e-9)
    truth = rng.normal(0, 0.1, (100, 2))
    exact = semantic_probe.score(truth, truth)
    assert exact["uv_mse"] == 0 and exact["db_over_grey"] == float("inf") and exact["rho2"] == pytest.approx(1.0)
    half = semantic_probe.score(truth / 2, truth)  # half the colour: rho^2 still 1, error a quarter of grey's
    assert half["rho2"] == pytest.approx(1.0) and half["db_over_grey"] == pytest.approx(10 * np.log10(4))
    assert semantic_probe.score(np.zeros_like(truth) + 1e-9, truth)["db_over_grey"] == pytest.approx(0.0, abs=1e-6)
