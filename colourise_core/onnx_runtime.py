"""Run exported models with onnxruntime: no Keras, no TensorFlow on this path.

An `OnnxModel` reads the spec JSON that `onnx_export` wrote beside a model's graphs, opens one
`onnxruntime.InferenceSession` per graph and offers what inference needs of a model:
`input_size` (the family's size rule, recorded in the spec) and `predict_uv` (the graphs' forward
passes with the family's numpy decoding around them, `DECODERS`). `inference.colourise_many`
takes these models beside Keras ones (`runs_own_graphs`).

The decodings (`onnx_decoding.DECODERS`: uv, latent, mixture, chroma) mirror the Keras families'
`predict_uv` exactly (same noise for the same seed), for every family: CNN, CGAN, the CVAE with or
without its MDN, and the unet with its hints.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from colourise_core.errors import ColouriseError, WeightsError
from colourise_core.onnx_decoding import DECODERS, TAKES_HINTS, check_hints
from colourise_core.onnx_export import SPEC_FORMAT, SPEC_SUFFIX, missing_extra_message, onnx_dir
from colourise_core.run_folder import RunFolder


_PRELOADED = False


def _ort():
    """The onnxruntime module, or a ColouriseError that says how to install it."""
    try:
        import onnxruntime
    except ImportError as e:
        raise ColouriseError(missing_extra_message("The ONNX runtime (--runtime onnx)")) from e
    global _PRELOADED
    if not _PRELOADED and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        _PRELOADED = True
        try:  # onnxruntime-gpu: load CUDA/cuDNN from the nvidia-* wheels TensorFlow[and-cuda] installed
            onnxruntime.preload_dlls()
        except Exception:  # noqa: BLE001 - system CUDA libraries may be there instead
            pass
    return onnxruntime


def available() -> bool:
    """True when onnxruntime can be imported."""
    try:
        _ort()
    except ColouriseError:
        return False
    return True


def providers() -> list[str]:
    """Execution providers to use, best first: CUDA when onnxruntime-gpu sees a GPU, then the CPU."""
    have = _ort().get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have] or have


def describe() -> str:
    """A line naming the runtime and its device, e.g. "ONNX Runtime 1.31.1 on CPU (CPUExecutionProvider)"."""
    ort = _ort()
    chosen = providers()
    device = "GPU (CUDA)" if chosen[0] == "CUDAExecutionProvider" else "CPU"
    return f"ONNX Runtime {ort.__version__} on {device} ({', '.join(chosen)})"


class OnnxModel:
    """A model exported by `onnx_export`, run by onnxruntime.

    Attributes:
        colourise_name: the model's name ("cnn", ...); spec: its Keras spec; resolution: R.
        runtime: "onnx"; device: what runs it (see `describe`).
    """

    runs_own_graphs = True  # inference calls this object's input_size / predict_uv
    runtime = "onnx"

    def __init__(self, spec_path: str | os.PathLike, threads: int | None = None):
        ort = _ort()
        path = Path(spec_path)
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise WeightsError(f"cannot read the ONNX spec {path}: {e}") from e
        if meta.get("format") != SPEC_FORMAT or meta.get("decoding") not in DECODERS:
            raise WeightsError(f"{path} is not an ONNX export this version can run (format {meta.get('format')}, "
                               f"decoding {meta.get('decoding')!r}); export it again with `weights export`")
        self.meta, self.spec = meta, meta["spec"]
        self.colourise_name = meta["model"]
        self.resolution = int(meta["input"]["resolution"])
        self.device = describe()
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        # No busy-waiting between runs: spinning pool threads would take the CPU from the full-size
        # OpenCV/numpy work that follows each forward pass (and from other sessions' models).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        self._sessions, self._names = {}, {}
        for name, graph in meta["graphs"].items():
            file = path.parent / graph["file"]
            if not file.is_file():
                raise WeightsError(f"{file} is missing (export the set again with `weights export`)")
            session = ort.InferenceSession(str(file), sess_options=options, providers=providers())
            self._sessions[name] = session
            self._names[name] = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
        self._decode = DECODERS[meta["decoding"]]
        params = meta.get("decoding_params") or {}
        self.decoding_params = {k: np.asarray(v, np.float64) for k, v in params.items()}  # e.g. the unet's bins
        self._lock = threading.Lock()

    def run(self, graph: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """One graph's forward pass: numpy in, numpy out (in the graph's output order)."""
        ins, outs = self._names[graph]
        feed = {n: np.ascontiguousarray(x, np.float32) for n, x in zip(ins, inputs)}
        return self._sessions[graph].run(outs, feed)

    def input_size(self, height: int, width: int, render_size: int | None = None) -> tuple[int, int]:
        """The (h, w) the model sees for an input of (height, width) (the family's rule, see inference)."""
        rule = self.meta["input"]
        r = self.resolution
        render_size = render_size or rule.get("default_render")
        if render_size is None or rule["fixed_size"]:
            return r, r
        m = int(rule["stride"])
        scale = render_size / max(height, width)
        return tuple(max(m, int(round(side * scale / m)) * m) for side in (height, width))

    @property
    def samples(self) -> bool:
        """Whether different samples per image can be drawn (the family's `samples`)."""
        return bool(self.meta["input"].get("samples", False))

    @property
    def hint_side(self) -> int:
        """The square (pixels at the graph's input) a user's point covers (the family's `hint_side`)."""
        return int(self.meta["input"].get("hint_side", 1))

    @property
    def takes_hints(self) -> bool:
        """Whether `predict_uv` accepts user hints (the unet's graph)."""
        return self.meta["decoding"] in TAKES_HINTS

    def check_hints(self, hints) -> None:
        """A ColouriseError when `hints` are given to a model that takes none (as Family.check_hints)."""
        check_hints(self.meta["decoding"], hints, self.colourise_name)

    def predict_uv(self, y: np.ndarray, samples: int = 1, temperature: float | None = None, seed: int = 0,
                   hints=None, component: int | None = None) -> np.ndarray:
        """UV for a batch of luma at the input size: y (N, h, w, 1) -> (S, N, h, w, 2) float32.

        Args:
            temperature: the family's (None: its default; the unet's stored, tuned one).
            seed: seeds the samples.
            hints: None, or (uv (N, h, w, 2), mask (N, h, w, 1)) at the input size (unet only).
            component: a mixture's component to sample (the MDN CVAE); None: chosen by weight.
        """
        self.check_hints(hints)
        y = np.ascontiguousarray(y, np.float32)
        if temperature is None:
            temperature = self.meta["input"].get("temperature_default")
        return self._decode(self, y, samples, None if temperature is None else float(temperature), seed,
                            hints=hints, component=component)


def spec_path(model: str, set_name: str, root: str | os.PathLike | None = None) -> Path:
    """Where `weights export` writes the spec JSON of `model` of `set_name`."""
    return onnx_dir(root) / set_name / f"{model}{SPEC_SUFFIX}"


def _manifest_sha256(manifest: Path, set_name: str, model: str) -> str | None:
    """The sha256 the manifest gives `model` of `set_name`, read as plain JSON: `weights.read_manifest`
    validates family names through colourise_core.models, which imports Keras (and TensorFlow)."""
    try:
        data = json.loads(manifest.read_text())
        return data["sets"][set_name]["models"][model]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _shas(path: Path, model: str, set_name: str, weights_dir=None) -> tuple[str | None, str | None]:
    """(the sha256 an export's spec says it was made from, the manifest's sha256 of those weights)."""
    from colourise_core import weights

    expected = _manifest_sha256(weights.resolve_weights_dir(weights_dir) / weights.MANIFEST_NAME, set_name, model)
    try:
        got = json.loads(path.read_text()).get("source", {}).get("sha256")
    except (OSError, ValueError):
        got = None
    return got, expected


def export_current(model: str, set_name: str, root: str | os.PathLike | None = None, weights_dir=None) -> bool:
    """Whether an ONNX export of `model` of a weight set exists and was made from the weights the
    manifest lists now (`load` refuses a stale one): what a caller checks before exporting again."""
    path = spec_path(model, set_name, root)
    if not path.is_file():
        return False
    got, expected = _shas(path, model, set_name, weights_dir)
    return not expected or got == expected


def load(model: str, set_name: str, root: str | os.PathLike | None = None, weights_dir=None, threads: int | None = None) -> OnnxModel:
    """The ONNX export of `model` of a weight set, checked against the manifest (no stale export).

    Raises:
        ColouriseError: onnxruntime is not installed.
        WeightsError: no export of this set (says the command that makes it), or one made from
            other weights than the manifest's.
    """
    _ort()
    path = spec_path(model, set_name, root)
    if not path.is_file():
        if os.sep in str(set_name) or RunFolder(set_name).is_run():
            raise WeightsError(f"the ONNX runtime runs exported weight sets, not run folders ({set_name}); "
                               "use --runtime keras for a training run")
        raise WeightsError(f"no ONNX export of {model!r} of weights set {set_name!r} in {path.parent}; make it with "
                           f"`python -m colourise_core weights export {set_name} --format onnx` (an export made "
                           "elsewhere with --out DIR is found with COLOURISE_ONNX_DIR=DIR)")
    got, expected = _shas(path, model, set_name, weights_dir)
    if expected and got != expected:
        raise WeightsError(f"the ONNX export in {path.parent} was made from other {model!r} weights than the manifest's "
                           f"(sha256 {str(got)[:12]}..., manifest {expected[:12]}...); export the set again")
    return OnnxModel(path, threads=threads)

