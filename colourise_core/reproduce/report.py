"""Figures and Markdown for `reproduce`: image grids, line charts and tables, drawn with Pillow.

No plotting library is needed: a learning curve is a few polylines on labelled axes, and a
result grid is tiles of images with row and column labels. Figures are small PNGs (palette-free
RGB, `optimize=True`), written atomically.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from colourise_core import atomic
from colourise_core.colour import to_uint8

# Line colours of the series of a chart, in order (colour-blind friendly, Okabe-Ito).
PALETTE = ((0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233), (0, 0, 0))
BACKGROUND = (255, 255, 255)
MISSING_TILE = (200, 200, 200)


def font(size: int = 12) -> ImageFont.ImageFont:
    """Pillow's bundled font at `size` px (the bitmap default where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, f) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=f)
    return right - left, bottom - top


def save_png(image: Image.Image, path: str | os.PathLike) -> Path:
    """Write `image` as an optimised PNG atomically (`atomic.replacing`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as tmp:
        image.convert("RGB").save(tmp, format="PNG", optimize=True)
    return path


def _tile(rgb: np.ndarray | None, size: int) -> Image.Image:
    """A float RGB image (h, w, 3) in [0, 1] as a size x size tile; None gives a grey 'n/a' tile."""
    if rgb is None:
        tile = Image.new("RGB", (size, size), MISSING_TILE)
        draw = ImageDraw.Draw(tile)
        f = font(max(9, size // 6))
        w, h = _text_size(draw, "n/a", f)
        draw.text(((size - w) / 2, (size - h) / 2), "n/a", fill=(90, 90, 90), font=f)
        return tile
    img = Image.fromarray(to_uint8(rgb))
    if img.size == (size, size):
        return img
    # Enlarge small images with nearest neighbour (their pixels stay visible), shrink with area.
    method = Image.NEAREST if img.width <= size else Image.BOX
    return img.resize((size, size), method)


def image_grid(rows: list[list[np.ndarray | None]], row_labels: list[str], col_labels: list[str],
               tile: int = 64, title: str | None = None, gap: int = 2) -> Image.Image:
    """A labelled grid of images.

    Args:
        rows: rows of float RGB images (h, w, 3) in [0, 1] (None: a grey 'n/a' tile).
        row_labels: one label per row, drawn on the left.
        col_labels: one label per column, drawn on top (may be empty strings).
        tile: side of every tile in pixels.
        title: optional title line above the grid.
        gap: pixels between tiles.
    Returns:
        The grid as an RGB PIL image.
    """
    f = font(11)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max([_text_size(probe, s, f)[0] for s in row_labels] + [0]) + 8
    head_h = 16 if any(col_labels) else 0
    title_h = 18 if title else 0
    n_cols = max(len(r) for r in rows)
    width = label_w + n_cols * (tile + gap)
    height = title_h + head_h + len(rows) * (tile + gap)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 2), title, fill=(0, 0, 0), font=font(12))
    for j, label in enumerate(col_labels):
        text = _fit(draw, label, f, tile)
        w, _ = _text_size(draw, text, f)
        draw.text((label_w + j * (tile + gap) + (tile - w) / 2, title_h + 2), text, fill=(0, 0, 0), font=f)
    for i, (label, row) in enumerate(zip(row_labels, rows)):
        y0 = title_h + head_h + i * (tile + gap)
        _, h = _text_size(draw, label, f)
        draw.text((4, y0 + (tile - h) / 2), label, fill=(0, 0, 0), font=f)
        for j, rgb in enumerate(row):
            canvas.paste(_tile(rgb, tile), (label_w + j * (tile + gap), y0))
    return canvas


def _fit(draw, text: str, f, width: int) -> str:
    """`text` shortened with an ellipsis until it is at most `width` px wide."""
    if _text_size(draw, text, f)[0] <= width:
        return text
    while len(text) > 1 and _text_size(draw, text + "…", f)[0] > width:
        text = text[:-1]
    return text + "…"


def _ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> list[float]:
    """About n round tick values covering [lo, hi] (whole numbers only with `integer`)."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, n - 1)
    if integer:
        raw = max(raw, 1.0)
    mag = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = min((m * mag for m in steps if m * mag >= raw), default=10 * mag)
    start = math.ceil(lo / step) * step
    out, v = [], start
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def line_chart(series: dict[str, tuple[list, list]], title: str, xlabel: str = "epoch", ylabel: str = "loss",
               size: tuple[int, int] = (380, 260), log_y: bool = False, dashed: tuple[str, ...] = ()) -> Image.Image:
    """A line chart of named series, with axes, ticks and a legend.

    Args:
        series: {name: (x values, y values)}; non-finite y values are skipped.
        title: drawn above the plot.
        xlabel, ylabel: axis labels.
        size: (width, height) in pixels.
        log_y: log10 scale on y (positive values only).
        dashed: names of series drawn dashed (e.g. the validation curves).
    Returns:
        The chart as an RGB PIL image.
    """
    width, height = size
    canvas = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    f, ft = font(10), font(12)
    left, right, top, bottom = 52, 8, 34, 34
    w, _ = _text_size(draw, title, ft)
    draw.text((left + (width - left - right - w) / 2, 3), title, fill=(0, 0, 0), font=ft)
    pts = {k: [(float(x), float(y)) for x, y in zip(*v) if y is not None and math.isfinite(float(y))
               and (not log_y or float(y) > 0)] for k, v in series.items()}
    xs = [p[0] for v in pts.values() for p in v]
    ys = [p[1] for v in pts.values() for p in v]
    if not xs:
        draw.text((left, height / 2), "no data", fill=(0, 0, 0), font=f)
        return canvas
    tf = (lambda v: math.log10(v)) if log_y else (lambda v: v)  # noqa: E731
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(tf(y) for y in ys), max(tf(y) for y in ys)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 0.5 * (abs(y_lo) or 1), y_hi + 0.5 * (abs(y_hi) or 1)
    pad = 0.05 * (y_hi - y_lo)
    y_lo, y_hi = y_lo - pad, y_hi + pad
    pw, ph = width - left - right, height - top - bottom

    def to_px(x, y):
        return left + (x - x_lo) / (x_hi - x_lo) * pw, top + (1 - (tf(y) - y_lo) / (y_hi - y_lo)) * ph

    draw.rectangle([left, top, left + pw, top + ph], outline=(0, 0, 0))
    for t in _ticks(y_lo, y_hi):
        py = top + (1 - (t - y_lo) / (y_hi - y_lo)) * ph
        draw.line([left - 3, py, left, py], fill=(0, 0, 0))
        draw.line([left + 1, py, left + pw - 1, py], fill=(235, 235, 235))
        label = f"{10 ** t:.3g}" if log_y else f"{t:.3g}"
        w, h = _text_size(draw, label, f)
        draw.text((left - 5 - w, py - h / 2 - 1), label, fill=(0, 0, 0), font=f)
    integer_x = all(float(x).is_integer() for x in xs)
    for t in _ticks(x_lo, x_hi, integer=integer_x):
        px = left + (t - x_lo) / (x_hi - x_lo) * pw
        draw.line([px, top + ph, px, top + ph + 3], fill=(0, 0, 0))
        label = f"{t:g}"
        w, _ = _text_size(draw, label, f)
        draw.text((px - w / 2, top + ph + 4), label, fill=(0, 0, 0), font=f)
    w, _ = _text_size(draw, xlabel, f)
    draw.text((left + (pw - w) / 2, height - 14), xlabel, fill=(0, 0, 0), font=f)
    draw.text((2, top - 14), ylabel + (" (log)" if log_y else ""), fill=(0, 0, 0), font=f)
    for k, (name, p) in enumerate(pts.items()):
        colour = PALETTE[k % len(PALETTE)]
        line = [to_px(x, y) for x, y in p]
        if len(line) == 1:
            x, y = line[0]
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
        elif name in dashed:
            _dashed(draw, line, colour)
        else:
            draw.line(line, fill=colour, width=2)
    names = list(pts)
    sizes = [_text_size(draw, name, f) for name in names]
    box_w = max(w for w, _ in sizes) + 30
    lx = left + pw - box_w - 3
    legend_h = sum(h + 5 for _, h in sizes)
    draw.rectangle([lx - 3, top + 2, left + pw - 2, top + 4 + legend_h], fill=BACKGROUND, outline=(210, 210, 210))
    legend_y = top + 4
    for k, (name, (w, h)) in enumerate(zip(names, sizes)):
        colour = PALETTE[k % len(PALETTE)]
        if name in dashed:
            _dashed(draw, [(lx, legend_y + h / 2 + 1), (lx + 20, legend_y + h / 2 + 1)], colour)
        else:
            draw.line([lx, legend_y + h / 2 + 1, lx + 20, legend_y + h / 2 + 1], fill=colour, width=2)
        draw.text((lx + 24, legend_y), name, fill=(0, 0, 0), font=f)
        legend_y += h + 5
    return canvas


