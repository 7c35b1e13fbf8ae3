"""Load test of the app: N concurrent browser sessions colourising a photo on Compare.

Starts `streamlit run serve.py` on 127.0.0.1 (the shipped weights, a private runs folder), warms it
up with one small photo (models loaded: the "idle" size), then opens N headless chromium tabs at
once (Playwright with Debian's /usr/bin/chromium), each uploading a generated photo on Compare
and waiting for the three results. It samples the server's resident memory (/proc VmRSS) every
0.2 s and prints: idle RSS, peak RSS during the sessions, per-session latency, and after the
tabs close, how long until RSS is back within 500 MB of idle (and RSS at the end of the wait).

    python benchmarks/load_test.py --sessions 8 --megapixels 24 [--wait 60] [--timeout 900]

Targets (issue 11): 8 sessions x 24 MP all succeed, peak < 4 GB, back within 500 MB of idle
within 60 s of closing. Bounded: N <= 16, every wait has a timeout, the server is always stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
MB = 1024**2


def make_photo(path: Path, megapixels: float, seed: int = 0) -> Path:
    """A colour JPEG of about `megapixels` (3:2), smooth gradients plus texture, quality 90."""
    import cv2

    w = int(round((megapixels * 1e6 * 1.5) ** 0.5))
    h = int(round(w / 1.5))
    small = np.random.default_rng(seed).integers(0, 256, (24, 36, 3), dtype=np.uint8)
    rgb = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)  # smooth colour fields
    noise = np.random.default_rng(seed + 1).integers(-8, 9, (h, 1, 1), dtype=np.int16)
    rgb = np.clip(rgb.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def rss(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of a process in bytes (VmRSS now, VmHWM the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


class Sampler(threading.Thread):
    """Samples a process's RSS every `every` seconds; `peak` since the last reset."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak = self.last = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.last = rss(self.pid)
            except OSError:
                return
            self.peak = max(self.peak, self.last)
            time.sleep(self.every)

    def reset(self):
        self.peak = self.last


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    import urllib.request

    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "serve.py"), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the app did not start; see {log}")


async def session(browser, url: str, photo: Path, timeout_ms: int) -> dict:
    """One tab: upload `photo` on Compare, wait for the three results; returns timings."""
    start = time.perf_counter()
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    try:
        await page.goto(url, timeout=timeout_ms)
        await page.get_by_role("radiogroup").get_by_text("Upload", exact=True).click(timeout=timeout_ms)
        await page.locator("input[type=file]").first.set_input_files(str(photo), timeout=timeout_ms)
        uploaded = time.perf_counter()
        waited = False
        for model in ("CNN", "CGAN", "CVAE"):
            result = page.get_by_text(re.compile(rf"^{model} · \d+\.\d\d s$"))
            while True:  # poll, so a "waiting" note shown meanwhile is seen
                waited = waited or await page.get_by_text("Waiting for a free slot").count() > 0
                if await result.count() > 0:
                    break
                if time.perf_counter() - uploaded > timeout_ms / 1000:
                    raise TimeoutError(f"no {model} result after {timeout_ms / 1000:.0f} s")
                await page.wait_for_timeout(250)
        done = time.perf_counter()
        return {"ok": True, "seconds": done - start, "after_upload": done - uploaded, "saw_wait_note": waited}
    except Exception as e:  # noqa: BLE001 - reported per session
        return {"ok": False, "seconds": time.perf_counter() - start, "error": str(e).splitlines()[0][:200]}
    finally:
        await context.close()


def run_wave(url, photo, n, timeout_ms) -> list[dict]:
    """n tabs of one headless chromium at once (Playwright's async API)."""
    import asyncio

    from playwright.async_api import async_playwright

    async def wave():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                return await asyncio.gather(*(session(browser, url, photo, timeout_ms) for _ in range(n)))
            finally:
                await browser.close()

    return asyncio.run(wave())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=8, choices=range(1, 17), metavar="1..16")
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1.0, 24.0])
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for memory to come back")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per session")
    parser.add_argument("--env", nargs="*", default=[], help="extra KEY=VALUE for the server")
    args = parser.parse_args(argv)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))  # a `timeout` still stops the server and reports

    work = Path(tempfile.mkdtemp(prefix="colourise-load-"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "COLOURISE_APP_RUNS_DIR": str(work / "runs"), **dict(kv.split("=", 1) for kv in args.env)}
    proc, url = start_server(env, work / "server.log")
    sampler = Sampler(proc.pid)
    sampler.start()
    report = {"sessions": args.sessions, "waves": []}
    try:
        warm = make_photo(work / "warm.jpg", 0.05)
        first = run_wave(url, warm, 1, int(args.timeout * 1000))  # loads the three models
        time.sleep(3)
        report["warm_up"] = first[0]
        for mp in args.megapixels:
            photo = make_photo(work / f"photo-{mp:g}mp.jpg", mp)
            idle = rss(proc.pid)
            sampler.reset()
            t0 = time.perf_counter()
            results = run_wave(url, photo, args.sessions, int(args.timeout * 1000))
            wall = time.perf_counter() - t0
            peak = sampler.peak
            closed = time.perf_counter()
            back = None
            while time.perf_counter() - closed < args.wait:
                if rss(proc.pid) <= idle + 500 * MB:
                    back = time.perf_counter() - closed
                    break
                time.sleep(0.5)
            retained = rss(proc.pid)
            ok = [r for r in results if r["ok"]]
            wave = {"megapixels": mp, "photo_bytes": photo.stat().st_size, "idle_mb": round(idle / MB),
                    "peak_mb": round(peak / MB), "retained_mb": round(retained / MB),
                    "back_within_500mb_s": None if back is None else round(back, 1), "wall_s": round(wall, 1),
                    "succeeded": len(ok), "latency_s": sorted(round(r["seconds"], 1) for r in ok),
                    "saw_wait_note": sum(bool(r.get("saw_wait_note")) for r in ok),
                    "errors": [r["error"] for r in results if not r["ok"]]}
            report["waves"].append(wave)
            print(json.dumps(wave), flush=True)
    finally:
        sampler.stop.set()
        report["server_peak_hwm_mb"] = round(rss(proc.pid, "VmHWM") / MB) if proc.poll() is None else None
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(json.dumps(report, indent=2))
    for w in report["waves"]:
        print(f"{w['megapixels']:g} MP x {args.sessions}: {w['succeeded']}/{args.sessions} ok, idle {w['idle_mb']} MB, "
              f"peak {w['peak_mb']} MB, back within 500 MB of idle after "
              f"{w['back_within_500mb_s']} s (retained {w['retained_mb']} MB), latency {w['latency_s']} s")
    return 0 if all(w["succeeded"] == args.sessions for w in report["waves"]) else 1


if __name__ == "__main__":
    sys.exit(main())
