"""End to end: `streamlit run serve.py` (the README's entry; one test also `app.py`) in a subprocess, driven by a real headless Chromium.

Debian's chromium (`apt-get install -y chromium` gives /usr/bin/chromium) through Playwright for
Python (`pip install playwright`; no `playwright install`, which downloads browsers); chromium is
found by name on PATH. Skipped when either is missing, unless the CI environment variable is set:
in CI `test_browser_and_playwright_are_there` fails instead.
Screenshots go to pytest's tmp folder and, when E2E_SCREENSHOT_DIR is set, there too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from app_fixtures import AppServer, browser_missing, colour_png, launch_chromium, make_tiny_weights, skip_module_without_browser

MISSING = browser_missing()
skip_module_without_browser(MISSING)
if "playwright" not in MISSING:
    from playwright.sync_api import sync_playwright


def test_browser_and_playwright_are_there():
    """In CI (CI set) a missing browser or Playwright is a failure, never a silent skip."""
    assert not MISSING, f"end-to-end browser test needs {', '.join(MISSING)} (chromium is looked up on PATH)"

RESULT_TIMEOUT_MS = 180_000  # a cold server imports TensorFlow and builds three models
PAGES = {"compare": "", "diversity": "diversity", "shape_set": "shape_set", "retrain": "retrain",
         "ill_posed": "ill_posed"}
TITLES = {"compare": "Compare the dissertation's CNN, CGAN and CVAE with a U-Net", "diversity": "CVAE diversity", "shape_set": "Shape Set",
          "retrain": "Retrain", "ill_posed": "Why is colourisation ill-posed?"}


def app_env(tmp_path_factory, root: Path) -> dict:
    weights = make_tiny_weights(tmp_path_factory.getbasetemp() / "tiny_weights")  # shared with test_app.py
    return {"COLOURISE_WEIGHTS_DIR": str(weights), "COLOURISE_APP_RUNS_DIR": str(root / "runs")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    with AppServer(app_env(tmp_path_factory, root), log=root / "server.log") as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def save_screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("E2E_SCREENSHOT_DIR"):
        target = Path(os.environ["E2E_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / path.name)
    return path


def wait_idle(page, timeout: float = RESULT_TIMEOUT_MS) -> None:
    """Until the app's script run has finished (Streamlit marks its root element)."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout)


