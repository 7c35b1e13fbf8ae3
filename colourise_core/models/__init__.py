"""The model families (the dissertation's three, and more) and the spec that rebuilds any of them.

Each family module exposes `FAMILY` (see `family.Family`); `FAMILIES` is the one registry: a new
family is one module plus one line here. The trainer and inference talk to a model through
`family_of(model)` and never ask its name.

A spec is the JSON-able dict {"model": name, "resolution": R, "config": {...}}. Weights are
only ever loaded into an architecture that code builds from a spec, so a weight file (from the
Hub or anywhere) can never run code. Each `.weights.h5` written here carries its spec as an
HDF5 attribute, so a file for another model or resolution is refused with a clear message.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import keras

from colourise_core import atomic
from colourise_core.errors import WeightsError
from colourise_core.family_names import DISSERTATION_FAMILIES
from colourise_core.models import cgan, cnn, cvae, unet
from colourise_core.models import stored as stored_weights
from colourise_core.models.family import Family

FAMILIES: dict[str, Family] = {f.name: f for f in (cnn.FAMILY, cgan.FAMILY, cvae.FAMILY, unet.FAMILY)}
MODEL_NAMES = tuple(FAMILIES)
DISSERTATION_MODELS = DISSERTATION_FAMILIES  # the 2020 dissertation's three architectures
DEFAULT_FAMILY = "cnn"  # what a TrainConfig trains when it names no model
RESOLUTIONS = (32, 64, 128)
SPEC_ATTR = "colourise_spec"


def _check_name(name: str) -> None:
    if name not in FAMILIES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def get_family(name: str) -> Family:
    """The family registered as `name`.

    Raises:
        ValueError: no such family.
    """
    _check_name(name)
    return FAMILIES[name]


def family_of(model) -> Family:
    """The family of a model built here (from its spec)."""
    return get_family(model.spec["model"])


def default_config(name: str, resolution: int, **overrides):
    """The default config of family `name` at `resolution`, with field overrides."""
    return get_family(name).default_config(resolution, **overrides)


def config_to_dict(config) -> dict:
    """The config as JSON-able dict; optional fields (metadata "optional") at their default are left
    out, so adding an option to a family keeps the specs of existing weights unchanged."""
    d = json.loads(json.dumps(dataclasses.asdict(config)))
    for f in dataclasses.fields(config):
        if f.metadata.get("optional") and getattr(config, f.name) == f.default:
            d.pop(f.name, None)
    return d


def make_spec(name: str, config) -> dict:
    return {"model": name, "resolution": config.resolution, "config": config_to_dict(config)}


def build_from_spec(spec: dict) -> keras.Model:
    """Rebuild a model from its spec.

    Returns:
        The model, with `colourise_name`, `resolution` and `spec` attributes.
    """
    name = spec.get("model")
    family = get_family(name)
    config = family.config_cls.from_dict(spec["config"])
    model = family.build(config)
    model.colourise_name = name
    model.resolution = config.resolution
    model.spec = make_spec(name, config)
    return model


def build_model(name: str, resolution: int, **overrides) -> keras.Model:
    """Build family `name` (one of MODEL_NAMES) at `resolution` with config overrides."""
    return build_from_spec(make_spec(name, default_config(name, resolution, **overrides)))


def _describe(spec: dict) -> str:
    return f"{spec.get('model')} at {spec.get('resolution')} px"


def read_spec(path: str | os.PathLike) -> dict | None:
    """The spec stored in a weight file, or None for a file written without one.

    Raises:
        WeightsError: the file is missing or not an HDF5 weight file.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weight file {path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get(SPEC_ATTR)
    except OSError as e:
        raise WeightsError(f"weight file {path} is corrupt or not a Keras .weights.h5 file ({e})") from e
    return json.loads(raw) if raw is not None else None


def save_weights_atomic(model: keras.Model, path: str | os.PathLike) -> None:
    """Save the model's weights with its spec attached; nothing is left half-written."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path, suffix=".weights.h5") as tmp:  # Keras wants the .weights.h5 ending
        model.save_weights(tmp)
        with h5py.File(tmp, "a") as f:
            f.attrs[SPEC_ATTR] = json.dumps(model.spec)


def _config_differences(stored: dict, spec: dict, config_cls) -> dict:
    """{field: (stored value, model value)} for the config fields two specs disagree on; a field a
    spec leaves out is at its default (specs omit defaults), so it is shown as that default."""
    defaults = {f.name: f.default for f in dataclasses.fields(config_cls) if f.default is not dataclasses.MISSING}
    a, b = stored.get("config", {}), spec.get("config", {})

    def value(cfg, k):  # JSON-normalised: a default tuple compares equal to a stored list
        return json.loads(json.dumps(cfg.get(k, defaults.get(k))))

    return {k: (value(a, k), value(b, k)) for k in set(a) | set(b) if value(a, k) != value(b, k)}


def load_weights_checked(model: keras.Model, path: str | os.PathLike, fine_tune: bool = False) -> None:
    """Load weights into a code-built model, refusing a file for another architecture.

    Args:
        model: the built model (its `spec` says what it is).
        path: a .weights.h5 file.
        fine_tune: accept a file whose config differs from the model's only in the family's
            `training_fields` (a fine-tune with another loss weight or hint simulation) or
            `widening_fields` (inputs the model adds, started at zero weight: `load_widened`).

    Raises:
        WeightsError: corrupt file, or weights of another model, resolution or architecture.
    """
    stored = read_spec(path)
    family = FAMILIES[model.spec["model"]]
    widen = False
    if stored is not None and stored != model.spec:
        if stored.get("model") != model.spec["model"] or stored.get("resolution") != model.spec["resolution"]:
            raise WeightsError(f"{path} holds weights for {_describe(stored)}, but the model to load is {_describe(model.spec)}")
        differ = _config_differences(stored, model.spec, family.config_cls)
        free = family.training_fields + family.widening_fields if fine_tune else ()
        if set(differ) - set(free):
            hint = f"; a fine-tune may change only {list(free)}" if fine_tune else ""
            raise WeightsError(f"{path} holds {_describe(stored)} weights with another configuration: "
                               f"{', '.join(f'{k}={differ[k][0]!r} (model: {differ[k][1]!r})' for k in sorted(differ))}{hint}")
        dropped = sorted(k for k in set(differ) & set(family.widening_fields) if differ[k][0] and not differ[k][1])
        if dropped:  # a widening field adds inputs (falsy: without them); a fine-tune cannot take them away
            raise WeightsError(f"{path} was trained with {', '.join(f'{k}={differ[k][0]!r}' for k in dropped)}, "
                               f"which the model lacks: a fine-tune may add {', '.join(dropped)} but not drop it; "
                               f"build the model with the same setting (--model-config)")
        widen = bool(set(differ) & set(family.widening_fields))
    try:
        if widen:  # the stored network lacks inputs the model has: zero weights for them
            family.load_widened(model, path, stored)
        else:
            stored_weights.load(model, path, family)
    except Exception as e:  # keras raises ValueError/KeyError/OSError for mismatched or broken files
        raise WeightsError(f"could not load {path} into {_describe(model.spec)}: {e}") from e


def export_weights(model: keras.Model, path: str | os.PathLike, dtype: str = "float16",
                   keep_float32_below: int = 0, leave_out_pretrained: bool = False) -> None:
    """Write inference weights: no optimizer state, floats stored as `dtype`, spec attached.

    Keras casts the stored values back to the variables' float32 when loading. The model is
    rebuilt uncompiled from its spec first, so no optimizer variables are written.

    Args:
        model: a built model with a spec.
        path: the `.weights.h5` file to write (atomically).
        dtype: storage dtype of the floats ("float32": as trained).
        keep_float32_below: arrays with fewer values than this stay float32 (batch-norm
            statistics, biases, the unet's bin prior and decoding: a few percent of the bytes, and
            the values half precision moves outputs most by); 0: every float array as `dtype`.
        leave_out_pretrained: leave out the weights of the family's frozen pretrained layers,
            which loading reads from their own pinned source (`models.stored`; the unet's ImageNet encoder).
    """
    import h5py
    import numpy as np

    clean = build_from_spec(model.spec)
    for target, source in zip(clean.weights, model.weights):
        target.assign(keras.ops.convert_to_numpy(source))
    path = Path(path)
    save_weights_atomic(clean, path)
    names, skip = stored_weights.pretrained_datasets(clean, family_of(clean)) if leave_out_pretrained else ([], set())
    if dtype == "float32" and not skip:
        return
    with atomic.replacing(path, suffix=".weights.h5") as tmp, h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        if names:
            dst.attrs[stored_weights.ATTR] = json.dumps(names)

        def copy(name, obj):
            if isinstance(obj, h5py.Dataset) and name not in skip:
                data = obj[()]
                if np.issubdtype(np.asarray(data).dtype, np.floating) and np.size(data) >= keep_float32_below:
                    data = np.asarray(data).astype(dtype)
                dst.create_dataset(name, data=data)
            elif isinstance(obj, h5py.Group):
                group = dst.require_group(name)
                for key, value in obj.attrs.items():
                    group.attrs[key] = value

        src.visititems(copy)
