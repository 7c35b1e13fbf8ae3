"""`python -m colourise_core reproduce --quick`: the report, its tables and figures, resuming.

One quick run (tiny Shape Set training, the shipped weights where present) is shared by the
tests of this module; it takes one to two minutes on a 2-core CPU.
"""

from __future__ import annotations

import json
import subprocess
import re
from pathlib import Path

import pytest
from PIL import Image

from colourise_core import cli, reproduce
from colourise_core.reproduce import families, report
from colourise_core.reproduce.common import DEFAULT_DATA_DIR

REPO = Path(__file__).resolve().parents[1]
IMAGENETTE = DEFAULT_DATA_DIR / "imagenette-128.zip"
NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[-+]?\d+)?x?$")
DURATION = re.compile(r"^\d+(\.\d+)? s|^\d+ min \d+ s|^\d+ h \d+ min")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """Run the quick report once: {"out": folder, "work": run folders, "report": text}."""
    root = tmp_path_factory.mktemp("reproduce")
    out, work = root / "out", root / "work"
    code = cli.main(["reproduce", "--quick", "--out", str(out), "--work-dir", str(work)])
    assert code == 0
    return {"out": out, "work": work, "report": (out / "report.md").read_text()}


def _tables(markdown: str) -> list[list[list[str]]]:
    """Every Markdown table as rows of cells (header first, the --- line dropped)."""
    tables, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-"} for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _table_after(markdown: str, heading: str) -> list[list[str]]:
    return _tables(markdown[markdown.index(heading):])[0]


def _column(table: list[list[str]], name: str) -> list[str]:
    k = table[0].index(name)
    return [row[k] for row in table[1:]]


def test_report_names_the_commit_it_was_written_at(quick):
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    first = quick["report"].split("\n\n")[1]
    assert f"written from commit {head} (" in first and "the hardware section last ran at commit" in first


def test_report_has_every_section(quick):
    text = quick["report"]
    for heading in ("## Hardware", "Table 4.1 (CNN)", "Table 4.2 (CVAE)", "## Table 5.1", "## Figure 5.1",
                    "## Figure 5.2", "## Figures 5.3-5.5", "## Figure 5.6", "## Metrics on held-out images"):
        assert heading in text, heading
    assert "Intel" in text or "AMD" in text or "cores usable" in text  # the hardware is named


def test_batch_size_tables_have_measured_numbers(quick):
    for heading, paper in (("### Table 4.1 (CNN)", reproduce.TABLE_4_1), ("### Table 4.2 (CVAE)", reproduce.TABLE_4_2)):
        table = _table_after(quick["report"], heading)
        sizes = [int(c) for c in _column(table, "batch size")]
        assert set(reproduce.QUICK.sweep_batch_sizes) | {p[0] for p in paper} == set(sizes)
        measured = {int(b): row for b, row in zip(_column(table, "batch size"), table[1:])}
        for bs in reproduce.QUICK.sweep_batch_sizes:
            row = dict(zip(table[0], measured[bs]))
            assert NUMBER.match(row["here: final train loss"]), row
            assert NUMBER.match(row["here: final val loss"]), row
            assert DURATION.match(row["here: training time"]), row
        for bs, loss, _ in paper:  # the dissertation's own numbers stand beside ours
            assert float(dict(zip(table[0], measured[bs]))["dissertation: loss after 100 epochs"]) == loss


def test_training_time_table_names_the_rule_and_times_each_model(quick):
    text = quick["report"]
    assert "**Stopping rule:**" in text and "early stopping" in text and "fixed budget" in text
    table = _table_after(text, "## Table 5.1")
    assert _column(table, "model") == ["CNN", "CGAN", "CVAE"]
    assert _column(table, "dissertation (Colab GPU)") == ["9 min 41 s", "29 min 54 s", "2 min 45 s"]
    for cell in _column(table, "here: training time") + _column(table, "here: wall time"):
        assert DURATION.match(cell), cell
    for cell in _column(table, "here: s/epoch"):
        assert NUMBER.match(cell), cell


