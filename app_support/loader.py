"""The app's one model loader, cached across reruns and sessions with `st.cache_resource`.

The cache key is the model name, the weight set or run folder, the weights folder and a version
(the set's sha256s, or a run's last epoch and file time), so new weights are never served stale.
A retrain calls `forget_run` when it finishes. Each cached model comes with a lock: Keras models
are shared between sessions, and a CVAE's first `predict_on_batch` traces a function.
"""

from __future__ import annotations

import threading

import streamlit as st

from app_support.weights_choice import MODEL_LABELS, WeightSource
from colourise_core.family_names import FAMILY_NAMES as MODEL_NAMES  # without importing Keras


@st.cache_resource(show_spinner=False, max_entries=32)
def _load(model: str, weights: str, weights_dir: str, version: str, runtime: str = "keras"):
    """Build `model` from its spec and load verified weights (set name or run folder), or open
    its ONNX export (`runtime` "onnx", see colourise_core.runtime)."""
    from colourise_core.runtime import load_one

    del version  # part of the cache key only
    net = load_one(model, weights, runtime, weights_dir=weights_dir or None)
    return net, threading.Lock()


def load(model: str, source: WeightSource, runtime: str = "keras"):
    """(model, lock) of `model` from `source`: a Keras model, or with runtime "onnx" an
    `onnx_runtime.OnnxModel` (for pages that colourise through `inference.colourise_many`).

    Raises:
        colourise_core.errors.WeightsError: missing, corrupt or mismatched weights (or no ONNX export).
    """
    from colourise_core.errors import WeightsError
    from colourise_core.weights import resolve_weights_dir

    if not source.has(model):
        raise WeightsError(f"{source.label} has no {MODEL_LABELS[model]} model")
    weights_dir = str(resolve_weights_dir()) if source.kind == "set" else ""
    return _load(model, source.value, weights_dir, source.version, runtime)


def load_many(models, source: WeightSource, runtime: str = "keras", others: dict | None = None) -> dict:
    """{model: (model, lock) or the error it raised} for the models `source` has, loaded on
    parallel threads (file reads, hashing, graph set-up overlap; the cache is shared with `load`).
    `others` ({model: source}) adds models from other sources (the U-Net's set beside a
    dissertation set) to the same parallel batch."""
    from concurrent.futures import ThreadPoolExecutor

    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    ctx = get_script_run_ctx()
    sources = {m: source for m in models if source.has(m)}
    sources.update({m: s for m, s in (others or {}).items() if m not in sources and s is not None and s.has(m)})
    wanted = list(sources)

    def one(m):
        add_script_run_ctx(ctx=ctx)  # the cache and session state need this session's context
        try:
            return load(m, sources[m], runtime)
        except Exception as e:  # noqa: BLE001 - reported per column by the page
            return e

    if len(wanted) < 2:
        return {m: one(m) for m in wanted}
    with ThreadPoolExecutor(len(wanted)) as pool:
        return dict(zip(wanted, pool.map(one, wanted)))


def load_or_explain(model: str, source: WeightSource):
    """(keras model, lock) of `model` for a page column, or None after saying why not.

    A source without the model shows `st.info` under the model's name; weights that fail to
    load (missing, corrupt, mismatched) show the library's message as `st.error`. The page goes
    on with its other columns either way.
    """
    from colourise_core.errors import ColouriseError

    if not source.has(model):
        st.markdown(f"**{MODEL_LABELS[model]}**")
        st.info(f"Not in {source.label}.")
        return None
    try:
        return load(model, source)
    except ColouriseError as e:
        st.error(str(e))
        return None


def forget_run(run_dir: str, version: str | None = None) -> None:
    """Drop a run folder's cached models (version None: clear the whole cache, as after a retrain)."""
    if version is None:
        _load.clear()
        return
    for model in MODEL_NAMES:
        _load.clear(model, str(run_dir), "", version, "keras")

