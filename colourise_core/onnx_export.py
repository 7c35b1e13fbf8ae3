"""Export a weight set's inference graphs to ONNX, each model with a spec JSON beside its graphs.

`python -m colourise_core weights export SET [SET ...] --format onnx [--out DIR]` writes, per model
of the set, its family's inference graphs (`inference_graphs(model)`: the Keras sub-models whose
forward passes `predict_uv` calls; the CNN and the CGAN one graph "uv", the CVAE (with or without
its MDN) its conditional encoder and its decoder, the unet its network up to the logits) as
`<model>.<graph>.onnx`, and `<model>.onnx.json`: what `onnx_runtime.OnnxModel` needs to run them
without Keras or TensorFlow (the model's spec, the input rule, which numpy decoding goes around the
graphs and its parameters (the unet's bin centres and stored decoding settings), every graph's
input and output names, the sha256 of the weight file it came from, and the parity with Keras
measured at export).

Export uses Keras 3's `model.export(format="onnx")` (tf2onnx on the TensorFlow backend). Graphs
are written with a dynamic batch, and dynamic height and width where the network is fully
convolutional (the unet's bilinear upsampling is swapped for an equivalent that traces with any
size, `onnx_graphs.exportable`). Needs the `onnx` extra (onnxruntime, onnx, tf2onnx).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from colourise_core import atomic
from colourise_core.errors import ColouriseError, WeightsError

SPEC_FORMAT = 1
SPEC_SUFFIX = ".onnx.json"
PARITY_LIMIT = 1.0 / 255.0  # the largest |ONNX - Keras| accepted on an output, per value
_CLI = "python -m colourise_core weights export"


def onnx_dir(path: str | os.PathLike | None = None) -> Path:
    """The root of ONNX exports: `path`, else $COLOURISE_ONNX_DIR, else `onnx/` beside the weights folder."""
    if path:
        return Path(path)
    if os.environ.get("COLOURISE_ONNX_DIR"):
        return Path(os.environ["COLOURISE_ONNX_DIR"])
    from colourise_core.weights import resolve_weights_dir

    return resolve_weights_dir().parent / "onnx"


def inference_graphs(model) -> dict:
    """{name: keras.Model} of the forward passes `predict_uv` calls (the family interface's)."""
    from colourise_core.models import family_of

    return family_of(model).inference_graphs(model)


def input_rule(model) -> dict:
    """How an image's size becomes the model's input size (the family's rule), and its sampling defaults."""
    from colourise_core import inference
    from colourise_core.models import family_of

    family = family_of(model)
    r = int(model.resolution)
    # A family whose default view keeps the aspect ratio (unet) sees an unset render size as R:
    default_render = r if tuple(family.input_size(model, 300, 600, None)) == tuple(family.input_size(model, 300, 600, r)) else None
    # The unet's None means its stored (tuned) temperature:
    t = decoding_params(model, decoding(inference_graphs(model), model)).get("temperature", family.temperature_default)
    return {"resolution": r, "fixed_size": bool(family.fixed_size), "stride": int(family.stride(model)),
            "default_render": default_render, "samples": bool(family.samples),
            "hint_side": inference.hint_side(model) if family.takes_hints else 1,
            "temperature_default": None if t is None else float(t)}


def decoding(graphs: dict, model=None) -> str:
    """The numpy step around the graphs at inference (one of onnx_decoding.DECODERS)."""
    names = set(graphs)
    if names == {"uv"}:
        return "uv"
    if names == {"cond_encoder", "decoder"}:
        return "mixture" if getattr(model, "is_mdn", False) else "latent"
    if names == {"logits"}:
        return "chroma"
    raise ColouriseError(f"no ONNX runtime decoding for inference graphs {sorted(names)}")


def decoding_params(model, kind: str) -> dict:
    """The numbers the numpy decoding needs besides the graphs (JSON-able lists).

    chroma (the unet): "centres" (Q, 2) bin centres, "log_offset" (Q,) = the stored fraction of
    log w that the decoding subtracts (models/unet.py `decode_logits`), "temperature" the stored T.
    """
    if kind != "chroma":
        return {}
    import keras

    t_stored, alpha = (float(v) for v in keras.ops.convert_to_numpy(model.decode))
    return {"centres": np.asarray(model.centres, np.float64).tolist(),
            "log_offset": (alpha * np.log(model.bin_weights())).tolist(), "temperature": t_stored}


def _signature(graph) -> list:
    """keras.InputSpec per input of a functional graph, the batch dimension dynamic."""
    import keras

    specs = [keras.InputSpec(shape=(None,) + tuple(t.shape[1:]), dtype="float32", name=t.name.split(":")[0])
             for t in graph.inputs]
    return [specs] if len(specs) > 1 else specs


def _probe_inputs(graph, rule: dict, rng: np.random.Generator) -> list[np.ndarray]:
    """Random inputs of every graph input: Y in [0, 1] at R x R (and 1.5 R for a dynamic size), latents N(0, 1)."""
    out = []
    for t in graph.inputs:
        shape = [2] + [rule["resolution"] if s is None else s for s in t.shape[1:]]
        if len(shape) == 4 and t.shape[1] is None and not rule["fixed_size"]:
            shape[2] = rule["resolution"] + rule["stride"] * 2  # a non-square size too
        values = rng.uniform(0, 1, shape) if len(shape) == 4 else rng.standard_normal(shape)
        if len(shape) == 4 and shape[-1] > 1:  # hint channels: mostly empty, like real use
            values[..., 1:] *= rng.uniform(0, 1, shape[:-1] + [1]) < 0.05
        out.append(values.astype("float32"))
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_model(model, out_dir: str | os.PathLike, name: str, source: dict | None = None, opset: int | None = None) -> Path:
    """Export one Keras model's inference graphs and write its spec JSON.

    Args:
        model: a model from `weights.load_pretrained` or `training.load_run`.
        out_dir: the folder for `<name>.<graph>.onnx` and `<name>.onnx.json`.
        name: the model's name in the set (the CLI's --model).
        source: facts about the weights it came from (set, file, sha256), stored in the spec.
        opset: ONNX opset (default: tf2onnx's).
    Returns:
        The spec JSON's path.
    Raises:
        ColouriseError: an exported graph's outputs differ from Keras' by more than 1/255.
    """
    import keras

    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ColouriseError(missing_extra_message("ONNX export")) from e
    from colourise_core.models import family_of
    from colourise_core.onnx_graphs import exportable

    family = family_of(model)
    graphs = inference_graphs(model)
    kind = decoding(graphs, model)  # refuse a family the runtime cannot decode before any work
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rule = input_rule(model)
    rng = np.random.default_rng(0)
    entries, parity = {}, 0.0
    for graph_name, graph in graphs.items():
        target = out_dir / f"{name}.{graph_name}.onnx"
        with atomic.replacing(target, suffix=".onnx") as tmp:  # refused (parity) -> nothing is left
            exportable(graph).export(str(tmp), format="onnx", verbose=False, input_signature=_signature(graph), opset_version=opset)
            session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
            probe = _probe_inputs(graph, rule, rng)
            got = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), probe)})
            want = family.run_graph(model, graph_name, probe if len(probe) > 1 else probe[0])  # Keras' own path
            want = want if isinstance(want, (list, tuple)) else [want]
            diff = max(float(np.abs(np.asarray(a) - keras.ops.convert_to_numpy(b)).max()) for a, b in zip(got, want))
            if not diff <= PARITY_LIMIT:
                raise ColouriseError(f"the ONNX graph {graph_name!r} of {name} differs from Keras by {diff:.3g} (> 1/255)")
            parity = max(parity, diff)
        entries[graph_name] = {"file": target.name, "sha256": _sha256(target),
                               "inputs": [i.name for i in session.get_inputs()],
                               "outputs": [o.name for o in session.get_outputs()]}
    import tf2onnx

    params = decoding_params(model, kind)
    params.pop("temperature", None)  # in the input rule (temperature_default)
    spec = {"format": SPEC_FORMAT, "model": name, "spec": model.spec, "input": rule, "decoding": kind,
            "decoding_params": params, "graphs": entries, "source": source or {}, "parity_max_abs": parity,
            "exporter": {"keras": keras.__version__, "backend": keras.backend.backend(), "tf2onnx": tf2onnx.__version__,
                         "onnxruntime": ort.__version__}}
    path = out_dir / f"{name}{SPEC_SUFFIX}"
    return atomic.write_json(path, spec, indent=1)