def test_metrics_table_is_numeric_beside_the_grey_baseline(quick):
    table = _table_after(quick["report"], "## Metrics on held-out images")
    models = _column(table, "model")
    assert "grey baseline" in models and "truth" in models
    assert any(m.startswith("CNN") for m in models)
    for row in table[1:]:
        if row[1] == "truth":
            continue
        for cell in row[2:]:
            assert NUMBER.match(cell), row
    metrics = json.loads((quick["out"] / "data" / "metrics.json").read_text())
    for entry in metrics["sets"].values():
        assert entry["baseline"]["colourfulness"] == 0.0  # the grey image has no colour
        if "cvae" in entry["models"]:
            samples = entry["models"]["cvae"]["samples"]
            assert set(samples) >= {"0.5", "1.0", "2.0", "n", "mean_uv_mse"}


def test_every_figure_exists_decodes_and_is_small(quick):
    out = quick["out"]
    paths = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", quick["report"])
    assert "figures/fig5_1_learning_curves.png" in paths
    # Figure 5.6 shows the shipped frog CVAE on CIFAR-10 test frogs: drawn whenever that archive is here
    # (the figure without it is checked in test_quick_falls_back_to_models_trained_here_without_weights).
    diversity = "figures/fig5_6_cvae_diversity.png"
    if (DEFAULT_DATA_DIR / "cifar10.zip").is_file():
        assert diversity in paths and (out / diversity).is_file()
        written = json.loads((out / "data" / "diversity.json").read_text())
        assert written["figure"] == diversity and written["sets"] == ["cifar10-frog-diverse"]
    else:
        assert diversity not in paths and "Not available: no CVAE weights" in quick["report"]
    for rel in paths:
        path = out / rel
        assert path.is_file(), rel
        with Image.open(path) as im:
            assert im.format == "PNG"
            im.load()  # decodes every pixel
            assert im.width > 50 and im.height > 50
        assert path.stat().st_size < 1_000_000, rel
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert total < 3_000_000


def test_128px_diversity_section_measures_the_shipped_cvaes_on_faces(quick):
    """Figure 5.6 at 128 px (issue 12): in --quick, faces test only, a few images and samples."""
    import numpy as np

    from colourise_core import diversity, weights
    from colourise_core.data import load_dataset
    from colourise_core.reproduce import diversity128

    text = quick["report"]
    assert "## Figure 5.6 at 128 px" in text
    archive = DEFAULT_DATA_DIR / "faces-128.zip"
    if not (archive.is_file() and (REPO / "weights" / "faces" / "cvae.weights.h5").is_file()):
        assert "Not available: no 128 px CVAE weights" in text
        return
    data = json.loads((quick["out"] / "data" / "diversity128.json").read_text())
    assert list(data["datasets"]) == ["faces"]
    d, s = data["datasets"]["faces"], diversity128.QUICK
    assert (d["n"], d["samples"], d["split"]) == (s.images, s.samples, "test")
    for name, m in d["models"].items():
        assert 0 < m["best_uv_mse"] <= m["single_uv_mse"]  # the best sample is no worse than the average one
        assert m["best_over_single"] == pytest.approx(m["best_uv_mse"] / m["single_uv_mse"])
        assert m["checks"] == diversity.checks(m)
        assert [c["temperature"] for c in m["curve"]] == list(s.curve)
    w1 = d["models"]["faces"]
    assert (w1["components"], w1["recon_weight"]) == (1, 1.0)
    assert w1["curve"][0]["spread"] == 0.0  # T=0: the dissertation's CVAE decodes its mean, all samples alike
    # the stored figures are those of the shipped weights on the held-out faces
    true = load_dataset("faces", data=str(archive), split="test", resolution=128, limit=s.images, seed=0).load_all()
    direct = diversity.measure(diversity.sample_rgb(weights.load_pretrained("cvae", "faces"), true, s.samples, 1.0, 0), true)
    assert w1["spread"] == pytest.approx(direct["spread"], rel=1e-5)
    assert w1["grey_uv_mse"] == pytest.approx(float(np.mean(true_uv_sq(true))), rel=1e-5)
    if "faces-mdn" in d["models"]:  # shipped: its samples differ by far more than the W = 1 CVAE's
        mdn = d["models"]["faces-mdn"]
        assert mdn["components"] == 8 and mdn["spread"] > 10 * w1["spread"]
    table = _table_after(text, "### faces test")
    assert [row[0].split(" ")[0] for row in table[1:]] == list(d["models"])
    for row in table[1:]:
        for cell in row[1:4] + row[5:7]:
            assert NUMBER.match(cell), row
    assert f"![Figure 5.6 at 128 px, faces]({diversity128.figure_path('faces')})" in text


