"""The Streamlit app, driven headless with AppTest (streamlit.testing.v1) on tiny, really trained weights.

One session-scoped fixture trains the three models for one epoch on 64 Shape Set images at 32 px
and writes a weights folder with a manifest (tests/app_fixtures.py); every test points the app at
it with COLOURISE_WEIGHTS_DIR and gets its own COLOURISE_APP_RUNS_DIR.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest   # noqa: E402

from app_fixtures import DownloadRecorder, colour_png, make_tiny_weights, run_app, set_app_env, shapes_zip  # noqa: E402
from app_support.weights_choice import MODEL_LABELS  # noqa: E402

TIMEOUT = 180  # seconds per script run: TensorFlow and the first model loads take a while on a CPU


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    return make_tiny_weights(tmp_path_factory.getbasetemp() / "tiny_weights")  # shared with test_app_e2e.py


DOWNLOADS = DownloadRecorder()  # the last AppTest run's media files: a download button's bytes


@pytest.fixture(autouse=True)
def app_env(monkeypatch, tmp_path, tiny_weights):
    """Tiny weights, a private runs folder, no dataset archives; download bytes recorded."""
    DOWNLOADS.install(monkeypatch)
    set_app_env(monkeypatch, tmp_path, tiny_weights)




def start(page: str | None = None) -> AppTest:
    at = AppTest.from_function(run_app, default_timeout=TIMEOUT, kwargs={"only": page}).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("colourise" in m.value for m in at.sidebar.markdown)  # app.py's frame is drawn
    return at


def switch_page(at: AppTest, page: str) -> AppTest:
    """Open pages/<page>.py in the same session (its state, the sidebar's choice) and run it."""
    at.kwargs["only"] = page
    return at.run()


def captions(at: AppTest) -> list[str]:
    return [c for img in at.image for c in img.captions]


def model_captions(at: AppTest) -> dict[str, str]:
    out = {}
    for c in captions(at):
        for name in MODEL_LABELS.values():
            if c.startswith(f"{name} · "):
                out[name] = c
    return out


def upload(at: AppTest, key: str, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.file_uploader(key=key).set_value((name, data, mime))
    return at.run()


def wait_for(at: AppTest, done, timeout: float = 240) -> AppTest:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        time.sleep(0.5)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if done(at):
            return at
    raise AssertionError(f"timed out; page shows {[m.value for m in at.markdown][:5]}")


# ------------------------------------------------------------------------------------- Compare


def test_compare_colourises_a_sample_with_three_models():
    at = start()
    assert at.sidebar.selectbox(key="sidebar_weights").value == "set:imagenette"
    assert "Grey input (Y)" in captions(at)
    found = model_captions(at)
    assert set(found) == {"CNN", "CGAN", "CVAE"}
    assert all(c.endswith(" s") for c in found.values())  # the time each model took
    assert [c.value for c in at.caption].count("The dissertation's model (2020).") == 3  # labelled as the dissertation's
    assert "the dissertation's CNN, conditional GAN and conditional VAE, and a U-Net" in at.sidebar.caption[0].value
    assert not at.error
    keys = {b.key for b in at.get("download_button")}
    assert {"compare_download_cnn", "compare_download_cgan", "compare_download_cvae", "compare_download_grid"} <= keys
    assert "Original" not in captions(at)  # a greyscale sample: nothing to score against


def test_compare_upload_colour_image_shows_metrics_and_render_size():
    at = start()
    at.radio(key="compare_source").set_value("Upload").run()
    upload(at, "compare_upload", "colour.png", colour_png((48, 64)))
    assert "Original" in captions(at)
    assert set(model_captions(at)) == {"CNN", "CGAN", "CVAE"}
    scored = [m.value for m in at.markdown if "PSNR" in m.value and "UV MSE" in m.value]
    assert len(scored) == 4  # the grey baseline and the dissertation's three models
    assert any("pick a weight set with a U-Net" in i.value for i in at.info)  # the tiny weights have no U-Net set
    assert any("Saw 32 x 32 px" in c.value for c in at.caption)
    at.select_slider(key="compare_render").set_value(128).run()
    seen = [c.value for c in at.caption if c.value.startswith("Saw ")]
    assert "Saw 128 x 96 px; colourised at 64 x 48 px." in seen  # CNN/CGAN keep the aspect ratio
    assert "Saw 32 x 32 px; colourised at 64 x 48 px." in seen  # the CVAE sees its training size
    at.slider(key="compare_wipe").set_value(30).run()
    assert any(c.endswith("wipe at 30%") for c in captions(at))


def test_compare_bad_uploads_show_errors_and_the_page_recovers(make_large_png):
    at = start()
    at.radio(key="compare_source").set_value("Upload").run()
    upload(at, "compare_upload", "holiday.png", b"these are my holiday notes, not a photo\n")
    assert any("not an image Pillow can read" in e.value for e in at.error)
    assert not model_captions(at)
    huge = make_large_png(20_000, 20_000).read_bytes()  # a valid header of 400 megapixels
    upload(at, "compare_upload", "huge.png", huge)
    assert any("too large to decode safely" in e.value for e in at.error)
    upload(at, "compare_upload", "colour.png", colour_png())
    assert not at.error
    assert set(model_captions(at)) == {"CNN", "CGAN", "CVAE"}


def test_missing_weights_are_explained_and_pages_still_work(monkeypatch, tmp_path):
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(tmp_path / "empty"))
    at = start()
    assert any("No pretrained weights yet" in i.value for i in at.sidebar.info)
    assert any("No weights to colourise with yet" in i.value for i in at.info)
    for page, text in (("diversity", "No CVAE"), ("shape_set", "No Shape Set weights yet")):
        switch_page(at, page)
        assert not at.exception
        assert any(text in i.value for i in at.info)
    switch_page(at, "ill_posed")
    assert not at.exception and at.get("plotly_chart")


# ------------------------------------------------------------------------------- CVAE diversity


def test_diversity_draws_n_samples_and_the_spread_curve():
    at = start("diversity")
    at.slider(key="div_samples").set_value(5).run()
    at.slider(key="div_temperature").set_value(1.5).run()
    samples = [c for c in captions(at) if c.startswith("Sample ")]
    assert len(samples) == 5
    assert any(c.startswith("Best of 5 (sample ") for c in captions(at))  # a colour sample by default
    assert any(c.startswith("Mean (temperature 0)") for c in captions(at))
    chart = at.get("plotly_chart")
    assert len(chart) == 1 and "temperature" in chart[0].proto.spec


# ------------------------------------------------------------------------------------ Shape Set


def test_shape_set_colours_hue_accuracy_and_feature_maps():
    at = start("shape_set")
    at.toggle(key="shape_luma_matched").set_value(True).run()
    found = model_captions(at)
    assert set(found) == {"CNN", "CGAN", "CVAE"}
    assert all("hue accuracy" in c for c in found.values())
    assert {"Grey input", "Truth"} <= set(captions(at))
    assert len(at.metric) == 3
    assert any("layer conv_in, 8 maps" in c for c in captions(at))
    at.radio(key="shape_fmap_model").set_value("cvae").run()
    assert any("CVAE: layer cond_encoder_conv0" in c for c in captions(at))
    at.radio(key="shape_mode").set_value("Place shapes").run()
    at.selectbox(key="shape_kind").set_value("triangle")
    next(b for b in at.button if b.label == "Add shape").click().run()
    assert len(at.session_state["shape_placed"]) == 4
    assert set(model_captions(at)) == {"CNN", "CGAN", "CVAE"}


def test_shape_set_shows_other_shape_set_weights_beside_the_chosen_set(tmp_path, monkeypatch, tiny_weights):
    """A second Shape Set weight set (here a conditional CGAN, as `shapes-pix2pix` ships) gets its own
    column under the chosen set's, coloured from the same image, with its hue accuracy."""
    from colourise_core import weights
    from colourise_core.training import TrainConfig, train

    folder = tmp_path / "weights"
    shutil.copytree(tiny_weights, folder)
    run = tmp_path / "pix2pix-run"
    train(TrainConfig(model="cgan", dataset="shapes", resolution=32, epochs=1, limit=32, val_limit=16, batch_size=16,
                      conditional_discriminator=True, l1_weight=100.0), run)
    (folder / "shapes-pix2pix").mkdir()
    shutil.copyfile(run / "model.weights.h5", folder / "shapes-pix2pix" / "cgan.weights.h5")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["sets"]["shapes-pix2pix"] = {"dataset": "shapes", "classes": None, "resolution": 32, "models": {"cgan": {
        "file": "shapes-pix2pix/cgan.weights.h5", "sha256": weights.sha256_file(folder / "shapes-pix2pix" / "cgan.weights.h5"),
        "spec": json.loads((run / "spec.json").read_text()), "epochs": 1, "command": "test", "metrics": {}}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(folder))
    at = start("shape_set")
    at.toggle(key="shape_luma_matched").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert set(model_captions(at)) == {"CNN", "CGAN", "CVAE"}  # the chosen set ("shapes") as before
    extra = [c for c in captions(at) if c.startswith("CGAN (shapes-pix2pix) · hue accuracy ")]
    assert len(extra) == 1
    assert [m.label for m in at.metric].count("CGAN (shapes-pix2pix) hue accuracy") == 1
    assert any("More Shape Set weights" in m.value for m in at.markdown)
    # choosing the pix2pix set: its CGAN in the main row, the dissertation's set below it
    at.selectbox(key="shape_weights").set_value("set:shapes-pix2pix").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "CGAN" in model_captions(at)
    assert any(c.startswith("CNN (shapes) · hue accuracy ") for c in captions(at))


# -------------------------------------------------------------------------------------- Retrain


def configure_tiny_run(at: AppTest, name: str, epochs: int = 1) -> AppTest:
    at.number_input(key="retrain_limit").set_value(64)
    at.number_input(key="retrain_val_limit").set_value(16)
    at.number_input(key="retrain_epochs").set_value(epochs)
    at.number_input(key="retrain_batch_cnn").set_value(32)
    at.select_slider(key="retrain_resolution_shapes").set_value(32)
    at.text_input(key="retrain_name").set_value(name)
    return at.run()


def finished(at: AppTest) -> bool:
    return any("is ready" in s.value for s in at.success) or bool(at.warning) or any("failed" in e.value for e in at.error)


def test_retrain_one_epoch_then_the_run_is_on_compare(tmp_path):
    at = configure_tiny_run(start("retrain"), "tiny")
    at.button(key="retrain_start").click().run()
    wait_for(at, finished)
    assert any("Run tiny is ready (1 epoch(s)" in s.value for s in at.success), [e.value for e in at.error]
    sid = at.session_state["app_session_id"]
    run = tmp_path / "runs" / sid / "tiny"
    assert (run / "model.weights.h5").is_file() and (run / "spec.json").is_file()
    options = at.sidebar.selectbox(key="sidebar_weights").options
    assert any(o.startswith("my run: tiny (CNN, shapes, 1 ep.)") for o in options)
    data, name = DOWNLOADS.bytes_of(at, "retrain_download_tiny")  # the zip a click gives
    assert name == "tiny.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        assert {"tiny/spec.json", "tiny/train_config.json", "tiny/history.json", "tiny/state.json",
                "tiny/model.weights.h5"} <= names and all(n.startswith("tiny/") for n in names)
        assert zf.read("tiny/model.weights.h5") == (run / "model.weights.h5").read_bytes()
        assert json.loads(zf.read("tiny/history.json"))[0]["epoch"] == 1
    at.sidebar.selectbox(key="sidebar_weights").set_value(f"run:{run}").run()
    switch_page(at, "compare")
    assert set(model_captions(at)) == {"CNN"}  # a run holds one model; the others say so
    infos = [i.value for i in at.info if i.value.startswith("Not in my run: tiny")]
    missing = {m for m in ("CNN", "CGAN", "CVAE", "U-Net") if any(f"with a {m} in the sidebar" in i for i in infos)}
    assert len(infos) == 3 and missing == {"CGAN", "CVAE", "U-Net"}, infos  # tiny weights have no U-Net set either


def test_retrain_a_unet_with_its_rebalancing_then_compare_shows_it(tmp_path):
    at = start("retrain")
    assert at.toggle(key="retrain_augment_cnn").label == "Augmentation (flip, shift, rotate)"  # 4.1.3
    at.radio(key="retrain_model").set_value("unet").run()
    assert at.toggle(key="retrain_augment_unet").label == "Augmentation (flip)"  # what its training applies
    assert at.slider(key="retrain_rebalance").value == 0.5  # the family's default (ECCV 2016)
    at.slider(key="retrain_rebalance").set_value(0.75)
    at.number_input(key="retrain_batch_unet").set_value(16)
    at.number_input(key="retrain_limit").set_value(64)
    at.number_input(key="retrain_val_limit").set_value(16)
    at.number_input(key="retrain_epochs").set_value(1)
    at.select_slider(key="retrain_resolution_shapes").set_value(32)
    at.text_input(key="retrain_name").set_value("tiny-unet")
    at.run().button(key="retrain_start").click().run()
    wait_for(at, finished)
    assert any("Run tiny-unet is ready (1 epoch(s)" in s.value for s in at.success), [e.value for e in [*at.error, *at.warning]]
    run = tmp_path / "runs" / at.session_state["app_session_id"] / "tiny-unet"
    assert json.loads((run / "train_config.json").read_text())["rebalance"] == 0.75
    assert json.loads((run / "spec.json").read_text())["config"]["rebalance"] == 0.75  # the model trained with it
    at.sidebar.selectbox(key="sidebar_weights").set_value(f"run:{run}").run()
    switch_page(at, "compare")
    assert set(model_captions(at)) == {"U-Net"}
    assert any(c.value.startswith("Past the dissertation: a distribution over colours") for c in at.caption)
    assert at.select_slider(key="compare_vividness").value is not None  # its vividness control is there for it


def test_two_sessions_train_into_separate_folders(tmp_path):
    sessions = [configure_tiny_run(start("retrain"), "same-name") for _ in range(2)]
    for at in sessions:
        at.button(key="retrain_start").click().run()
    for at in sessions:
        wait_for(at, finished)
    ids = [at.session_state["app_session_id"] for at in sessions]
    assert ids[0] != ids[1]
    for sid, at in zip(ids, sessions):
        assert (tmp_path / "runs" / sid / "same-name" / "model.weights.h5").is_file()
        runs = [o for o in at.sidebar.selectbox(key="sidebar_weights").options if o.startswith("my run:")]
        assert len(runs) == 1  # each session sees only its own run


def test_stop_button_stops_training():
    at = configure_tiny_run(start("retrain"), "long", epochs=200)
    at.button(key="retrain_start").click().run()
    wait_for(at, lambda at: any(b.key == "retrain_stop" for b in at.button), timeout=120)
    at.button(key="retrain_stop").click().run()
    wait_for(at, finished, timeout=120)
    job = at.session_state["retrain_job"]
    assert job.progress().status == "stopped"
    assert job.progress().epoch < 200


def test_retrain_bad_zip_then_good_zip(tmp_path):
    at = start("retrain")
    at.selectbox(key="retrain_dataset").set_value("Your zip").run()
    assert at.button(key="retrain_start").disabled
    upload(at, "retrain_zip", "data.zip", b"PK\x03\x04 not really a zip", "application/zip")
    assert any("This zip cannot be used" in e.value and "not a readable zip or tar archive" in e.value for e in at.error)
    good = shapes_zip(tmp_path / "shapes.zip").read_bytes()
    upload(at, "retrain_zip", "shapes.zip", good, "application/zip")
    assert not at.error
    assert any("24 images; splits: train; classes: shapes" in c.value for c in at.caption)
    assert not at.button(key="retrain_start").disabled


def test_retrain_missing_dataset_archive_is_explained():
    at = start("retrain")
    at.selectbox(key="retrain_dataset").set_value("CIFAR-10").run()
    assert any("cifar10.zip" in w.value and "COLOURISE_DATA_DIR" in w.value for w in at.warning)
    assert at.button(key="retrain_start").disabled


# ---------------------------------------------------------------------------------- Ill-posed


def test_ill_posed_lesson_figures():
    at = start("ill_posed")
    assert at.table  # Hadamard's conditions
    diff = next(m.value for m in at.markdown if "Max luma difference" in m.value)
    value = float(diff.split(": ")[1].split("**")[0])
    assert value < 0.5 / 255  # four colourings, one grey
    assert {"Original", "U and V swapped", "Chroma x 0.4"} <= set(captions(at))
    assert len([c for c in captions(at) if c == "its grey"]) == 4
    assert at.get("plotly_chart")
    at.slider(key="ill_luma").set_value(0.3).run()
    at.slider(key="ill_u").set_value(-0.2).run()
    assert any("Y = 0.30, U = -0.200" in m.value for m in at.markdown)
    assert sum(c.startswith(("CNN: ", "CGAN: ", "CVAE: ")) for c in captions(at)) == 3  # the live demo


def test_canvas_shapes_keep_their_place():
    """A streamlit-drawable-canvas drawing (Fabric.js JSON) becomes Shape Set shapes where drawn."""
    from app_support.shapes_draw import from_canvas, render

    drawing = {"objects": [
        {"type": "Rect", "left": 30, "top": 30, "width": 90, "height": 60, "originX": "left", "originY": "top",
         "fill": "rgb(200,200,200)"},
        {"type": "Circle", "left": 160, "top": 160, "radius": 42.42640687, "angle": 45, "originX": "left",
         "originY": "center", "fill": "#808080"},
        {"type": "Path", "left": 0, "top": 0},  # free drawing: not a Shape Set shape
    ]}
    square, circle = from_canvas(drawing, 256)
    assert (square.kind, square.cx * 256, square.cy * 256) == ("square", 75.0, 60.0)
    assert circle.kind == "circle" and abs(circle.cx * 256 - 190) < 1e-6 and abs(circle.cy * 256 - 190) < 1e-6
    rgb, labels = render([square, circle], 64)
    assert labels[15, 18] == 2 and labels[47, 47] == 1 and labels[0, 0] == 0
    assert rgb[15, 18].argmax() == 0 and rgb[47, 47].argmax() == 2  # red square, blue circle


def test_compare_resizes_images_over_the_app_pixel_limit(monkeypatch):
    monkeypatch.setenv("COLOURISE_APP_MAX_PIXELS", "10000")
    at = start()
    at.radio(key="compare_source").set_value("Upload").run()
    upload(at, "compare_upload", "wide.png", colour_png((100, 200)))  # 20,000 pixels
    assert any("works on a 141 x 70 copy" in w.value for w in at.warning)
    assert set(model_captions(at)) == {"CNN", "CGAN", "CVAE"}
    assert any("colourised at 141 x 70 px" in c.value for c in at.caption)


def test_compare_downloads_are_the_colourisations(tiny_weights):
    """Each model's PNG download, decoded, is the library's colourisation of the upload (within one
    level), and the grid's tiles are the grey input and the models' results."""
    from colourise_core import colour, inference, weights

    at = start()
    at.radio(key="compare_source").set_value("Upload").run()
    data = colour_png((48, 64))
    upload(at, "compare_upload", "colour.png", data)
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255.0
    grey = colour.to_uint8(colour.rgb_to_y(rgb).repeat(3, -1)).astype(int)
    results = {}
    for model in ("cnn", "cgan", "cvae"):
        png, name = DOWNLOADS.bytes_of(at, f"compare_download_{model}")
        assert name == f"colour-{model}.png"
        got = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        net = weights.load_pretrained(model, "imagenette", weights_dir=tiny_weights)
        want = colour.to_uint8(inference.colourise(data, net)).astype(int)
        assert got.shape == (48, 64, 3) and np.abs(got - want).max() <= 1, model
        assert np.abs(got - grey).max() > 2  # a colourisation, not the grey input
        results[model] = got
    png, name = DOWNLOADS.bytes_of(at, "compare_download_grid")
    grid = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert name == "colour-grid.png" and grid.shape[0] == 28 + 48  # caption strip + tiles at the input's height
    tiles = [grid[28:, i * (64 + 4): i * (64 + 4) + 64] for i in range(5)]  # grey, original, CNN, CGAN, CVAE
    assert np.abs(tiles[0] - grey).max() <= 1
    assert np.abs(tiles[1] - np.rint(rgb * 255)).max() <= 1
    for tile, model in zip(tiles[2:], ("cnn", "cgan", "cvae")):
        assert np.abs(tile - results[model]).max() <= 1, model


def test_retrain_failure_is_shown_and_the_page_recovers(monkeypatch):
    """A training that raises shows "Training failed: <the error>" and leaves no run behind."""
    from colourise_core import training

    def broken(config, out_dir, callbacks=(), resume=False):
        raise RuntimeError("disk quota exceeded while writing the checkpoint")

    monkeypatch.setattr(training, "train", broken)
    at = configure_tiny_run(start("retrain"), "doomed")
    at.button(key="retrain_start").click().run()
    wait_for(at, finished)
    errors = [e.value for e in at.error]
    assert any(e == "Training failed: RuntimeError: disk quota exceeded while writing the checkpoint" for e in errors), errors
    assert not any("is ready" in s.value for s in at.success)
    assert at.session_state["retrain_job"].progress().status == "failed"
    assert not any(o.startswith("my run: doomed") for o in at.sidebar.selectbox(key="sidebar_weights").options)
    assert not at.button(key="retrain_start").disabled  # the user can start again
