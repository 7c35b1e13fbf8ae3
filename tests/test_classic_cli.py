"""CLI of the classic methods: `--model levin --hints`, `--model welsh --reference`, and their bad inputs."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colourise_core import cli, colour

def _photo(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx / w, yy / h, 0.5 + 0.4 * np.sin((xx + yy) / 9 + rng.random())], -1)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def _rgb(path):
    return np.asarray(Image.open(path).convert("RGB"), np.float64) / 255.0


@pytest.fixture
def files(tmp_path):
    grey = Image.fromarray(_photo(40, 60)).convert("L")
    grey.save(tmp_path / "old.png")  # 60x40 greyscale
    Image.fromarray(_photo(30, 50, seed=1)).save(tmp_path / "ref.png")
    grey.save(tmp_path / "grey_ref.png")
    # a hint of pure red near the top left, pure blue near the bottom right
    (tmp_path / "hints.json").write_text(json.dumps({"points": [{"x": 2, "y": 3, "rgb": [255, 0, 0]},
                                                                {"x": 57, "y": 36, "rgb": [0, 0, 255]}], "radius": 1}))
    return tmp_path


def test_levin_with_hints(files, capsys):
    out = files / "out"
    code = cli.main(["colourise", str(files / "old.png"), "--model", "levin", "--hints", str(files / "hints.json"),
                     "--out", str(out)])
    assert code == 0
    target = out / "old.levin.png"
    assert capsys.readouterr().out.strip() == str(target)
    rgb, grey = _rgb(target), np.asarray(Image.open(files / "old.png"), np.float64)[..., None] / 255
    assert rgb.shape == (40, 60, 3)
    assert np.abs(colour.rgb_to_y(rgb) - grey).max() <= 1 / 255  # the luma is kept
    uv = colour.rgb_to_yuv(rgb)[..., 1:]
    assert uv[3, 2, 1] > 0.05 and uv[3, 2, 0] < 0  # red: V up, U down
    assert uv[36, 57, 0] > 0.05  # blue: U up


def test_levin_on_a_folder_colours_each_image_in_it(files, capsys):
    scans = files / "scans"
    scans.mkdir()
    for name in ("b.png", "a.png"):
        (scans / name).write_bytes((files / "old.png").read_bytes())
    out = files / "out"
    assert cli.main([str(scans), "--model", "levin", "--hints", str(files / "hints.json"), "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out / "a.levin.png"), str(out / "b.levin.png")]
    assert _rgb(out / "a.levin.png").tobytes() == _rgb(out / "b.levin.png").tobytes()  # the same photo, the same hints
    assert colour.rgb_to_yuv(_rgb(out / "a.levin.png"))[3, 2, 2] > 0.05  # the red hint: V up


def test_welsh_with_reference(files):
    out = files / "out"
    code = cli.main(["colourise", str(files / "old.png"), "--model", "welsh", "--reference", str(files / "ref.png"),
                     "--out", str(out)])
    assert code == 0
    rgb = _rgb(out / "old.welsh.png")
    grey = np.asarray(Image.open(files / "old.png"), np.float64)[..., None] / 255
    assert np.abs(colour.rgb_to_y(rgb) - grey).max() <= 1 / 255
    assert np.abs(colour.rgb_to_yuv(rgb)[..., 1:]).mean() > 0.02  # coloured, not grey


@pytest.mark.parametrize("args, message", [
    (["--model", "levin"], "--model levin needs --hints HINTS.json"),
    (["--model", "welsh"], "--model welsh needs --reference REF.jpg"),
    (["--model", "welsh", "--reference", "{d}/grey_ref.png"], "the reference grey_ref.png is greyscale: there is no colour to transfer"),
    (["--model", "welsh", "--reference", "{d}/nowhere.jpg"], "nowhere.jpg"),
    (["--model", "welsh", "--reference", "{d}/ref.png", "--hints", "{d}/hints.json"], "--hints is not used by --model welsh"),
    (["--model", "levin", "--hints", "{d}/hints.json", "--reference", "{d}/ref.png"], "--reference is used only by --model welsh"),
    (["--model", "cnn", "--hints", "{d}/hints.json"], "the cnn model takes no hints; use a model that does (unet, or levin"),
    (["--model", "levin", "--hints", "{d}/nope.json"], "hints file nope.json not found"),
    (["--model", "levin", "--hints", "{d}/bad.json"], "hints file bad.json is not JSON"),
])
def test_bad_arguments_name_the_problem(files, capsys, args, message):
    (files / "bad.json").write_text('{"points": [{"x": 1,}]}')
    code = cli.main(["colourise", str(files / "old.png"), "--out", str(files / "out")] + [a.format(d=files) for a in args])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (files / "out").exists()  # nothing half-written


def test_reference_too_large(files, make_large_png, capsys):
    bomb = make_large_png(20000, 20000, "huge.png")
    code = cli.main(["colourise", str(files / "old.png"), "--model", "welsh", "--reference", str(bomb)])
    assert code == 2
    err = capsys.readouterr().err
    assert "huge.png" in err and "400,000,000" in err and "100,000,000" in err


def test_hints_outside_one_image_others_still_done(files, capsys):
    Image.fromarray(_photo(20, 30)).save(files / "small.png")  # 30x20: the blue hint (57, 36) is outside
    code = cli.main(["colourise", str(files / "small.png"), str(files / "old.png"), "--model", "levin",
                     "--hints", str(files / "hints.json"), "--out", str(files / "out")])
    assert code == 1
    err = capsys.readouterr().err
    assert "error: small.png: hints file hints.json: point 2 (x=57, y=36) is outside the 30x20 image" in err
    assert sorted(p.name for p in (files / "out").iterdir()) == ["colourise-names.json", "old.levin.png"]
    # a second run keeps the existing output unless told otherwise
    assert cli.main(["colourise", str(files / "old.png"), "--model", "levin", "--hints", str(files / "hints.json"),
                     "--out", str(files / "out")]) == 1
    assert "not overwriting" in capsys.readouterr().err
    assert cli.main(["colourise", str(files / "old.png"), "--model", "levin", "--hints", str(files / "hints.json"),
                     "--out", str(files / "out"), "--skip-existing"]) == 0