def true_uv_sq(rgb):
    """Per-image mean squared UV of the truth: the grey baseline's UV MSE."""
    from colourise_core import colour

    return (colour.rgb_to_yuv(rgb)[..., 1:] ** 2).mean(axis=(1, 2, 3))


def test_second_run_resumes_without_training_again(quick):
    out, work = quick["out"], quick["work"]
    states = sorted(work.rglob("state.json"))
    ablations = len(families.ABLATIONS) if IMAGENETTE.is_file() else 0  # the families section's runs
    assert len(states) == 3 + 2 * len(reproduce.QUICK.sweep_batch_sizes) + ablations  # 3 timing runs, 2 x N sweep rows
    before = {p: p.stat().st_mtime_ns for p in states}
    cached = {name: (out / "data" / f"{name}.json").read_text() for name in ("timing", "sweep")}
    code = cli.main(["reproduce", "--quick", "--out", str(out), "--work-dir", str(work), "--sections", "timing", "sweep"])
    assert code == 0
    assert {p: p.stat().st_mtime_ns for p in states} == before  # no run folder was touched
    for name, text in cached.items():
        assert json.loads((out / "data" / f"{name}.json").read_text()) == json.loads(text)


def test_quick_falls_back_to_models_trained_here_without_weights(quick, tmp_path):
    empty = tmp_path / "no-weights"
    empty.mkdir()
    out = tmp_path / "out"
    code = cli.main(["reproduce", "--quick", "--out", str(out), "--work-dir", str(quick["work"]),
                     "--weights-dir", str(empty), "--sections", "shapes", "grids", "diversity"])
    assert code == 0
    shapes = json.loads((out / "data" / "shapes.json").read_text())
    assert set(shapes["origin"].values()) == {"trained here (quick)"}
    assert 0.0 <= shapes["hue_accuracy"]["cnn"] <= 1.0
    assert shapes["hue_accuracy"]["truth"] > 0.95  # the true colours have the shapes' hues
    text = (out / "report.md").read_text()
    assert "no usable weights manifest" in text
    assert "Not available: the weights" in text  # no grids without weights
    # Figure 5.6 from the Shape Set CVAE trained here (no archive needed): the writer must draw it
    diversity = json.loads((out / "data" / "diversity.json").read_text())
    assert diversity["sets"] == ["shapes"] and diversity["figure"] == "figures/fig5_6_cvae_diversity.png"
    assert "![Figure 5.6](figures/fig5_6_cvae_diversity.png)" in text
    with Image.open(out / diversity["figure"]) as im:
        im.load()
        assert im.width > 50 and im.height > 50


def test_families_section_compares_the_shipped_families_beside_grey(quick):
    """Issue 10: the families on the same Shape Set images, with hue accuracy; the shipped CNN colours
    the shapes (94% on its test split), the shipped CGAN does not (3%)."""
    data = json.loads((quick["out"] / "data" / "families.json").read_text())
    shapes = data["splits"]["shapes"]
    assert shapes["n"] == reproduce.QUICK.families_shapes and shapes["split"] == "test"
    rows = shapes["models"]
    assert {"cnn", "cgan", "cvae", "unet"} <= set(rows)  # the four families, all from the `shapes` set
    assert rows["cnn"]["hue_accuracy"] > 0.7 and rows["cgan"]["hue_accuracy"] < 0.2
    assert rows["unet"]["hue_accuracy"] > 0.95 and rows["unet"]["uv_mse"] < rows["cnn"]["uv_mse"]  # 99.8% on 1,000
    # the conditional CGAN (`shapes-pix2pix`, 98% on 1,000) beside the dissertation's, on the same images
    assert rows["cgan-pix2pix"]["set"] == "shapes-pix2pix" and rows["cgan-pix2pix"]["hue_accuracy"] > 0.85
    base = rows["cnn"]["baseline"]
    assert base["colourfulness"] == 0.0 and rows["cnn"]["uv_mse"] < 0.5 * base["uv_mse"]
    assert all(r["baseline"] == base for r in rows.values())  # the same images for every family
    table = _table_after(quick["report"], "### shapes")
    names = _column(table, "model (weight set)")
    assert names[0] == "grey baseline" and names[-1] == "truth" and "CNN (dissertation) (`shapes`)" in names
    assert names.index("CGAN, conditional D + L1 (pix2pix) (`shapes-pix2pix`)") == len(names) - 2  # after the families
    cnn = dict(zip(table[0], table[names.index("CNN (dissertation) (`shapes`)") + 1]))
    assert float(cnn["hue accuracy ↑"]) == pytest.approx(rows["cnn"]["hue_accuracy"], rel=1e-3)
    assert float(cnn["UV MSE / grey's"].rstrip("x")) == pytest.approx(rows["cnn"]["uv_mse"] / base["uv_mse"], abs=0.006)


