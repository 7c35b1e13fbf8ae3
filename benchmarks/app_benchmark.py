"""App benchmark: upload to all results on Compare at 1 MP, and process start to first result, per runtime.

Each figure is printed beside a reference measured in the same run on the same machine:

1. Upload to results: the 1 MP JPEG's bytes to the three results Compare shows (what the page does:
   `imageio.load_rgb` once, `inference.colourise_many` with CNN, CGAN and CVAE, each result
   downscaled for the screen), per runtime (Keras on TensorFlow, ONNX Runtime), against one forward
   pass of Zhang et al.'s ECCV 2016 colourisation network at 256 x 256 (random weights; the eccv16
   layout of richzhang/colorization rebuilt in Keras below). Target: <= 1/4 of that forward pass.
   PNG downloads are encoded only when clicked, so they are timed apart (one result's PNG).
2. Cold start: from launching `streamlit run ENTRY` until headless Chromium shows the first
   result on Compare (its default page colourises the first gallery image), per entry and runtime
   (COLOURISE_RUNTIME), against a bare `python -c "import tensorflow"`. The entries: `serve.py`
   (the README's and the Space's: an st.App that preloads the first page's models at server
   start) and `app.py` (the plain script: models loaded on the first visit). Targets (serve.py):
   with ONNX Runtime <= 3 s; with TensorFlow <= 1.5 x the bare import.

The models are those of the default weight set (imagenette, 128 px) when weights/ has it, else
the same architectures with random weights (speed does not depend on the weights); the cold start
then uses a temporary weights folder holding such a random-weights set. The ONNX runtime needs the
set's export (`weights export SET --format onnx`): made first when missing, outside the timings.

Usage: python benchmarks/app_benchmark.py [--repeat 3] [--cold-repeat 2] [--runtimes keras onnx]
                                          [--entries serve.py app.py] [--skip-cold] [--skip-models]
                                          [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

PHOTO = REPO / "assets" / "samples" / "Audrey Hepburn.jpg"
ENTRIES = ("serve.py", "app.py")  # the README's entry (models preloaded at start); the plain script
MEGAPIXEL = (866, 1155)  # (h, w): 1.0 million pixels, 4:3


def one_megapixel_jpeg() -> bytes:
    """A real photograph resized to 1155 x 866 (1.0 MP), as a quality-90 JPEG."""
    from PIL import Image

    with Image.open(PHOTO) as img:
        img = img.convert("RGB").resize((MEGAPIXEL[1], MEGAPIXEL[0]), Image.LANCZOS)
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def eccv16(size: int = 256):
    """Zhang, Isola, Efros, Colorful Image Colorization (ECCV 2016): the eccv16 generator.

    Conv blocks of 64, 128, 256, 512 filters (the last conv of blocks 1-3 with stride 2), two
    blocks of 512 with dilation 2, one of 512, then a 4x4 stride-2 transposed conv to 256 and two
    256 convs, 313 output classes (1x1), softmax, the 1x1 projection to ab and 4x bilinear
    upsampling. Batch normalisation closes blocks 1-7, as in colorizers/eccv16.py. 32.2 M weights.
    """
    import keras
    from keras import layers

    x_in = keras.Input((size, size, 1))
    x = x_in

    def conv(x, filters, stride=1, dilation=1):
        return layers.Conv2D(filters, 3, strides=stride, dilation_rate=dilation, padding="same", activation="relu")(x)

    for block in ([(64, 1), (64, 2)], [(128, 1), (128, 2)], [(256, 1), (256, 1), (256, 2)], [(512, 1)] * 3):
        for filters, stride in block:
            x = conv(x, filters, stride)
        x = layers.BatchNormalization()(x)
    for _ in range(2):  # blocks 5 and 6: dilated
        for _ in range(3):
            x = conv(x, 512, dilation=2)
        x = layers.BatchNormalization()(x)
    for _ in range(3):
        x = conv(x, 512)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2DTranspose(256, 4, strides=2, padding="same", activation="relu")(x)
    x = conv(conv(x, 256), 256)
    x = layers.Conv2D(313, 1)(x)
    x = layers.Softmax()(x)
    x = layers.Conv2D(2, 1, use_bias=False)(x)
    x = layers.UpSampling2D(4, interpolation="bilinear")(x)
    return keras.Model(x_in, x, name="eccv16")


def default_models(runtime: str, weights_dir=None):
    """The default set's three models under `runtime`, or (Keras only) random-weights stand-ins."""
    from colourise_core import models, weights
    from colourise_core import runtime as runtime_mod
    from colourise_core.errors import WeightsError

    try:
        loaded = runtime_mod.load_models(models.DISSERTATION_MODELS, weights.DEFAULT_SET, runtime, weights_dir=weights_dir)
        return loaded, f"weights set {weights.DEFAULT_SET!r}"
    except WeightsError:
        if runtime != "keras":
            raise
        return {m: models.build_model(m, 128) for m in models.DISSERTATION_MODELS}, "random weights, 128 px (imagenette architecture)"


