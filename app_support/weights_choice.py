"""The weights the app can use: the manifest's sets plus this session's own training runs.

A `WeightSource` is either a set of `weights/manifest.json` (all three models, usually) or a run
folder written by the Retrain page (one model). The sidebar's choice (`choose`) is shared by the
pages; `selected()` gives it back to a page.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import streamlit as st

from app_support import paths
from colourise_core.family_names import FAMILY_NAMES as MODEL_NAMES  # without importing Keras
from colourise_core.run_folder import RunFolder

SIDEBAR_KEY = "sidebar_weights"
PENDING_KEY = "_pending_weights"  # a choice to apply before the sidebar widget is drawn
MODEL_LABELS = {"cnn": "CNN", "cgan": "CGAN", "cvae": "CVAE", "unet": "U-Net"}


@dataclasses.dataclass(frozen=True)
class WeightSource:
    """One choice of weights.

    key: "set:<name>" or "run:<folder>" (stable across reruns).
    kind: "set" or "run"; value: the set name or the run folder (what load_pretrained takes).
    models: the models it holds; resolution/dataset/classes: what they were trained on.
    version: changes when the weights change (sha256s of a set, the last epoch of a run).
    """

    key: str
    label: str
    kind: str
    value: str
    models: tuple[str, ...]
    resolution: int | None
    dataset: str | None
    classes: tuple[str, ...] | None
    version: str
    local: bool = True

    def has(self, model: str) -> bool:
        return model in self.models

    def describe(self) -> str:
        classes = f" ({', '.join(self.classes)})" if self.classes else ""
        res = f", {self.resolution} px" if self.resolution else ""
        return f"{self.dataset or '?'}{classes}{res}"


def manifest_sources() -> tuple[list[WeightSource], str | None]:
    """The manifest's sets, and a message when there is no usable manifest (else None)."""
    from colourise_core import weights
    from colourise_core.errors import WeightsError

    folder = weights.resolve_weights_dir()
    try:
        manifest = weights.read_manifest(folder)
    except WeightsError as e:
        return [], str(e)
    out = []
    for name, entry in sorted(manifest["sets"].items()):
        models = tuple(m for m in MODEL_NAMES if m in entry["models"])
        local = all((folder / entry["models"][m]["file"]).is_file() for m in models)
        classes = tuple(entry["classes"]) if entry.get("classes") else None
        version = ",".join(entry["models"][m]["sha256"][:16] for m in models)
        label = f"{name} ({'/'.join(MODEL_LABELS[m] for m in models)})" + ("" if local else " - from the Hub")
        out.append(WeightSource(f"set:{name}", label, "set", name, models, entry["resolution"], entry["dataset"],
                                classes, version, local))
    if not out:
        return [], f"the weights manifest in {folder} lists no weight sets yet"
    return out, None


def run_source(run: Path) -> WeightSource | None:
    """A finished (at least one epoch) run folder as a WeightSource, else None."""
    folder = RunFolder(run)
    spec, state = folder.read_dict(RunFolder.SPEC), folder.read_dict(RunFolder.STATE)
    if not spec.get("model") or not state.get("epoch") or not folder.weights_file.is_file():
        return None
    cfg = folder.read_dict(RunFolder.CONFIG)
    model = spec["model"]
    classes = tuple(cfg["classes"]) if cfg.get("classes") else None
    label = f"my run: {run.name} ({MODEL_LABELS.get(model, model)}, {cfg.get('dataset', '?')}, {state['epoch']} ep.)"
    version = f"{state['epoch']}:{folder.weights_file.stat().st_mtime_ns}"
    return WeightSource(f"run:{run}", label, "run", str(run), (model,), spec.get("resolution"), cfg.get("dataset"),
                        classes, version)


def session_runs(session_id: str) -> list[WeightSource]:
    """This session's finished runs, newest first."""
    folder = paths.session_dir(session_id)
    if not folder.is_dir():
        return []
    runs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    found = [s for s in (run_source(p) for p in runs) if s is not None]
    return sorted(found, key=lambda s: Path(s.value).stat().st_mtime, reverse=True)


def session_id() -> str:
    """This browser session's id (a uuid kept in session_state)."""
    from app_support import sessions

    return sessions.current().id  # also hooks the session's end (its folder is removed then)


def all_sources() -> tuple[list[WeightSource], str | None]:
    sets, problem = manifest_sources()
    return sets + session_runs(session_id()), problem


def choose(container=None) -> WeightSource | None:
    """The shared weights choice (drawn in the sidebar by app.py)."""
    from colourise_core.weights import DEFAULT_SET

    box = container or st.sidebar
    sources, problem = all_sources()
    if problem:
        box.info(f"No pretrained weights yet: {problem}. Train your own on the Retrain page.", icon=":material/info:")
    if not sources:
        return None
    keys = [s.key for s in sources]
    pending = st.session_state.pop(PENDING_KEY, None)
    if pending in keys:
        st.session_state[SIDEBAR_KEY] = pending
    if st.session_state.get(SIDEBAR_KEY) not in keys:
        default = f"set:{DEFAULT_SET}"
        st.session_state[SIDEBAR_KEY] = default if default in keys else keys[0]
    by_key = {s.key: s for s in sources}
    key = box.selectbox("Weights", keys, key=SIDEBAR_KEY, format_func=lambda k: by_key[k].label,
                        help="A pretrained weight set from weights/manifest.json, or one of your own runs from "
                             "the Retrain page (a run holds one model).")
    chosen = by_key[key]
    box.caption(f"Trained on {chosen.describe()}")
    return chosen


def selected() -> WeightSource | None:
    """The sidebar's current choice, for a page (the default set when a page runs on its own)."""
    sources, _ = all_sources()
    by_key = {s.key: s for s in sources}
    key = st.session_state.get(SIDEBAR_KEY)
    if key in by_key:
        return by_key[key]
    return default_source(sources)


def default_source(sources: list[WeightSource]) -> WeightSource | None:
    """The default weight set (`weights.DEFAULT_SET`) among `sources`, else the first, else None."""
    from colourise_core.weights import DEFAULT_SET

    return next((s for s in sources if s.key == f"set:{DEFAULT_SET}"), sources[0] if sources else None)


def with_model(model: str, preferred: WeightSource | None) -> WeightSource | None:
    """`preferred` when it holds `model`; else the local manifest set that `weights.set_holding`
    picks (one trained on `preferred`'s dataset, then the general set, then the first); else None."""
    from colourise_core import weights
    from colourise_core.errors import WeightsError

    if preferred is not None and preferred.has(model):
        return preferred
    try:
        name = weights.set_holding(model, preferred.dataset if preferred is not None else None, local_only=True)
    except WeightsError:  # no usable manifest: the sidebar says so
        return None
    sets, _ = manifest_sources()
    return next((s for s in sets if s.value == name), None)


def find(predicate) -> list[WeightSource]:
    """Sources (sets and this session's runs) that satisfy `predicate`."""
    sources, _ = all_sources()
    return [s for s in sources if predicate(s)]