@pytest.mark.skipif(not IMAGENETTE.is_file(), reason="the ablations train on ../shared/datasets/imagenette-128.zip")
def test_ablation_runs_differ_only_in_their_option_and_are_reported_beside_grey(quick):
    data = json.loads((quick["out"] / "data" / "families.json").read_text())
    runs = data["ablations"]["runs"]
    assert list(runs) == list(families.ABLATIONS)
    configs = {}
    for name in runs:
        folder = next(p for p in (quick["work"] / "families").iterdir() if p.name == families._run_name(name))
        configs[name] = json.loads((folder / "train_config.json").read_text())
        assert json.loads((folder / "state.json").read_text())["epoch"] == reproduce.QUICK.ablation_epochs
    base = configs["unet"]
    assert configs["unet, no rebalancing"] == {**base, "rebalance": 1.0}
    assert configs["unet + global features"] == {**base, "model_config": {"global_classes": 10}}  # Imagenette's 10
    cgan = configs["cgan"]
    assert configs["cgan, conditional D + L1 100"] == {**cgan, "conditional_discriminator": True, "l1_weight": 100.0}
    shared = ("dataset", "data", "resolution", "limit", "epochs", "steps_per_epoch", "batch_size", "val_limit", "seed")
    assert {k: cgan[k] for k in shared} == {k: base[k] for k in shared}  # same data, steps and seed
    grey = runs["unet"]["baseline"]
    assert all(r["baseline"] == grey and r["n"] == reproduce.QUICK.ablation_eval for r in runs.values())
    assert runs["unet"]["uv_mse"] != runs["unet, no rebalancing"]["uv_mse"]  # the option reached the run
    table = _table_after(quick["report"], "## Ablations")
    assert _column(table, "run") == ["grey baseline", *families.ABLATIONS, "truth"]
    for row in table[1:-1]:
        assert all(NUMBER.match(c) for c in row[1:7]), row
    assert "- global features on vs off: PSNR" in quick["report"]
    assert "--model-config '{\"global_classes\": 10}'" in quick["report"]


def test_unknown_section_is_refused(tmp_path, capsys):
    assert cli.main(["reproduce", "--quick", "--out", str(tmp_path), "--sections", "tables"]) == 2
    assert "unknown section" in capsys.readouterr().err


def test_durations_are_written_as_the_dissertation_does():
    assert report.duration(9 * 60 + 41) == "9 min 41 s"
    assert report.duration(41.24) == "41.2 s"
    assert report.duration(3 * 3600 + 125) == "3 h 2 min"
    assert report.duration(None) == "–"


def test_markdown_cells_and_tables():
    assert report.cell(0.0038) == "0.0038"
    assert report.cell(1.5e-6) == "1.500e-06"
    assert report.cell(None) == "–"
    assert report.cell("a|b") == "a\\|b"
    assert report.md_table(["a", "b"], [[1, 2.5]]) == "| a | b |\n| --- | --- |\n| 1 | 2.5 |"


