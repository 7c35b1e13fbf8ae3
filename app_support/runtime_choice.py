"""The sidebar's runtime setting (Keras/TensorFlow or ONNX Runtime) and the device line.

The default is Keras on TensorFlow, or `$COLOURISE_RUNTIME` (a Space that ships ONNX exports sets
it to "onnx" and never imports TensorFlow on the Compare page). ONNX Runtime is offered when
onnxruntime is installed; it runs the weight sets exported with
`python -m colourise_core weights export SET --format onnx`. Pages that do not support it yet
(everything but Compare) keep using Keras.
"""

from __future__ import annotations

import os
import sys

import streamlit as st

RUNTIME_KEY = "sidebar_runtime"
RUNTIME_ENV = "COLOURISE_RUNTIME"
LABELS = {"keras": "Keras / TensorFlow", "onnx": "ONNX Runtime"}


def default() -> str:
    """`$COLOURISE_RUNTIME` when it names a runtime, else "keras"."""
    value = os.environ.get(RUNTIME_ENV, "").strip().lower()
    return value if value in LABELS else "keras"


@st.cache_resource(show_spinner=False)
def _describe(runtime: str) -> str:
    from colourise_core import runtime as runtime_mod

    return runtime_mod.describe(runtime)


def device_line(runtime: str) -> str:
    """What runs the models: the runtime, its version and the device (CPU, or the GPU it found).

    For Keras the backend is only asked once it is loaded (loading TensorFlow just to name the
    device would cost the seconds the ONNX runtime saves).
    """
    if runtime == "keras" and "tensorflow" not in sys.modules and "jax" not in sys.modules:
        return "Keras / TensorFlow (its device is shown once a model is loaded)"
    try:
        return _describe(runtime)
    except Exception as e:  # noqa: BLE001 - a sidebar line must not break the page
        return f"{LABELS.get(runtime, runtime)} ({type(e).__name__}: {e})"


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def choose(container=None) -> str:
    """Draw the runtime setting (sidebar) and return "keras" or "onnx"."""
    box = container or st.sidebar
    options = ["keras", "onnx"] if onnx_available() else ["keras"]
    if st.session_state.get(RUNTIME_KEY) not in options:
        st.session_state[RUNTIME_KEY] = default() if default() in options else "keras"
    chosen = box.selectbox("Runtime", options, key=RUNTIME_KEY, format_func=LABELS.get,
                           help="Keras on TensorFlow (the default, and the trainer's), or ONNX Runtime on weight "
                                "sets exported with `python -m colourise_core weights export SET --format onnx` "
                                "(starts without TensorFlow). Used by the Compare page.")
    if "onnx" not in options:
        box.caption("ONNX Runtime: not installed (`pip install 'colourise[onnx]'`).")
    return chosen


def selected() -> str:
    """The sidebar's runtime for a page ("keras" when a page runs on its own)."""
    value = st.session_state.get(RUNTIME_KEY)
    return value if value in LABELS else default()


def show_device(runtime: str, container=None) -> None:
    """The device line under the setting (call after the models ran, so Keras' device is known)."""
    (container or st.sidebar).caption(f":material/memory: {device_line(runtime)}")
