"""A decoded photo kept compact: an 8-bit source stays uint8 and becomes float32 a band at a time.

`imageio.load_rgb` returns a `LoadedImage`. The library's maths is written for float32 RGB in
[0, 1], but a full-size float copy of a 24-megapixel photo is 288 MB (its uint8 pixels: 72 MB), so
the photo keeps the decoded bytes and the steps that read all of it (the luma, a resize, a metric)
convert one band of rows at a time (`bands`). `rgb` still gives the whole float32 image for the
callers that want one, as a new array each time: hold it only as long as it is needed.

16-bit, float and array sources that are not uint8 keep float32 pixels (their precision is more
than 8 bits); for them `rgb` is the stored array itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from colourise_core import colour

BAND_PIXELS = 1 << 18  # pixels per band of a band-wise conversion (3 MB of float32 RGB)


def to_float(rgb8: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1], exactly as the decoder always did: float32(v) / float32(255)."""
    out = rgb8.astype(np.float32)
    np.divide(out, np.float32(255.0), out=out)  # in place: one float copy, not two
    return out


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image.

    Attributes:
        pixels: (H, W, 3) uint8 for 8-bit sources, else float32 in [0, 1].
        alpha: float32 (H, W) in [0, 1], or None when the source had no transparency.
        was_grey: the source was greyscale, or all its colour channels are equal.
        mode: the source's Pillow mode ("L", "RGB", "I;16", "P", ...; arrays report the
            mode of the equivalent Pillow image).
        name: the file name used in messages ("the uploaded data" when unknown).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None
    was_grey: bool
    mode: str
    name: str

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, 3), without converting anything."""
        return self.pixels.shape

    @property
    def rgb(self) -> np.ndarray:
        """float32 (H, W, 3) in [0, 1]; for uint8 pixels a new full-size array on each call."""
        return self.pixels if self.pixels.dtype == np.float32 else to_float(self.pixels)

    @property
    def rgb8(self) -> np.ndarray:
        """uint8 (H, W, 3): the stored pixels themselves, or float pixels rounded."""
        return self.pixels if self.pixels.dtype == np.uint8 else colour.to_uint8(self.pixels)

    def bands(self, pixels: int = BAND_PIXELS) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, float32 (rows, W, 3) band) over the image, about `pixels` pixels a band."""
        height, width = self.pixels.shape[:2]
        rows = max(1, pixels // width)
        for r in range(0, height, rows):
            band = self.pixels[r:r + rows]
            yield r, band if band.dtype == np.float32 else to_float(band)

    def luma(self, reference: bool = False) -> np.ndarray:
        """The luma Y, float32 (H, W, 1), computed band by band (no full-size float RGB).

        Args:
            reference: the reference path's matrix product (`colour.rgb_to_y` in float32);
                False: one OpenCV transform per band (`colour.luma_of`), the same values to
                float32 rounding.
        """
        height, width = self.pixels.shape[:2]
        out = np.empty((height, width, 1), np.float32)
        for r, band in self.bands():
            out[r:r + len(band)] = (colour.rgb_to_y(band, compute_dtype=np.float32) if reference
                                    else colour.luma_of(band))
        return out

    def resized(self, size: tuple[int, int]) -> LoadedImage:
        """The image shrunk (or grown) to (height, width), keeping its pixel type.

        uint8 pixels shrink with OpenCV's area average straight from the bytes (no float copy);
        float pixels, growing and the alpha plane go through `resize.resize_float`.
        """
        from colourise_core.resize import resize_float

        height, width = int(size[0]), int(size[1])
        if self.pixels.dtype == np.uint8 and height <= self.shape[0] and width <= self.shape[1]:
            pixels = cv2.resize(self.pixels, (width, height), interpolation=cv2.INTER_AREA)
        else:
            pixels = resize_float(self.rgb, (height, width))
        alpha = None if self.alpha is None else resize_float(self.alpha, (height, width))
        return LoadedImage(pixels=pixels, alpha=alpha, was_grey=self.was_grey, mode=self.mode, name=self.name)
