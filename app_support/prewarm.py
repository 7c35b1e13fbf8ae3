"""Load the first page's models while the server starts (`serve.py`'s lifespan hook).

A cold Space pays TensorFlow's import (3-5 s here) and the weight loading before its first
result. Started when the server starts, both overlap the server's own start and the browser's
first request, instead of following them (issue 13, cold start). The models are the ones the
Compare page (the first page) shows by default: the default weight set's, plus the U-Net's set
beside it; they go to `colourise_core.runtime.preload`, and the page's loader
(`app_support.loader`) takes them from there when it first asks.
"""

from __future__ import annotations

import sys
import threading
import time

from app_support import runtime_choice, weights_choice
from colourise_core.family_names import FAMILY_NAMES


def default_loads() -> list[tuple[str, str]]:
    """(model, weight set) pairs the Compare page loads first: each family from the default set,
    or from the first local set that has it (as `weights_choice.with_model` picks)."""
    sets, _ = weights_choice.manifest_sources()
    default = weights_choice.default_source(sets)
    pairs = []
    for model in FAMILY_NAMES:
        source = weights_choice.with_model(model, default)
        if source is not None and source.local:
            pairs.append((model, source.value))
    return pairs


def start(runtime: str | None = None, out=None) -> threading.Thread:
    """Preload `default_loads()` under `runtime` (default: the app's, `$COLOURISE_RUNTIME` or
    Keras) in column order on a background thread; a daemon thread reports on `out` (stdout) when they are done.

    Returns:
        The reporting thread (join it to wait for the preload).
    """
    from colourise_core import runtime as runtime_mod
    from colourise_core.weights import resolve_weights_dir

    runtime = runtime or runtime_choice.default()
    out = out or sys.stdout
    started = time.perf_counter()
    pairs = default_loads()
    futures = runtime_mod.preload(pairs, runtime, weights_dir=str(resolve_weights_dir()))

    def report() -> None:
        failed = [f"{m} ({type(f.exception()).__name__}: {f.exception()})" for (m, _), f in zip(pairs, futures)
                  if f.exception() is not None]
        loaded = [f"{m} ({w})" for (m, w), f in zip(pairs, futures) if f.exception() is None]
        print(f"colourise: preloaded {', '.join(loaded) or 'nothing'} with {runtime} in "
              f"{time.perf_counter() - started:.2f} s" + (f"; failed: {', '.join(failed)}" if failed else ""),
              file=out, flush=True)

    thread = threading.Thread(target=report, name="colourise-preload-report", daemon=True)
    thread.start()
    return thread
