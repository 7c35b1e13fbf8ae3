"""The metrics section: every model and data set on its held-out split, beside all-grey."""

from __future__ import annotations

import time

import numpy as np

from colourise_core.family_names import SAMPLING_FAMILIES
from colourise_core.reproduce.common import (
    BEST_OF, MODELS, Options, Store, TEMPERATURES, fresh, held_out, load_model, trained_resolution, set_info, set_shas, weights_source, log,
)

# ------------------------------------------------------------------------------------ metrics


def _cvae_sample_metrics(net, ds, n: int, batch: int = 32) -> dict:
    """Best-of-8 UV MSE and the mean pairwise distance of 8 samples, per temperature."""
    from colourise_core import evaluation, metrics

    sums = {str(t): {"best_of_8_uv_mse": 0.0, "mean_pairwise_distance": 0.0} for t in TEMPERATURES}
    mean_mse = 0.0
    for start in range(0, n, batch):
        idx = np.arange(start, min(n, start + batch))
        true = ds.load(idx)
        mean_mse += metrics.uv_mse(evaluation.predict_rgb(net, true)[0], true) * len(idx)
        for t in TEMPERATURES:
            smp = evaluation.predict_rgb(net, true, samples=BEST_OF, temperature=t, seed=start)  # (8, B, R, R, 3)
            sums[str(t)]["best_of_8_uv_mse"] += metrics.best_of_n_uv_mse(smp, true) * len(idx)
            sums[str(t)]["mean_pairwise_distance"] += metrics.mean_pairwise_distance(smp) * len(idx)
    return {t: {k: v / n for k, v in d.items()} for t, d in sums.items()} | {"n": n, "mean_uv_mse": mean_mse / n}


def section_metrics(opts: Options, store: Store) -> None:
    """Full metrics per data set and model on held-out images, beside the all-grey baseline."""
    from colourise_core import evaluation

    s = opts.settings
    data = store.load("metrics")
    data.setdefault("sets", {})
    extra = [] if opts.quick else [n for n in opts.manifest.get("sets", {}) if n not in s.metric_sets]
    for set_name in list(s.metric_sets) + extra:
        shas = set_shas(opts, set_name)
        if not any(shas.values()):
            continue
        entry = data["sets"].setdefault(set_name, {"models": {}})
        for model in MODELS:
            if not shas[model]:
                entry["models"].pop(model, None)
                continue
            limit = s.eval_limit_large if trained_resolution(opts, set_name, model) >= 128 else s.eval_limit
            key = {"sha256": shas[model], "limit": limit, "sample_limit": s.sample_limit if model in SAMPLING_FAMILIES else None}
            if fresh(entry["models"].get(model), key, opts.out):
                continue
            net = load_model(opts, set_name, model)
            if net is None:
                entry["models"].pop(model, None)
                continue
            ds = held_out(opts, set_name, net.resolution, limit, seed=0)
            if ds is None:
                break
            log(f"metrics: {set_name} {model} on {min(limit, len(ds))} held-out images")
            t0 = time.time()
            result = evaluation.evaluate_model(net, ds, batch_size=64 if net.resolution >= 128 else 256, full=True, limit=limit)
            row = {"key": key, **{k: v for k, v in result.items() if k != "baseline"}}
            if model in SAMPLING_FAMILIES:
                row["samples"] = _cvae_sample_metrics(net, ds, min(s.sample_limit, len(ds)))
            row["seconds"] = time.time() - t0
            row["origin"] = weights_source(opts, set_name, model)["origin"]
            entry["models"][model] = row
            entry.update(n=result["n"], baseline=result["baseline"], truth_colourfulness=result["truth_colourfulness"],
                         resolution=net.resolution, split="val" if set_info(opts, set_name)[0] == "imagenette" else "test")
            store.save("metrics", data)
        if not entry["models"]:
            data["sets"].pop(set_name, None)
    store.save("metrics", data)
