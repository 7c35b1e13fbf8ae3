import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colourise_core import cli, colour

REPO = Path(__file__).resolve().parents[1]


def _gradient(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx / w, yy / h, 0.5 + 0.4 * np.sin((xx + yy) / 40)], -1)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    Image.fromarray(_gradient(667, 1001)).save(d / "wide.jpg", quality=90)  # 1001x667 JPEG
    Image.fromarray(_gradient(1001, 67)).convert("L").save(d / "tall.png")  # 67x1001 PNG
    return d


def _luma(path):
    return colour.rgb_to_y(np.asarray(Image.open(path).convert("RGB"), np.float64) / 255.0)


@pytest.mark.parametrize("name", ["cnn", "cgan", "cvae"])
def test_colourise_sizes_and_luma(tiny_runs, photos, tmp_path, name, capsys):
    code = cli.main(["colourise", str(photos / "wide.jpg"), str(photos / "tall.png"), "--model", name,
                     "--weights", str(tiny_runs[name]), "--out", str(tmp_path)])
    assert code == 0
    for stem, size in (("wide", (1001, 667)), ("tall", (67, 1001))):
        out = tmp_path / f"{stem}.{name}.png"
        assert Image.open(out).size == size
        assert np.abs(_luma(out) - _luma(photos / f"{stem}{'.jpg' if stem == 'wide' else '.png'}")).max() <= 1 / 255


def test_cvae_samples_named(tiny_runs, photos, tmp_path):
    code = cli.main(["colourise", str(photos / "tall.png"), "--model", "cvae", "--weights", str(tiny_runs["cvae"]),
                     "--samples", "3", "--temperature", "1.0", "--seed", "3", "--out", str(tmp_path)])
    assert code == 0
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [f"tall.cvae.{i}.png" for i in range(3)]


def test_bad_inputs_reported_and_others_still_written(tiny_runs, photos, tmp_path, make_large_png, capsys):
    (tmp_path / "in").mkdir()
    text = tmp_path / "in" / "notes.jpg"
    text.write_text("not an image")
    empty = tmp_path / "in" / "empty.png"
    empty.write_bytes(b"")
    jpeg = (photos / "wide.jpg").read_bytes()
    truncated = tmp_path / "in" / "cut.jpg"
    truncated.write_bytes(jpeg[: len(jpeg) // 2])
    bomb = make_large_png(20000, 20000, "bomb.png")
    out = tmp_path / "out"
    code = cli.main(["colourise", str(text), str(empty), str(truncated), str(bomb), str(photos / "tall.png"),
                     "--weights", str(tiny_runs["cnn"]), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "notes.jpg is not an image" in err
    assert "empty.png is empty (0 bytes)" in err
    assert "cut.jpg is truncated or corrupt" in err
    assert "too large to decode safely" in err and "400,000,000 pixels" in err
    assert sorted(p.name for p in out.iterdir()) == ["colourise-names.json", "tall.cnn.png"]  # nothing half-written


def test_missing_weights_message(tmp_path, capsys):
    code = cli.main(["colourise", "x.jpg", "--weights", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert code == 2
    assert "error:" in capsys.readouterr().err


def test_evaluate_prints_json_beside_baseline(tiny_runs, capsys):
    code = cli.main(["evaluate", "--model", "cnn", "--weights", str(tiny_runs["cnn"]), "--dataset", "shapes",
                     "--limit", "16"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 16 and {"uv_mse", "psnr", "colourfulness"} <= set(out) <= set(out) | {"baseline"}
    assert out["baseline"]["colourfulness"] == 0.0 and out["baseline"]["uv_mse"] > 0


def test_module_entry_point(tiny_runs, photos, tmp_path):
    done = subprocess.run([sys.executable, "-m", "colourise_core", "colourise", str(photos / "tall.png"), "--model", "cnn",
                           "--weights", str(tiny_runs["cnn"]), "--out", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Image.open(tmp_path / "tall.cnn.png").size == (67, 1001)


def test_default_weights_work_offline(photos, tmp_path):
    """`colourise photo.jpg` with no --weights uses the shipped imagenette set, with the Hub unreachable."""
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-m", "colourise_core", "colourise", str(photos / "wide.jpg"),
                           "--out", str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "wide.cnn.png"
    assert Image.open(out).size == (1001, 667)
    assert np.abs(_luma(out) - _luma(photos / "wide.jpg")).max() <= 1 / 255
