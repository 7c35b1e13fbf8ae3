"""Cold start (issue 13): models preloaded at server start, and Compare showing each result as
soon as its model is ready.

Real tiny Keras weights (tests/app_fixtures.py), real threads and futures; no timing asserts:
the order of events is what is checked (which model is ready, running or drawn when).
"""

from __future__ import annotations

import io
import threading
import types
from concurrent.futures import Future

import numpy as np
import pytest

from app_fixtures import colour_png, make_tiny_weights
from colourise_core import imageio, runtime
from colourise_core.errors import WeightsError


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    return make_tiny_weights(tmp_path_factory.getbasetemp() / "tiny_weights")  # shared with test_app.py


@pytest.fixture(autouse=True)
def fresh_preloads(monkeypatch):
    monkeypatch.setattr(runtime, "_PRELOADED", {})


def test_a_preloaded_model_goes_to_its_first_caller_then_fresh_copies(tiny_weights):
    futures = runtime.preload([("cnn", "shapes")], "keras", weights_dir=str(tiny_weights))
    first = runtime.load_one("cnn", "shapes", "keras", weights_dir=str(tiny_weights))
    assert first is futures[0].result()  # the very object loaded in the background
    second = runtime.load_one("cnn", "shapes", "keras", weights_dir=str(tiny_weights))
    assert second is not first  # taken once: the next caller loads its own
    for a, b in zip(first.weights, second.weights):  # the same weights either way
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_preloads_run_one_after_another_in_the_order_given(tiny_weights):
    """The first model is ready before the second starts (parallel threads would finish all late)."""
    seen = {}
    futures = runtime.preload([("cnn", "shapes"), ("cgan", "shapes"), ("cvae", "shapes")], "keras",
                              weights_dir=str(tiny_weights))
    futures[0].add_done_callback(lambda f: seen.setdefault("second running when the first was done", futures[1].running()))
    for f in futures:
        f.result(timeout=120)
    assert seen.get("second running when the first was done", False) is False
    assert [type(f.result()).__name__ for f in futures] == [type(runtime.load_one(m, "shapes", "keras", weights_dir=str(tiny_weights))).__name__
                                                           for m in ("cnn", "cgan", "cvae")]


def test_a_failed_preload_is_retried_and_raises_the_real_error(tiny_weights):
    futures = runtime.preload([("unet", "shapes")], "keras", weights_dir=str(tiny_weights))
    assert isinstance(futures[0].exception(timeout=60), WeightsError)
    with pytest.raises(WeightsError, match="weights set 'shapes' has no 'unet' model"):
        runtime.load_one("unet", "shapes", "keras", weights_dir=str(tiny_weights))


def test_prewarm_loads_what_compare_shows_first(tiny_weights, monkeypatch, capsys):
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(tiny_weights))
    from app_support import prewarm

    # The tiny folder's default set (imagenette) holds the three dissertation models, no U-Net.
    assert prewarm.default_loads() == [("cnn", "imagenette"), ("cgan", "imagenette"), ("cvae", "imagenette")]
    out = io.StringIO()
    prewarm.start("keras", out=out).join(timeout=240)
    assert out.getvalue().strip().startswith("colourise: preloaded cnn (imagenette), cgan (imagenette), cvae (imagenette) with keras in ")
    assert "failed" not in out.getvalue()
    key = runtime._preload_key("cvae", "imagenette", "keras", str(tiny_weights))
    assert runtime._PRELOADED[key].done()  # waiting for the page's loader to take it


def _picked():
    return types.SimpleNamespace(loaded=imageio.load_rgb(colour_png((40, 56))), is_colour=False)


def test_compare_yields_a_result_before_the_next_model_is_loaded(tiny_weights):
    """`colourise_in_order` hands over CNN's result while CGAN's load is still pending; a load
    error comes back in its column's place; each model's lock is held only while it runs."""
    from colourise_core.weights import load_pretrained
    from pages.compare import Result, colourise_in_order

    cnn, lock = load_pretrained("cnn", "shapes", weights_dir=tiny_weights), threading.Lock()
    ready, pending = Future(), Future()
    ready.set_result((cnn, lock))
    stream = colourise_in_order({"cnn": ready, "cgan": pending}, _picked(), None)
    model, result = next(stream)  # would block forever if it waited for cgan
    assert model == "cnn" and isinstance(result, Result)
    assert result.rgb8.shape == (40, 56, 3) and result.rgb8.dtype == np.uint8
    assert lock.locked()  # still CNN's turn: the caller is drawing its result
    pending.set_exception(WeightsError("cgan weights are corrupt"))
    model, error = next(stream)
    assert (model, str(error)) == ("cgan", "cgan weights are corrupt")
    assert not lock.locked()
    assert next(stream, None) is None


def test_compare_in_order_equals_all_at_once(tiny_weights):
    """Progressive or not, the pixels are `colourise_many`'s."""
    from colourise_core import inference
    from colourise_core.weights import load_pretrained
    from pages.compare import colourise_in_order

    nets = {m: load_pretrained(m, "shapes", weights_dir=tiny_weights) for m in ("cnn", "cgan", "cvae")}
    futures = {}
    for m, net in nets.items():
        futures[m] = Future()
        futures[m].set_result((net, threading.Lock()))
    picked = _picked()
    got = dict(colourise_in_order(futures, picked, None))
    want = inference.colourise_many(picked.loaded, nets)
    assert list(got) == ["cnn", "cgan", "cvae"]
    for m in nets:
        np.testing.assert_array_equal(got[m].rgb8, want[m].rgb8)


def test_the_unet_beside_a_set_is_the_one_of_its_dataset_else_the_general_one(monkeypatch, tmp_path):
    """Compare/Guide/lesson columns for a family the chosen set lacks: a faces set gets the faces
    U-Net, any other set the general one (not merely the first name in sort order); the choice is
    `weights.set_holding`'s, on a real manifest, and a set whose file is not here is not chosen."""
    from app_support import weights_choice
    from app_fixtures import write_placeholder_sets

    write_placeholder_sets(tmp_path, {"faces-unet": ("faces", ("unet",)), "faces": ("faces", ("cnn", "cgan", "cvae")),
                              "general": ("imagenette+photos-extra+faces", ("unet",)), "imagenette": ("imagenette", ("cnn",)),
                              "shapes": ("shapes", ("cnn", "unet"))})
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(tmp_path))
    sets = {s.value: s for s in weights_choice.manifest_sources()[0]}
    faces, imagenette = sets["faces"], sets["imagenette"]
    assert weights_choice.with_model("unet", faces).value == "faces-unet"
    assert weights_choice.with_model("unet", imagenette).value == "general"
    assert weights_choice.with_model("unet", None).value == "general"
    assert weights_choice.with_model("unet", sets["shapes"]).value == "shapes"  # the set itself has one
    assert weights_choice.with_model("cvae", imagenette).value == "faces"  # no general one: the first
    for name in ("faces-unet", "general", "shapes"):  # no U-Net file here: none is offered
        (tmp_path / name / "unet.weights.h5").unlink()
    assert weights_choice.with_model("unet", faces) is None