def _dashed(draw, line: list, colour, dash: float = 5.0) -> None:
    """A dashed polyline: on and off every `dash` px of length along the whole line."""
    travelled = 0.0
    for (x0, y0), (x1, y1) in zip(line[:-1], line[1:]):
        length = math.hypot(x1 - x0, y1 - y0)
        pos = 0.0
        while pos < length:
            phase = (travelled + pos) % (2 * dash)
            step = min(length - pos, (dash - phase) if phase < dash else (2 * dash - phase))
            if phase < dash:
                a, b = pos / length, (pos + step) / length
                draw.line([x0 + (x1 - x0) * a, y0 + (y1 - y0) * a, x0 + (x1 - x0) * b, y0 + (y1 - y0) * b], fill=colour, width=2)
            pos += max(step, 1e-6)
        travelled += length


def hstack(images: list[Image.Image], gap: int = 6) -> Image.Image:
    """Images side by side, top-aligned, on a white background."""
    width = sum(im.width for im in images) + gap * (len(images) - 1)
    height = max(im.height for im in images)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    x = 0
    for im in images:
        canvas.paste(im, (x, 0))
        x += im.width + gap
    return canvas


# ------------------------------------------------------------------------------------ Markdown


def md_table(headers: list[str], rows: list[list]) -> str:
    """A GitHub Markdown table; cells are formatted with `cell`."""
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(value) -> str:
    """A table cell: floats to 4 significant digits, None as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def duration(seconds: float | None) -> str:
    """Seconds as the dissertation writes times: '2 min 27 s', '1 h 3 min', '41.2 s'."""
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        m, s = divmod(int(round(seconds)), 60)
        return f"{m} min {s} s"
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h} h {rest // 60} min"
