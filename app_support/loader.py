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


def load_in_order(models, source: WeightSource, runtime: str = "keras", others: dict | None = None) -> dict:
    """{model: Future of (model, lock)} for the models `source` has, loaded one after another in
    `models`' order on a background thread, so that a page can show each model's result as soon
    as that model is ready (the first after one load, not after all of them; threads loading in
    parallel would share one interpreter lock and all finish late). The cache is shared with
    `load`, and a model preloaded at server start (`app_support.prewarm`) is taken from there.
    A future's exception is the load's error (missing, corrupt or mismatched weights).

    Args:
        others: {model: source} adds models from other sources (the U-Net's set beside a
            dissertation set) to the same queue.
    """
    from concurrent.futures import Future

    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    ctx = get_script_run_ctx()
    sources = {m: source for m in models if source.has(m)}
    sources.update({m: s for m, s in (others or {}).items() if m not in sources and s is not None and s.has(m)})
    futures = {m: Future() for m in models if m in sources}

    def run() -> None:
        add_script_run_ctx(ctx=ctx)  # the cache and session state need this session's context
        for m, future in futures.items():
            try:
                future.set_result(load(m, sources[m], runtime))
            except Exception as e:  # noqa: BLE001 - reported per column by the page
                future.set_exception(e)

    if futures:
        threading.Thread(target=run, name="colourise-load", daemon=True).start()
    return futures


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

