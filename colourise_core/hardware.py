"""The machine a figure was measured on: CPU model, cores, memory, Keras backend, accelerators.

Benchmarks print `describe()["summary"]` beside their figures; the reproduction report stores
the whole dict. Linux details come from /proc; elsewhere the fields are what `platform` knows.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe() -> dict:
    """This machine, for benchmark output and reports: what the figures were measured on.

    Returns:
        `{"cpu", "cores", "cores_usable", "memory_gb", "backend", "engine", "keras",
        "accelerators", "python", "summary"}`; `summary` is one line for printing.
    """
    import keras

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    backend = keras.backend.backend()
    accelerators, engine = [], ""
    if backend == "tensorflow":
        import tensorflow as tf

        engine = f"TensorFlow {tf.__version__}"
        for dev in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(dev)
            accelerators.append(details.get("device_name", dev.name))
    elif backend == "jax":
        import jax

        engine = f"JAX {jax.__version__}"
        accelerators = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
    elif backend == "torch":
        import torch

        engine = f"PyTorch {torch.__version__}"
        if torch.cuda.is_available():
            accelerators = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    device = ", ".join(accelerators) if accelerators else "CPU only"
    summary = (f"{cpu}, {usable} cores usable ({os.cpu_count()} online), {mem_gb} GB RAM; "
               f"Keras {keras.__version__} on {engine or backend}; {device}")
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": usable, "memory_gb": mem_gb,
            "backend": backend, "engine": engine, "keras": keras.__version__, "accelerators": accelerators,
            "python": platform.python_version(), "summary": summary}
