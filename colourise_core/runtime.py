"""Which runtime runs the models, on which device, and loading a set's models in parallel.

Runtimes (the CLI's --runtime, the app's setting):
    keras   the default and the trainer's: Keras 3 on its backend (TensorFlow; JAX where set), on
            the backend's GPU when it sees one (requirements-gpu.txt), else the CPU.
    onnx    the graphs of `weights export SET --format onnx` run by onnxruntime (the `onnx` extra;
            onnxruntime-gpu's CUDA provider when it sees a GPU). Never imports TensorFlow.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

RUNTIMES = ("keras", "onnx")
DEFAULT_RUNTIME = "keras"

_PRELOADED: dict[tuple, Future] = {}  # (name, weights, runtime, weights_dir) -> a model loading in the background
_PRELOAD_LOCK = threading.Lock()


def check(runtime: str) -> str:
    """`runtime` if known, else a ValueError naming the choices."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    return runtime


def keras_device() -> str:
    """A line naming Keras' backend and the device it computes on (imports the backend)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        device = f"GPU ({', '.join(g.name.split(':', 1)[-1] for g in gpus)})" if gpus else "CPU"
        return f"Keras {keras.__version__} on TensorFlow {tf.__version__}, {device}"
    if backend == "jax":
        import jax

        devices = jax.devices()
        kinds = sorted({d.platform.upper() for d in devices})
        return f"Keras {keras.__version__} on JAX {jax.__version__}, {'/'.join(kinds)} ({len(devices)} device(s))"
    return f"Keras {keras.__version__} on {backend}"


def describe(runtime: str) -> str:
    """What runs the models under `runtime`: e.g. "ONNX Runtime 1.31.1 on CPU (CPUExecutionProvider)"."""
    if check(runtime) == "onnx":
        from colourise_core import onnx_runtime

        return onnx_runtime.describe()
    return keras_device()


def models_in(weights: str, names, weights_dir=None) -> tuple[str, ...]:
    """Those of `names` that a weight set (or a run folder) holds, in order (`--model all`).

    Reads the manifest or the run's spec.json only: no Keras import. Unknown sets give `names`
    unchanged, so loading then says what is wrong.
    """
    import json
    from pathlib import Path

    from colourise_core import weights as weights_mod
    from colourise_core.errors import WeightsError
    from colourise_core.run_folder import RunFolder

    run_spec = RunFolder(weights).spec_file
    if run_spec.is_file():
        try:
            return tuple(n for n in names if n == json.loads(run_spec.read_text()).get("model"))
        except (OSError, ValueError):
            return tuple(names)
    try:
        held = weights_mod.read_manifest(weights_dir)["sets"][weights]["models"]
    except (WeightsError, KeyError):
        return tuple(names)
    return tuple(n for n in names if n in held)


def _preload_key(name: str, weights: str, runtime: str, weights_dir) -> tuple:
    return name, str(weights), runtime, str(weights_dir) if weights_dir else None


def preload(names_and_weights, runtime: str = DEFAULT_RUNTIME, weights_dir=None) -> list[Future]:
    """Start loading models on a background thread, so that a server can overlap TensorFlow's
    import and the weight reads with its own start and the browser's first request.

    The models load one after another in the given order (threads in parallel would share one
    interpreter lock and all finish late; in order, the first is ready soonest). The first
    `load_one` asking for a preloaded (name, weights, runtime, weights_dir) waits for it and
    takes it (later calls load their own copy, as before); a preload that failed is retried by
    that call, which then raises the real error.

    Args:
        names_and_weights: (model name, weight set or run folder) pairs, in the order wanted.
        runtime: "keras" or "onnx".
        weights_dir: the weights folder (None: the default one), as the callers of `load_one` pass it.

    Returns:
        The futures, in order (their results are the models; exceptions are kept, not raised).
    """
    check(runtime)
    pairs = list(names_and_weights)
    if not pairs:
        return []
    pool = ThreadPoolExecutor(1, thread_name_prefix="colourise-preload")
    futures = []
    with _PRELOAD_LOCK:
        for name, weights in pairs:
            key = _preload_key(name, weights, runtime, weights_dir)
            if key not in _PRELOADED:
                _PRELOADED[key] = pool.submit(_load_fresh, name, weights, runtime, weights_dir)
            futures.append(_PRELOADED[key])
    pool.shutdown(wait=False)
    return futures


def load_one(name: str, weights: str, runtime: str = DEFAULT_RUNTIME, weights_dir=None):
    """One model of a weight set (or run folder, Keras only) under `runtime` (a preloaded one
    is handed to its first caller: see `preload`)."""
    with _PRELOAD_LOCK:
        future = _PRELOADED.pop(_preload_key(name, weights, check(runtime), weights_dir), None)
    if future is not None and future.exception() is None:
        return future.result()
    return _load_fresh(name, weights, runtime, weights_dir)


def _load_fresh(name: str, weights: str, runtime: str, weights_dir=None):
    if check(runtime) == "onnx":
        from colourise_core import onnx_runtime

        return onnx_runtime.load(name, weights, weights_dir=weights_dir)
    from colourise_core.weights import load_pretrained

    return load_pretrained(name, weights, **({"weights_dir": weights_dir} if weights_dir else {}))


def load_models(names, weights: str | dict, runtime: str = DEFAULT_RUNTIME, weights_dir=None, parallel: bool = True) -> dict:
    """{name: model} of a weight set (or {name: set or run} each its own) under `runtime`, loaded
    on parallel threads (file reads, hashing and onnxruntime's session set-up overlap); the first
    error is raised."""
    names = list(names)
    source = weights if isinstance(weights, dict) else dict.fromkeys(names, weights)
    if not parallel or len(names) < 2:
        return {n: load_one(n, source[n], runtime, weights_dir) for n in names}
    with ThreadPoolExecutor(len(names)) as pool:
        futures = {n: pool.submit(load_one, n, source[n], runtime, weights_dir) for n in names}
        return {n: f.result() for n, f in futures.items()}
