"""Golden colours: the shipped weights (weights/) give the expected chroma on committed images,
through every user-facing path: the library, the CLI and the app (Compare downloads, Shape Set).

Cases, floors and the tolerance live in tests/golden_cases.py; the images and expected.npz in
tests/data/golden/ (README.md there). A U/V swap or sign flip anywhere on the output path breaks
the hue floors, the grey baseline and the expected UV at once.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import golden_cases as g
from colourise_core import colour, inference, metrics
from colourise_core.data.shapes import hue_accuracy

CASES = g.all_cases()
IDS = [f"{s}-{m}" for s, _, m in CASES]
EXPECTED = g.load_expected()


@pytest.fixture(scope="module")
def shipped():
    """Shipped models, loaded once: {(set, model): keras.Model}."""
    from colourise_core import weights

    cache = {}

    def get(set_name, model):
        if (set_name, model) not in cache:
            cache[(set_name, model)] = weights.load_pretrained(model, set_name, weights_dir=g.WEIGHTS_DIR)
        return cache[(set_name, model)]

    return get


def check_colours(set_name: str, group: str, model: str, outputs: list[np.ndarray], where: str) -> None:
    """Every golden check on the RGB outputs (one per group image, in order) of one path."""
    images = g.group_images(group)
    assert len(outputs) == len(images) > 0
    got = np.stack([g.pooled_uv(rgb) for rgb in outputs])
    want = EXPECTED[g.expected_key(set_name, model)]
    err = np.abs(got - want).max()
    assert err <= g.TOLERANCE, f"{where}: {set_name}/{model} UV differs from expected.npz by {err:.4f}"
    if group == "shapes":
        floor = g.hue_floor(set_name, model)
        hue = np.mean([hue_accuracy(colour.rgb_to_yuv(rgb)[..., 1:], g.labels_of(p)) for rgb, p in zip(outputs, images)])
        if floor is not None:
            assert hue >= floor, f"{where}: {model} hue accuracy {hue:.3f} below its floor {floor}"
    if g.beats_grey(set_name, model):
        truths = [g.truth_rgb(p) for p in images]
        mse = np.mean([metrics.uv_mse(rgb, t) for rgb, t in zip(outputs, truths)])
        grey = np.mean([metrics.uv_mse(colour.rgb_to_y(t).repeat(3, -1), t) for t in truths])
        assert mse < grey, f"{where}: {set_name}/{model} UV MSE {mse:.5f} not below grey's {grey:.5f}"


@pytest.mark.parametrize("set_name,group,model", CASES, ids=IDS)
def test_fixture_tells_a_colour_from_its_mirror(set_name, group, model):
    """The tolerance is tight enough that a U/V swap or a sign flip of the expected UV fails."""
    want = EXPECTED[g.expected_key(set_name, model)]
    assert want.shape == (len(g.group_images(group)), g.GRID, g.GRID, 2)
    assert np.abs(want[..., ::-1] - want).max() > 2 * g.TOLERANCE
    assert np.abs(-want - want).max() > 2 * g.TOLERANCE


def test_every_case_has_an_expected_array_and_nothing_stale():
    assert sorted(EXPECTED) == sorted(g.expected_key(s, m) for s, _, m in CASES)


def test_hue_floors_fail_for_swapped_or_negated_chroma():
    """The Shape Set floors are not vacuous: the truth's own UV, swapped or negated, falls below every floor.

    (A swap keeps green roughly green, so a swapped image of green triangles only can score
    high; the floors hold for the set's mean, which is what the golden checks use.)
    """
    images = g.group_images("shapes")
    truths = [(colour.rgb_to_yuv(g.truth_rgb(p))[..., 1:], g.labels_of(p)) for p in images]
    assert all(hue_accuracy(uv, labels) == 1.0 for uv, labels in truths)
    swapped = np.mean([hue_accuracy(uv[..., ::-1], labels) for uv, labels in truths])
    negated = np.mean([hue_accuracy(-uv, labels) for uv, labels in truths])
    lowest = min(f for f in g.HUE_FLOOR.values() if f is not None)
    assert swapped < lowest and negated < lowest, (swapped, negated, lowest)


@pytest.mark.parametrize("set_name,group,model", CASES, ids=IDS)
def test_library_colours(shipped, set_name, group, model):
    net = shipped(set_name, model)
    outputs = [inference.colourise(path, net) for path in g.group_images(group)]  # from the files, like a user
    check_colours(set_name, group, model, outputs, "inference.colourise")


def _read_outputs(folder: Path, images: list[Path], model: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(folder / f"{p.stem}.{model}.png").convert("RGB"), np.float32) / 255.0 for p in images]


@pytest.mark.parametrize("set_name", list(g.CASES))
def test_cli_colours(tmp_path, monkeypatch, capsys, set_name):
    """`colourise IMAGES --model M --weights SET` (cli.main in-process: the models load per call), PNGs read back."""
    from colourise_core import cli

    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(g.WEIGHTS_DIR))
    group, models = g.CASES[set_name]
    images = g.group_images(group)
    for model in models:
        assert cli.main(["colourise", *map(str, images), "--model", model, "--weights", set_name, "--out", str(tmp_path)]) == 0
        check_colours(set_name, group, model, _read_outputs(tmp_path, images, model), "CLI")
    printed = capsys.readouterr().out.split()
    assert sorted(printed) == sorted(str(tmp_path / f"{p.stem}.{m}.png") for p in images for m in models)


def test_cli_entry_point_colours(tmp_path):
    """`python -m colourise_core colourise` in a fresh process: the Shape Set CNN's colours."""
    images = g.group_images("shapes")
    done = subprocess.run([sys.executable, "-m", "colourise_core", "colourise", *map(str, images), "--model", "cnn",
                           "--weights", "shapes", "--out", str(tmp_path)], cwd=g.REPO,
                          env={**os.environ, "COLOURISE_WEIGHTS_DIR": str(g.WEIGHTS_DIR)},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    check_colours("shapes", "shapes", "cnn", _read_outputs(tmp_path, images, "cnn"), "python -m colourise_core")


# ------------------------------------------------------------------------------------------- app

@pytest.fixture
def app(monkeypatch, tmp_path):
    """The app on the shipped weights; returns a DownloadRecorder for the download buttons' bytes."""
    pytest.importorskip("streamlit")
    from app_fixtures import DownloadRecorder

    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(g.WEIGHTS_DIR))
    monkeypatch.setenv("COLOURISE_APP_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("COLOURISE_DATA_DIR", str(tmp_path / "no-datasets"))
    return DownloadRecorder().install(monkeypatch)


def _run_app(only=None):
    import app

    app.main(only)


def _start(page: str | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_run_app, default_timeout=300, kwargs={"only": page}).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("set_name", list(g.CASES))
def test_app_compare_downloads_colours(app, set_name):
    """Upload a golden image on Compare with the set chosen; each model's PNG download decodes to the golden UV."""
    group, models = g.CASES[set_name]
    image = g.group_images(group)[0]
    at = _start()
    at.sidebar.selectbox(key="sidebar_weights").set_value(f"set:{set_name}").run()
    at.radio(key="compare_source").set_value("Upload").run()
    mime = "image/png" if image.suffix == ".png" else "image/jpeg"
    at.file_uploader(key="compare_upload").set_value((image.name, image.read_bytes(), mime))
    at.run()
    assert not at.exception and not at.error, ([e.value for e in at.exception], [e.value for e in at.error])
    want = EXPECTED  # only image 0 of the group is uploaded
    for model in models:
        data, name = app.bytes_of(at, f"compare_download_{model}")
        assert name == f"{image.stem}-{model}.png"
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255.0
        assert rgb.shape == g.truth_rgb(image).shape
        err = np.abs(g.pooled_uv(rgb) - want[g.expected_key(set_name, model)][0]).max()
        assert err <= g.TOLERANCE, f"app download {set_name}/{model}: UV off by {err:.4f}"


def test_app_shape_set_hue_accuracy_is_the_librarys(app, shipped):
    """The Shape Set page on the golden image (seed 2026, luma-matched): the metric shown is the
    library's hue accuracy of the same image, and the CNN's is above its floor."""
    at = _start("shape_set")
    assert at.selectbox(key="shape_weights").value == "set:shapes"
    at.toggle(key="shape_luma_matched").set_value(True).run()
    at.number_input(key="shape_seed").set_value(2026).run()
    assert not at.exception, [e.value for e in at.exception]
    from app_support.weights_choice import MODEL_LABELS

    shown = {m.label.removesuffix(" hue accuracy"): m.value for m in at.metric}  # "CGAN", "CGAN (shapes-pix2pix)"
    image = g.group_images("shapes")[0]  # generate_shapes(.., seed=2026) image 0
    truth = g.truth_rgb(image)
    assert {"CNN", "CGAN", "CVAE"} <= set(shown)
    # the chosen set's models, then every other Shape Set set's below them
    cases = [("shapes", m, MODEL_LABELS[m]) for m in g.CASES["shapes"][1]]
    cases += [(s, m, f"{MODEL_LABELS[m]} ({s})") for s, (group, ms) in g.CASES.items() if group == "shapes" and s != "shapes"
              for m in ms]
    for set_name, model, label in cases:
        rgb = inference.colourise(truth, shipped(set_name, model))
        hue = hue_accuracy(colour.rgb_to_yuv(rgb)[..., 1:], g.labels_of(image))
        assert shown[label] == f"{hue:.1%}", (label, shown[label], hue)
    floor_hue = float(shown["CNN"].rstrip("%")) / 100
    assert floor_hue >= g.HUE_FLOOR["cnn"]