def export_set(set_name: str, out: str | os.PathLike | None = None, models: tuple[str, ...] | None = None,
               weights_dir: str | os.PathLike | None = None, opset: int | None = None, log=print) -> list[Path]:
    """Export every model (or `models`) of a weight set into `<out>/<set_name>/`.

    Returns:
        The spec JSON paths written.
    """
    from colourise_core import weights

    manifest = weights.read_manifest(weights_dir)
    if set_name not in manifest["sets"]:
        raise WeightsError(f"unknown weights set {set_name!r}; available sets: {', '.join(sorted(manifest['sets']))}")
    entry = manifest["sets"][set_name]
    folder = onnx_dir(out) / set_name
    written = []
    for name in models or tuple(entry["models"]):
        model = weights.load_pretrained(name, set_name, weights_dir=weights_dir)
        source = {"set": set_name, "file": entry["models"][name]["file"], "sha256": entry["models"][name]["sha256"]}
        written.append(export_model(model, folder, name, source=source, opset=opset))
        log(f"{set_name}/{name}: {', '.join(g['file'] for g in json.loads(written[-1].read_text())['graphs'].values())}"
            f" + {written[-1].name} in {folder}")
    return written


def missing_extra_message(what: str) -> str:
    """The message for a missing onnxruntime: what needs it and how to install it."""
    return (f"{what} needs onnxruntime, which is not installed. Install the optional extra with "
            "`pip install 'colourise[onnx]'` (or `pip install -r requirements-dev.txt`), or use the default "
            "Keras/TensorFlow runtime (--runtime keras).")


