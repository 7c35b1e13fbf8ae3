"""The diversity page's MDN controls under AppTest (issue 12): weights choice, mode picker, marking.

The tiny weights of tests/app_fixtures.py plus `tiny-mdn`: a 3-component MDN CVAE trained for one
epoch on 64 Shape Set images at 32 px, which the manifest says is trained on imagenette (as the
fixture's `imagenette` set says of itself). Two more sets claim the faces data: `tiny-faces` (the
tiny dissertation CVAE alone) and `tiny-faces-mdn` (a copy of the MDN CVAE), so that the page's
choice by data set can be seen.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest   # noqa: E402

from app_fixtures import RESOLUTION, make_tiny_weights, run_app, set_app_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 600  # seconds per script run: generous, the page draws 8 samples and a 7-point curve
MDN_SET = "tiny-mdn"
FACES_SET, FACES_MDN_SET = "tiny-faces", "tiny-faces-mdn"


@pytest.fixture(scope="session")
def mdn_weights(tmp_path_factory) -> Path:
    """A copy of the tiny weights with the MDN set added to the manifest."""
    from colourise_core import weights
    from colourise_core.training import TrainConfig, train

    tiny = make_tiny_weights(tmp_path_factory.getbasetemp() / "tiny_weights")
    folder = tmp_path_factory.mktemp("mdn_weights") / "weights"
    shutil.copytree(tiny, folder)
    run = folder.parent / "runs" / "mdn"
    train(TrainConfig(model="cvae", dataset="shapes", resolution=RESOLUTION, epochs=1, limit=64, val_limit=16,
                      batch_size=32, latent_dim=8, mdn_components=3, seed=0), run)
    # One epoch leaves the modes' means close together; move them apart (mode k: +1.5 k in every
    # latent dimension) so that which mode a sample takes visibly changes its colours.
    from colourise_core import models
    from colourise_core.training import load_run

    net = load_run(run)
    head = net.cond_encoder.get_layer("cond_encoder_mu")
    kernel, bias = head.get_weights()
    head.set_weights([kernel, bias + np.repeat(np.arange(3) * 1.5, 8).astype("float32")])
    (folder / MDN_SET).mkdir()
    models.save_weights_atomic(net, folder / MDN_SET / "cvae.weights.h5")
    manifest = json.loads((folder / "manifest.json").read_text())

    def cvae_entry(set_name: str, dataset: str, source: Path, spec: dict, metrics: dict) -> dict:
        (folder / set_name).mkdir(exist_ok=True)
        if source != folder / set_name / "cvae.weights.h5":
            shutil.copyfile(source, folder / set_name / "cvae.weights.h5")
        return {"dataset": dataset, "classes": None, "resolution": RESOLUTION, "models": {"cvae": {
            "file": f"{set_name}/cvae.weights.h5", "sha256": weights.sha256_file(folder / set_name / "cvae.weights.h5"),
            "spec": spec, "epochs": 1, "command": "tests/test_app_diversity.py", "metrics": metrics}}}

    mdn_spec = json.loads((run / "spec.json").read_text())
    figures = {"diversity": {"dataset": "imagenette", "split": "val", "spread": 0.0512, "best_uv_mse": 0.0011,
                             "single_uv_mse": 0.0031}}
    manifest["sets"][MDN_SET] = cvae_entry(MDN_SET, "imagenette", folder / MDN_SET / "cvae.weights.h5", mdn_spec, figures)
    manifest["sets"][FACES_MDN_SET] = cvae_entry(FACES_MDN_SET, "faces", folder / MDN_SET / "cvae.weights.h5", mdn_spec, {})
    plain = manifest["sets"]["shapes"]["models"]["cvae"]
    manifest["sets"][FACES_SET] = cvae_entry(FACES_SET, "faces", folder / plain["file"], plain["spec"], {})
    weights.validate_manifest(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


@pytest.fixture(autouse=True)
def app_env(monkeypatch, tmp_path, mdn_weights):
    """As tests/test_app.py's app_env, with the MDN weights folder."""
    set_app_env(monkeypatch, tmp_path, mdn_weights)




