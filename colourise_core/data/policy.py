"""The decoding policy of training data: the same limits as single images, checked from headers.

Every image of a training folder or archive goes through `colourise_core.imageio`'s rules: the
member-size limit (`sources.MAX_MEMBER_BYTES`, checked from the archive index before reading),
the pixel limit (`imageio.MAX_PIXELS`, read from the image header before any pixel is decoded)
and the truncation rule (a truncated image is an error, never half an image). An image that
breaks one is skipped and counted like a greyscale one; `BadImages.check` stops a run where more
than `MAX_BAD_FRACTION` of the images examined are bad, with a summary naming them.
"""

from __future__ import annotations

import numpy as np

from .. import imageio
from ..errors import ArchiveError, DatasetError, ImageError

MAX_BAD_FRACTION = 0.1  # more bad images than this share of those examined stops the run
MAX_BAD_ALWAYS_OK = 1  # ... unless there is only this many (one bad file in a tiny set is fine)
SHOWN = 5  # bad images named in a summary
GREY_MODES = {"L", "LA", "1", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}  # single-channel modes
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
BAD = (ImageError, ArchiveError)  # what reading or checking one image raises for a bad image


def jpeg_frame(data: bytes) -> tuple[int, int, int] | None:
    """(components, width, height) from a JPEG's frame header, or None if it cannot tell."""
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _SOF:
            if pos + 9 >= len(data):
                return None
            height = int.from_bytes(data[pos + 5:pos + 7], "big")
            width = int.from_bytes(data[pos + 7:pos + 9], "big")
            return data[pos + 9], width, height
        if marker == 0xD9 or marker == 0xDA:  # end of image / start of scan before a frame
            return None
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return None


def header_grey(data: bytes, label: str) -> bool:
    """True if the header says single channel; ImageError if the image breaks the policy.

    JPEG frame headers are parsed directly (PIL.Image.open costs ~15x more); other formats
    (and JPEGs this cannot parse) go through `imageio.read_header`. No pixel is decoded.
    """
    frame = jpeg_frame(data)
    if frame is not None and frame[1] and frame[2]:
        channels, width, height = frame
        if width * height > imageio.MAX_PIXELS:
            raise imageio._too_large(label, width * height, (width, height))
        return channels == 1
    mode, _, _ = imageio.read_header(data, label)
    return mode in GREY_MODES


def decode_rgb(data: bytes, label: str) -> np.ndarray:
    """Image bytes -> uint8 (H, W, 3) RGB under the policy (header checked first)."""
    img = imageio.decode_bytes(data, label)
    try:
        return np.asarray(img.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise ImageError(f"{label} cannot be converted to RGB: {exc}.") from exc


class BadImages:
    """Images skipped for breaking the policy: (label, reason) in the order found."""

    def __init__(self, where: str):
        self.where = where
        self.found: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self.found)

    def add(self, label: str, err: Exception) -> None:
        self.found.append((label, str(err)))

    def too_many(self, examined: int) -> bool:
        return len(self) > max(MAX_BAD_ALWAYS_OK, MAX_BAD_FRACTION * examined)

    def summary(self, examined: int) -> str:
        shown = "; ".join(reason for _, reason in self.found[:SHOWN])
        more = f" (and {len(self) - SHOWN} more)" if len(self) > SHOWN else ""
        return (f"{self.where}: {len(self)} of {examined} images examined cannot be used (over "
                f"{MAX_BAD_FRACTION:.0%} allowed): {shown}{more}. Remove or replace them, or repack the data.")

    def check(self, examined: int) -> None:
        """Raise DatasetError with the summary when too many of `examined` images are bad."""
        if self.too_many(examined):
            raise DatasetError(self.summary(examined))