def time_models(repeat: int, runtime: str, ref, y) -> dict:
    import numpy as np  # noqa: F401

    from app_support import views
    from colourise_core import imageio, inference

    photo = one_megapixel_jpeg()
    nets, what = default_models(runtime)

    def pipeline() -> dict:
        out = {}
        start = time.perf_counter()
        loaded = imageio.load_rgb(photo, name="photo.jpg")  # the upload, decoded once
        out["decode"] = time.perf_counter() - start
        results = inference.colourise_many(loaded, nets)
        shown = {m: views.for_display(r.rgb8) for m, r in results.items()}
        out["total"] = time.perf_counter() - start
        for name, r in results.items():
            out[name] = {"model_part": r.seconds, "forward": r.steps["forward"]}
        out["display"] = sum(x.size for x in shown.values())
        out["_rgb8"] = results["cnn"].rgb8
        return out

    pipeline()  # warm-up: the first call at a size runs eagerly (Family.run_graph) ...
    pipeline()  # ... the second compiles
    runs, refs = [], []
    for _ in range(repeat):  # interleaved, so both see the same load on a shared machine
        runs.append(pipeline())
        t = time.perf_counter()
        ref(y, training=False)
        refs.append(time.perf_counter() - t)
    png_times = []
    for _ in range(repeat):
        t = time.perf_counter()
        imageio.encode_png(runs[-1]["_rgb8"])
        png_times.append(time.perf_counter() - t)
    median = lambda xs: statistics.median(xs)  # noqa: E731
    return {
        "weights": what,
        "photo": f"{MEGAPIXEL[1]} x {MEGAPIXEL[0]} JPEG ({len(photo):,} bytes)",
        "three_models_s": median([r["total"] for r in runs]),
        "eccv16_256_s": median(refs),
        "per_model_s": {m: {k: round(median([r[m][k] for r in runs]), 4) for k in ("model_part", "forward")} for m in nets},
        "decode_s": median([r["decode"] for r in runs]),
        "png_1mp_s": median(png_times),
        "best_run": min(r["total"] for r in runs),
        "repeat": repeat,
    }


def export_for_onnx(weights_dir: Path, onnx_root: Path | None) -> None:
    """Make the default set's ONNX export (in `onnx_root`, else the default folder) when missing or made
    from older weights, and the U-Nets' that Compare shows beside it (both runtimes then do the same
    four columns)."""
    from colourise_core import models, onnx_export, onnx_runtime, weights

    if not all(onnx_runtime.export_current(m, weights.DEFAULT_SET, onnx_root, weights_dir) for m in models.DISSERTATION_MODELS):
        onnx_export.export_set(weights.DEFAULT_SET, out=onnx_root, weights_dir=weights_dir, log=lambda *_: None)
    sets = weights.read_manifest(weights_dir)["sets"]  # Compare's U-Net column comes from the set that has it
    for name, entry in sets.items():
        if "unet" in entry["models"] and not onnx_runtime.export_current("unet", name, onnx_root, weights_dir):
            onnx_export.export_set(name, out=onnx_root, models=("unet",), weights_dir=weights_dir, log=lambda *_: None)