def test_upload_a_photo_on_compare_shows_three_results(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(server.url)
    page.get_by_role("heading", name=TITLES["compare"]).wait_for(timeout=RESULT_TIMEOUT_MS)
    page.get_by_role("radiogroup").get_by_text("Upload", exact=True).click()
    page.get_by_text("Upload an image, or pick a sample from the gallery.").wait_for(timeout=RESULT_TIMEOUT_MS)
    wait_idle(page)  # the uploader is drawn by a finished run: a later run would drop the file
    photo = tmp_path / "photo.png"
    photo.write_bytes(colour_png((120, 160)))
    page.locator("input[type=file]").first.set_input_files(str(photo))
    for model in ("CNN", "CGAN", "CVAE"):
        page.get_by_text(re.compile(rf"^{model} · \d+\.\d\d s$")).wait_for(timeout=RESULT_TIMEOUT_MS)
    page.get_by_text("Original", exact=True).wait_for()
    wait_idle(page)
    assert page.get_by_text(re.compile(r"PSNR .* dB")).count() == 4  # baseline + three models
    assert page.locator('[data-testid="stException"]').count() == 0
    shot = save_screenshot(page, tmp_path, "compare-upload")
    assert shot.stat().st_size > 10_000
    page.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders(server, browser, tmp_path, name):
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{server.url}/{PAGES[name]}")
    page.get_by_role("heading", name=TITLES[name]).wait_for(timeout=RESULT_TIMEOUT_MS)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_text("Weights", exact=True).first.wait_for(timeout=30_000)  # the shared sidebar frame
    save_screenshot(page, tmp_path, f"page-{name}")
    page.close()


def test_served_entry_preloads_compares_models_before_the_first_visit(tmp_path_factory, browser, tmp_path):
    """`streamlit run serve.py` loads the first page's models at server start (its lifespan hook);
    the first visit then shows Compare's three results from those models."""
    import time

    root = tmp_path_factory.mktemp("e2e_preload")
    log = root / "server.log"
    with AppServer(app_env(tmp_path_factory, root), log=log, script="serve.py") as srv:
        end = time.monotonic() + 240
        while "colourise: preloaded" not in log.read_text() and time.monotonic() < end:
            time.sleep(0.5)
        line = next(x for x in log.read_text().splitlines() if x.startswith("colourise: preloaded"))
        assert line.startswith("colourise: preloaded cnn (imagenette), cgan (imagenette), cvae (imagenette) with keras")
        assert "failed" not in line
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(srv.url)
        for model in ("CNN", "CGAN", "CVAE"):  # the gallery's first sample, colourised on arrival
            page.get_by_text(re.compile(rf"^{model} · \d+\.\d\d s$")).wait_for(timeout=RESULT_TIMEOUT_MS)
        wait_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        save_screenshot(page, tmp_path, "served-first-visit")
        page.close()


@pytest.mark.parametrize("entry", ["serve.py", "app.py"])
def test_first_visit_after_start_to_a_page_url_goes_through_app_py(tmp_path_factory, browser, tmp_path, entry):
    """The first run of a fresh server opened at /retrain still gets app.py's frame and navigation,
    served by the st.App entry (serve.py) or the plain script."""
    root = tmp_path_factory.mktemp("e2e_fresh")
    with AppServer(app_env(tmp_path_factory, root), log=root / "server.log", script=entry) as srv:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(f"{srv.url}/retrain")
        page.get_by_role("heading", name=TITLES["retrain"]).wait_for(timeout=RESULT_TIMEOUT_MS)
        wait_idle(page)
        nav = page.locator('[data-testid="stSidebarNav"]')
        assert nav.get_by_text("Why is it ill-posed?", exact=True).count() == 1  # st.navigation's titles
        assert nav.get_by_text("app", exact=True).count() == 0  # not the pages-folder listing
        page.get_by_text("Weights", exact=True).first.wait_for(timeout=30_000)  # the sidebar frame
        save_screenshot(page, tmp_path, "first-visit-retrain")
        page.close()


# --- each page's main flow, as a person would do it (the server above: tiny 32 px weights) ---

def open_page(browser, server, path: str, title: str, height: int = 2000):
    """A new tab at the app's `path`, once its title heading shows."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(f"{server.url}/{path}")
    page.get_by_role("heading", name=title).wait_for(timeout=RESULT_TIMEOUT_MS)
    return page


def slider_step(page, label: str, presses: int = 1) -> None:
    """Move the slider labelled `label` by `presses` steps to the right with the keyboard."""
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text=label).get_by_role("slider")
    thumb.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")


def set_number(page, label: str, value: int) -> None:
    """Type `value` into the number input labelled `label` and commit it (Enter reruns the script)."""
    box = page.locator('[data-testid="stNumberInput"]').filter(has_text=label).locator("input")
    box.fill(str(value))
    box.press("Enter")


def test_retrain_trains_a_run_and_downloads_it(server, browser, tmp_path):
    """Retrain: the default Shape Set CNN, 1 epoch on 16 images, then the run's .zip holds a loadable run."""
    import io
    import zipfile

    page = open_page(browser, server, "retrain", "Retrain", height=2000)
    wait_idle(page)
    set_number(page, "Training images", 16)
    wait_idle(page)
    set_number(page, "Validation images", 8)
    wait_idle(page)
    set_number(page, "Epochs", 1)
    wait_idle(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"is ready \(1 epoch\(s\)")).wait_for(timeout=RESULT_TIMEOUT_MS)
    wait_idle(page)
    with page.expect_download(timeout=RESULT_TIMEOUT_MS) as info:
        page.get_by_role("button", name="Download .zip").first.click()
    data = Path(info.value.path()).read_bytes()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert any(n.endswith("spec.json") for n in names) and any(n.endswith(".weights.h5") for n in names), names
    spec = json.loads(zipfile.ZipFile(io.BytesIO(data)).read(next(n for n in names if n.endswith("spec.json"))))
    assert spec["model"] == "cnn", spec
    assert page.locator('[data-testid="stException"]').count() == 0
    save_screenshot(page, tmp_path, "retrain-flow")
    page.close()