@contextlib.contextmanager
def converter_output_held():
    """Hold what is written to the process's stderr (fd 2) meanwhile, and show it only on failure.

    TensorFlow's C++ graph optimiser logs "Starting new session" lines and tf2onnx a FutureWarning
    on every successful export; the CLI's user should see the export's own lines, and everything
    when it fails. For the command line only: fd 2 is the whole process's.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _cmd_export(args: argparse.Namespace) -> int:
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        print("note: ONNX export runs on the TensorFlow backend (tf2onnx)", file=sys.stderr)
    for set_name in args.sets:
        with converter_output_held():
            export_set(set_name, out=args.out, models=tuple(args.model) if args.model else None,
                       weights_dir=args.weights_dir, opset=args.opset)
    return 0


def register_cli(sub: argparse._SubParsersAction, common: argparse.ArgumentParser, guarded) -> None:
    """Add `weights export` to the weights CLI (`sub`: its sub-command parsers; `guarded`: its error wrapper)."""
    p = sub.add_parser("export", parents=[common], help="export sets' inference graphs (ONNX) for `--runtime onnx`")
    p.add_argument("sets", nargs="+", metavar="SET", help="weight sets to export")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="export format (onnx)")
    p.add_argument("--model", nargs="+", default=None, help="only these models of the set")
    p.add_argument("--out", default=None, help="root folder (default: $COLOURISE_ONNX_DIR, else onnx/ beside the weights folder)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the converter's)")
    p.set_defaults(func=guarded(_cmd_export))