def random_weights_dir(folder: Path) -> Path:
    """A weights folder whose default set holds the three 128-px architectures with random weights."""
    from colourise_core import models, weights

    entry = {"dataset": "imagenette", "classes": None, "resolution": 128, "models": {}}
    for m in models.MODEL_NAMES:
        net = models.build_model(m, 128)
        rel = f"{weights.DEFAULT_SET}/{m}.weights.h5"
        models.save_weights_atomic(net, folder / rel)
        entry["models"][m] = {"file": rel, "sha256": weights.sha256_file(folder / rel), "spec": net.spec}
    manifest = {"format": 1, "sets": {weights.DEFAULT_SET: entry}}
    (folder / weights.MANIFEST_NAME).write_text(json.dumps(manifest))
    return folder


def bare_tf_import() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True)
    return time.perf_counter() - start


def cold_start(env: dict, log: Path, entry: str = "serve.py") -> dict:
    """Seconds from `streamlit run ENTRY` to the first (and the third) result shown in Chromium."""
    import re

    from playwright.sync_api import sync_playwright

    from app_fixtures import AppServer, launch_chromium

    server = AppServer(env, log=log, script=entry)
    with sync_playwright() as p:
        browser = launch_chromium(p)  # started before the clock: the browser is the user's, not the app's
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        server.start()
        try:
            healthy = server.wait_healthy(timeout=180)
            page.goto(server.url)
            page.get_by_text(re.compile(r"^(CNN|CGAN|CVAE) · \d+\.\d\d s$")).first.wait_for(timeout=300_000)
            first = time.perf_counter() - server.started_at
            for model in ("CNN", "CGAN", "CVAE"):
                page.get_by_text(re.compile(rf"^{model} · \d+\.\d\d s$")).wait_for(timeout=300_000)
            three = time.perf_counter() - server.started_at
        finally:
            browser.close()
            server.stop()
    return {"server_healthy_s": healthy, "first_result_s": first, "three_results_s": three}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the model pipeline (median)")
    parser.add_argument("--cold-repeat", type=int, default=2, help="cold starts and bare imports (median)")
    parser.add_argument("--runtimes", nargs="+", default=["keras", "onnx"], choices=["keras", "onnx"])
    parser.add_argument("--entries", nargs="+", default=list(ENTRIES), choices=ENTRIES,
                        help="cold start: the server entries to time")
    parser.add_argument("--skip-cold", action="store_true", help="only the model pipeline")
    parser.add_argument("--skip-models", action="store_true", help="only the cold start")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    report: dict = {"machine": f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}",
                    "load_before": os.getloadavg()}
    print(f"machine: {report['machine']}; load average before: {report['load_before'][0]:.2f} "
          "(the figures are only comparable within one run, on an otherwise idle machine)")
    from colourise_core import onnx_runtime, weights

    runtimes = [rt for rt in args.runtimes if rt == "keras" or onnx_runtime.available()]
    if runtimes != args.runtimes:
        print("runtime onnx: skipped (onnxruntime is not installed)")

    if not args.skip_models:
        import numpy as np

        y = np.random.default_rng(0).random((1, 256, 256, 1)).astype("float32")
        ref = eccv16()
        ref(y, training=False)  # warm-up: first calls allocate and pick kernels
        report["models"] = {}
        for rt in runtimes:
            if rt == "onnx":
                export_for_onnx(weights.resolve_weights_dir(), None)
            m = time_models(args.repeat, rt, ref, y)
            report["models"][rt] = m
            target = m["eccv16_256_s"] / 4
            m["target_s"], m["met"] = target, m["three_models_s"] <= target
            print(f"\n[{rt}] photo: {m['photo']}; models: {m['weights']}")
            print(f"  decode: {m['decode_s'] * 1000:.1f} ms")
            for name, t in m["per_model_s"].items():
                print(f"  {name:5s} model part {t['model_part'] * 1000:.1f} ms (forward {t['forward'] * 1000:.1f} ms)")
            print(f"  upload to the three results shown: {m['three_models_s'] * 1000:.1f} ms (median of {args.repeat}; "
                  f"best {m['best_run'] * 1000:.1f} ms); one result's PNG download, encoded on click: {m['png_1mp_s'] * 1000:.1f} ms")
            print(f"  reference, ECCV16 forward pass at 256 x 256: {m['eccv16_256_s'] * 1000:.1f} ms")
            print(f"  target: three models <= ECCV16 / 4 = {target * 1000:.1f} ms -> {'MET' if m['met'] else 'NOT MET'} "
                  f"({m['three_models_s'] / m['eccv16_256_s']:.3f}x)")

    if not args.skip_cold:
        with tempfile.TemporaryDirectory(prefix="colourise-bench-") as tmp:
            try:
                sets = weights.read_manifest()["sets"]
                use_repo = weights.DEFAULT_SET in sets
            except Exception:  # noqa: BLE001 - no usable manifest: use the stand-in
                use_repo = False
            wdir = weights.resolve_weights_dir() if use_repo else random_weights_dir(Path(tmp) / "weights")
            onnx_root = None if use_repo else Path(tmp) / "onnx"
            base = {"COLOURISE_WEIGHTS_DIR": str(wdir), "COLOURISE_APP_RUNS_DIR": str(Path(tmp) / "runs"),
                    "TF_CPP_MIN_LOG_LEVEL": "2"}
            if onnx_root:
                base["COLOURISE_ONNX_DIR"] = str(onnx_root)
            if "onnx" in runtimes:
                export_for_onnx(wdir, onnx_root)
            runs_of = [(entry, rt) for entry in args.entries for rt in runtimes]
            colds: dict[tuple, list] = {k: [] for k in runs_of}
            imports = []
            for _ in range(args.cold_repeat):  # interleaved with the reference
                imports.append(bare_tf_import())
                for entry, rt in runs_of:
                    colds[entry, rt].append(cold_start({**base, "COLOURISE_RUNTIME": rt},
                                                       Path(tmp) / f"server-{entry}-{rt}.log", entry))
        bare = statistics.median(imports)
        report["cold_start"] = {"weights": "repository weights/" if use_repo else "random-weights stand-in (128 px)",
                                "bare_tf_import_s": bare, "imports": imports, "entries": {}}
        print(f"\ncold start ({report['cold_start']['weights']}), median of {args.cold_repeat}:")
        print(f"  reference, bare `python -c \"import tensorflow\"`: {bare:.2f} s")
        for (entry, rt), runs in colds.items():
            c = {"first_result_s": statistics.median(x["first_result_s"] for x in runs),
                 "three_results_s": statistics.median(x["three_results_s"] for x in runs),
                 "server_healthy_s": statistics.median(x["server_healthy_s"] for x in runs), "runs": runs}
            c["target_s"] = 3.0 if rt == "onnx" else 1.5 * bare
            c["met"] = c["first_result_s"] <= c["target_s"]
            report["cold_start"]["entries"].setdefault(entry, {})[rt] = c
            rule = "<= 3 s" if rt == "onnx" else f"<= 1.5 x bare import = {c['target_s']:.2f} s"
            print(f"  [{entry}, {rt}] server healthy {c['server_healthy_s']:.2f} s, first result {c['first_result_s']:.2f} s "
                  f"({c['first_result_s'] / bare:.2f}x the bare import), all three {c['three_results_s']:.2f} s; "
                  f"target {rule} -> {'MET' if c['met'] else 'NOT MET'}")
    report["load_after"] = os.getloadavg()
    print(f"load average after: {report['load_after'][0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
