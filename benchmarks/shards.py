"""Streaming shards: the input pipeline's images/s beside the model's consumption, same run.

Packs real 128 px JPEGs (the Imagenette archive in ../shared/datasets, one class by default;
or any --data folder/archive) into TFRecord shards, then measures, on this machine:

    pipeline   `stream.StreamBatches` alone: read shards (interleave), shuffle buffer, decode,
               augment (flip/shift/rotate, as the CNN trains), RGB -> YUV, batch, prefetch.
    model      the CNN at 128 px consuming batches already in memory (`Family.train_step`,
               i.e. train_on_batch), the dissertation's batch of 512 cut to --batch.

Each side keeps its fastest of --rounds passes (the CPU is shared and its load comes and goes).
Target (issue 14): pipeline >= 3x model, so data never limits a GPU run of the same model.

    python benchmarks/shards.py [--data ../shared/datasets/imagenette-128.zip] [--classes n03028079]
                                [--batch 64] [--rounds 2] [--shard-size 4MB]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "datasets" / "imagenette-128.zip"))
    ap.add_argument("--dataset", default="imagenette")
    ap.add_argument("--classes", nargs="+", default=["n03028079"])  # church: ~950 train images
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--model-steps", type=int, default=6)
    ap.add_argument("--shard-size", default="4MB")
    args = ap.parse_args(argv)

    import numpy as np

    from colourise_core import models
    from colourise_core.data import shards, stream

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        report = shards.pack(args.data, f"{tmp}/packed", args.shard_size, dataset=args.dataset, classes=args.classes)
        pack_s = time.perf_counter() - t
        batches = stream.StreamBatches(f"{tmp}/packed", args.batch, 128, augment=True, shuffle_buffer=512)
        pipe = []
        for _ in range(args.rounds):
            t, n = time.perf_counter(), 0
            for y, _uv in batches:
                n += len(y)
            pipe.append(n / (time.perf_counter() - t))
            batches.on_epoch_end()
        held = [b for _, b in zip(range(args.model_steps + 1), batches)]

    family = models.get_family("cnn")
    model = models.build_model("cnn", 128)
    family.compile(model, 1e-3, 0.9)
    family.train_step(model, *held[0])  # trace
    eat = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        for y, uv in held[1:]:
            family.train_step(model, y, uv)
        eat.append(sum(len(y) for y, _ in held[1:]) / (time.perf_counter() - t))
    out = {"images_packed": sum(s["count"] for s in report.shards), "shards": len(report.shards),
           "pack_seconds": round(pack_s, 1), "batch": args.batch, "resolution": 128,
           "pipeline_images_per_s": round(max(pipe), 1), "model_images_per_s": round(max(eat), 1),
           "ratio": round(max(pipe) / max(eat), 2), "target_ratio": 3.0,
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared)"}
    print(json.dumps(out, indent=2))
    return 0 if out["ratio"] >= 3.0 else 1


if __name__ == "__main__":
    sys.exit(main())