def test_diversity_shows_as_many_samples_as_asked(server, browser, tmp_path):
    """Diversity: the default 8 samples, then one step of the samples slider gives 9 sample images."""
    page = open_page(browser, server, "diversity", "CVAE diversity", height=2400)
    page.get_by_text(re.compile(r"^8 samples at temperature 1")).wait_for(timeout=RESULT_TIMEOUT_MS)
    wait_idle(page)
    samples = page.locator('[data-testid="stImage"]').filter(has_text=re.compile(r"^Sample \d+"))
    assert samples.count() == 8
    slider_step(page, "Number of samples")
    page.get_by_text(re.compile(r"^9 samples at temperature 1")).wait_for(timeout=RESULT_TIMEOUT_MS)
    wait_idle(page)
    assert samples.count() == 9
    assert page.get_by_text(re.compile(r"^Spread of these samples")).count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    save_screenshot(page, tmp_path, "diversity-flow")
    page.close()


def test_ill_posed_rotating_the_chroma_changes_the_colours_not_the_grey(server, browser, tmp_path):
    """The lesson's part 2: moving the rotation slider changes the rotated image; the luma check stays tiny."""
    page = open_page(browser, server, "ill_posed", "Why is colourisation ill-posed?", height=2400)
    rotated = page.locator('[data-testid="stImage"]').filter(has_text="Chroma rotated 120 deg").locator("img")
    rotated.wait_for(timeout=RESULT_TIMEOUT_MS)
    wait_idle(page)
    before = rotated.screenshot()
    slider_step(page, "Rotate the chroma by", presses=60)
    after = page.locator('[data-testid="stImage"]').filter(has_text="Chroma rotated 180 deg").locator("img")
    after.wait_for(timeout=RESULT_TIMEOUT_MS)
    wait_idle(page)
    assert after.screenshot() != before
    diff = page.get_by_text(re.compile(r"^Max luma difference between these four greys: ")).inner_text()
    assert float(re.search(r"greys: ([0-9.e+-]+)", diff).group(1)) < 1 / 255, diff
    assert page.locator('[data-testid="stException"]').count() == 0
    save_screenshot(page, tmp_path, "ill-posed-flow")
    page.close()


def test_shape_set_a_new_seed_colours_a_new_image(server, browser, tmp_path):
    """Shape Set: each model's colouring with its hue accuracy; another seed gives another image."""
    page = open_page(browser, server, "shape_set", "Shape Set", height=2000)
    cnn = page.locator('[data-testid="stImage"]').filter(has_text=re.compile(r"CNN · hue accuracy \d+%")).locator("img")
    cnn.wait_for(timeout=RESULT_TIMEOUT_MS)
    wait_idle(page)
    grey = page.locator('[data-testid="stImage"]').filter(has_text="Grey input").locator("img")
    before, src = grey.screenshot(), grey.get_attribute("src")  # media URLs are named by the image's hash
    set_number(page, "Seed", 7)
    page.wait_for_function("s => [...document.querySelectorAll('[data-testid=\"stImage\"] img')].every(i => i.src !== s)",
                           arg=src, timeout=RESULT_TIMEOUT_MS)
    wait_idle(page)
    assert grey.screenshot() != before
    assert page.get_by_text(re.compile(r"hue accuracy \d+%")).count() >= 2
    assert page.locator('[data-testid="stException"]').count() == 0
    save_screenshot(page, tmp_path, "shape-set-flow")
    page.close()
