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


@st.cache_resource(show_spinner="Loading model weights...", max_entries=32)
def _load(model: str, weights: str, weights_dir: str, version: str):
    """Build `model` from its spec and load verified weights (set name or run folder)."""
    from colourise_core.weights import load_pretrained

    del version  # part of the cache key only
    net = load_pretrained(model, weights, weights_dir=weights_dir or None)
    return net, threading.Lock()


def load(model: str, source: WeightSource):
    """(keras model, lock) of `model` from `source`.

    Raises:
        colourise_core.errors.WeightsError: missing, corrupt or mismatched weights.
    """
    from colourise_core.errors import WeightsError
    from colourise_core.weights import resolve_weights_dir

    if not source.has(model):
        raise WeightsError(f"{source.label} has no {MODEL_LABELS[model]} model")
    weights_dir = str(resolve_weights_dir()) if source.kind == "set" else ""
    return _load(model, source.value, weights_dir, source.version)


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
        _load.clear(model, str(run_dir), "", version)