def test_chart_and_grid_draw_pngs(tmp_path):
    import numpy as np

    chart = report.line_chart({"train": ([1, 2, 3], [3.0, 2.0, 1.5]), "val": ([1, 2, 3], [3.5, 2.5, float("nan")])},
                              "CNN", dashed=("val",))
    grid = report.image_grid([[np.zeros((8, 8, 3)), None], [np.ones((16, 16, 3)), np.full((4, 4, 3), 0.5)]],
                             ["a", "b"], ["x", "y"], tile=32)
    assert grid.size[1] == 16 + 2 * (32 + 2)  # the header row and two tiles with their gaps
    for name, image in (("chart.png", chart), ("grid.png", grid)):
        path = report.save_png(image, tmp_path / name)
        with Image.open(path) as im:
            im.load()
            assert im.mode == "RGB"


def test_store_redo_recomputes_then_reads_back(tmp_path):
    from colourise_core.reproduce import Store

    Store(tmp_path).save("curves", {"figures": {"here": "a.png"}})
    store = Store(tmp_path, redo=("curves",))
    assert store.load("curves") == {}  # --redo: the section starts afresh ...
    store.save("curves", {"figures": {"here": "b.png"}})
    assert store.load("curves") == {"figures": {"here": "b.png"}}  # ... and the report reads the new result
    assert Store(tmp_path).load("timing") == {}


def test_hints_curve_section_equals_the_library_on_the_same_images(tmp_path):
    """The hints section's numbers are the library's for the same images and points, in the report.

    Its own small data (a photos-extra style archive of colour photos, val split), so a fresh clone
    without ../shared runs it as the dev machine does."""
    import zipfile

    import numpy as np

    from app_fixtures import colour_png
    from colourise_core import guided, metrics
    from colourise_core.reproduce import hints_curve
    from colourise_core.weights import load_pretrained

    data_dir = tmp_path / "datasets"
    data_dir.mkdir()
    with zipfile.ZipFile(data_dir / "photos-extra.zip", "w") as z:
        for i in range(6):
            z.writestr(f"val/sample/photo{i}.png", colour_png((144, 160), seed=i))
            z.writestr(f"train/sample/photo{i}.png", colour_png((144, 160), seed=100 + i))
    out = tmp_path / "out"
    assert cli.main(["reproduce", "--quick", "--sections", "hints", "--data-dir", str(data_dir), "--out", str(out),
                     "--work-dir", str(tmp_path / "work")]) == 0
    data = json.loads((out / "data" / "hints.json").read_text())
    images = hints_curve.load_images(data_dir, reproduce.QUICK.hints_images)
    assert list(images) == ["photos-extra val"] and len(images["photos-extra val"]) == reproduce.QUICK.hints_images
    assert data["ns"] == list(guided.CURVE_NS) and set(data["datasets"]) == set(images)
    assert data["unet"] == "shipped" and list(data["datasets"]["photos-extra val"]["methods"]) == [
        "levin", "unet", "unet-pixel", "unet-trained"]
    label, imgs = next(iter(images.items()))
    got = data["datasets"][label]["methods"]
    k = guided.CURVE_NS.index(10)
    unet = load_pretrained("unet", hints_curve.UNET_SET, weights_dir=REPO / "weights")
    for name, fn in (("levin", guided.levin_true_hints), ("unet", guided.unet_true_hints(unet, "user"))):
        want = np.mean([metrics.psnr(fn(rgb, 10, max(guided.CURVE_NS), i), rgb) for i, rgb in enumerate(imgs)])
        assert got[name]["psnr"][k] == pytest.approx(want, abs=1e-9)  # the first 10 of image i's 100 points
    text = (out / "report.md").read_text()
    assert "## Hints curve" in text and "![hints curve](figures/hints_curve.png)" in text
    table = _table_after(text, f"### {label}")
    assert _column(table, "N") == [str(n) for n in guided.CURVE_NS]
    assert _column(table, "levin PSNR (dB)")[k] == report.cell(got["levin"]["psnr"][k])
    assert _column(table, "unet PSNR (dB)")[k] == report.cell(got["unet"]["psnr"][k])
    assert f"{label}, unet at N=10: {got['unet']['psnr'][k]:.2f} dB; Levin {got['levin']['psnr'][k]:.2f} dB" in text
    with Image.open(out / "figures" / "hints_curve.png") as im:
        im.load()
        assert im.width > 800 and im.height > 200