def start() -> AppTest:
    at = AppTest.from_function(run_app, default_timeout=TIMEOUT, kwargs={"only": "diversity"}).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sample_captions(at: AppTest) -> list[str]:
    return [c for img in at.image for c in img.captions if c.startswith("Sample ")]


def spread(at: AppTest) -> float:
    text = next(c.value for c in at.caption if c.value.startswith("Spread of these samples"))
    return float(text.rsplit(" ", 1)[-1])


def test_page_defaults_to_the_mdn_cvae_and_says_why():
    at = start()
    assert at.selectbox(key="div_weights").value == f"set:{MDN_SET}"  # the sidebar's default set has no MDN
    why = next(c.value for c in at.caption if c.value.startswith("Using "))
    assert "an MDN CVAE with 3 latent modes" in why and "chosen as an MDN CVAE" in why
    assert "spread 0.051" in why  # the manifest's measured figures
    mode = at.selectbox(key="div_component")
    assert len(mode.options) == 4 and mode.options[0] == "by weight"
    shares = [int(m) for m in re.findall(r"mode \d \((\d+)%\)", " ".join(mode.options))]
    assert len(shares) == 3 and abs(sum(shares) - 100) <= 2  # the mixture's weights, rounded
    captions = sample_captions(at)
    assert len(captions) == 8
    # the sample nearest the truth (a colour photo by default) is marked, and only it
    errors = [float(re.search(r"UV MSE ([0-9.]+)", c).group(1)) for c in captions]
    marked = [i for i, c in enumerate(captions) if "nearest the truth" in c]
    assert len(marked) == 1 and errors[marked[0]] == min(errors)
    chart = at.get("plotly_chart")
    assert len(chart) == 1
    spec = chart[0].proto.spec
    assert "spread" in spec and "best-of-8 UV MSE" in spec and "grey UV MSE" in spec


def test_chosen_mode_at_temperature_zero_gives_one_colouring_by_weight_several():
    at = start()
    at.slider(key="div_temperature").set_value(0.0).run()
    assert spread(at) > 0  # by weight: the samples' modes differ, so do their means
    at.selectbox(key="div_component").set_value(1).run()  # mode 2
    assert not at.exception
    assert spread(at) == 0.0  # one mode, its mean: eight identical samples
    assert any("mode 2" in s.value for s in at.subheader)
    assert any(c.startswith("Mean (temperature 0, mode 2)") for img in at.image for c in img.captions)


def test_switching_to_the_dissertation_cvae_hides_the_mode_picker():
    at = start()
    at.selectbox(key="div_weights").set_value("set:shapes").run()
    assert not at.exception
    why = next(c.value for c in at.caption if c.value.startswith("Using "))
    assert "the dissertation's CVAE" in why and "your choice above" in why
    assert not [s for s in at.selectbox if s.key == "div_component"]
    assert len(sample_captions(at)) == 8


def test_faces_in_the_sidebar_gives_the_faces_mdn_cvae_and_says_so():
    at = start()
    at.sidebar.selectbox(key="sidebar_weights").set_value(f"set:{FACES_SET}").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="div_weights").value == f"set:{FACES_MDN_SET}"
    why = next(c.value for c in at.caption if c.value.startswith("Using "))
    assert f"**{FACES_MDN_SET} (CVAE)**" in why and "an MDN CVAE with 3 latent modes" in why
    assert f"trained on the same data as the sidebar's `{FACES_SET}` (faces, 32 px)" in why
    assert len(sample_captions(at)) == 8


def test_sidebar_data_without_an_mdn_cvae_falls_back_to_the_photo_one():
    at = start()
    at.sidebar.selectbox(key="sidebar_weights").set_value("set:shapes").run()  # no MDN CVAE on shapes
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="div_weights").value == f"set:{MDN_SET}"  # the one on the default set's data
    why = next(c.value for c in at.caption if c.value.startswith("Using "))
    assert "chosen as an MDN CVAE" in why and "same data" not in why
