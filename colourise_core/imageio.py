"""Safe image decoding for user images (any user's old photo); writing and resizing re-exported.

`open_image` turns a path, bytes, a file-like object, a PIL image or a numpy array into a fully
decoded PIL image, and turns every failure into an `ImageError` that names the file and the
problem: missing, empty, not an image, truncated or corrupt, or too large to decode safely (the
pixel count in the header is checked against `MAX_PIXELS` before any pixel is decoded).
`load_rgb` then converts any Pillow mode to RGB plus an optional alpha plane, as a `LoadedImage`
(`photo`): 8-bit sources keep their uint8 pixels (a quarter of a float32 copy), others float32.

Images are float32 RGB in [0, 1], channels-last (H, W, 3), as everywhere in the library
(`LoadedImage.rgb`, or band by band with `LoadedImage.bands`). Writing
(`encode_png`, `save_png_atomic`) lives in `imagesave`, resizing (`resize_float`) in `resize`;
both are importable from here too.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colourise_core.colour import to_uint8
from colourise_core.errors import ImageError
from colourise_core.imagesave import encode_png, save_png_atomic  # noqa: F401 - part of imageio's API
from colourise_core.photo import LoadedImage, to_float
from colourise_core.resize import resize_float  # noqa: F401 - part of imageio's API

# Largest image (width * height, read from the file header) we agree to decode.
MAX_PIXELS = 100_000_000

ImageSource = Union[str, os.PathLike, bytes, bytearray, BinaryIO, Image.Image, np.ndarray]

_UPLOAD_NAME = "the uploaded data"
# Pillow modes whose pixels are grey by construction.
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
_MODES_16BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


# ----------------------------------------------------------------------------- decoding


def open_image(src: ImageSource, name: str | None = None, max_pixels: int | None = None) -> Image.Image:
    """Decode an image fully and safely, with its EXIF orientation applied.

    Animated GIF/WebP/APNG give their first frame. No file stays open afterwards.

    Args:
        src: a path (str or Path), bytes, a binary file-like object, a PIL image, or a numpy
            array (uint8, uint16, bool or float in [0, 1]; (H, W) or (H, W, 1|2|3|4)).
        name: the name to use in error messages; defaults to the file's name, else
            "the uploaded data".
        max_pixels: decode straight to about the size needed (JPEG: Pillow's draft mode decodes
            at 1/2, 1/4 or 1/8 scale, to between a quarter of max_pixels and max_pixels; other
            formats are reduced by an integer factor right after decoding, staying at least
            max_pixels), so a 24 MP JPEG used at 8 MP is decoded at 6 MP. The caller resizes what
            is still larger. None: full size.
    Returns:
        A loaded PIL image, detached from any file (a copy; the caller's image is untouched).
    Raises:
        ImageError: missing or empty file, not an image, truncated or corrupt data, or more
            than `MAX_PIXELS` pixels.
    """
    if isinstance(src, np.ndarray):
        return _array_to_pil(src, name or "the array")
    if isinstance(src, Image.Image):
        label = name or (Path(src.filename).name if getattr(src, "filename", "") else "the image")
        return _finish(src, label)
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        label = name or path.name or str(path)
        _check_file(path, label)
        try:
            with open(path, "rb") as fp:
                return _decode(fp, label, max_pixels)
        except OSError as err:  # permission denied, I/O error: decoding errors are ImageError
            raise ImageError(f"{label} could not be read ({err}).") from err
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif hasattr(src, "read"):
        label_from = getattr(src, "name", None)
        name = name or (Path(label_from).name if isinstance(label_from, str) else None)
        data = src.read()
        if not isinstance(data, (bytes, bytearray)):
            raise ImageError(f"{name or _UPLOAD_NAME} is not a binary file (open it with 'rb').")
    else:
        raise TypeError(f"open_image cannot read a {type(src).__name__}")
    label = name or _UPLOAD_NAME
    if not data:
        raise ImageError(f"{label} is empty (0 bytes). Upload the image file again.")
    return _decode(io.BytesIO(data), label, max_pixels)


def read_header(data: bytes, label: str) -> tuple[str, int, int]:
    """The (mode, width, height) of encoded image bytes, from the header alone (no pixels).

    The same policy as `open_image`: unknown formats, broken headers and images over
    `MAX_PIXELS` raise `ImageError` naming `label` (never an object's repr).
    """
    if not data:
        raise ImageError(f"{label} is empty (0 bytes).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                mode, (width, height) = img.mode, img.size
        except Image.DecompressionBombError as err:
            raise _too_large(label, _pixels_in(str(err)), None) from err
        except UnidentifiedImageError as err:
            raise ImageError(f"{label} is not an image Pillow can read (unknown or unsupported format).") from err
        except Exception as err:  # a known format with a broken header
            raise ImageError(f"{label} is truncated or corrupt: {err}.") from err
    if width * height > MAX_PIXELS:
        raise _too_large(label, width * height, (width, height))
    return mode, width, height


def decode_bytes(data: bytes, label: str) -> Image.Image:
    """Decode encoded image bytes under `open_image`'s policy, without EXIF transposition.

    For training data, whose pixels are used as stored. Raises `ImageError` naming `label`.
    """
    if not data:
        raise ImageError(f"{label} is empty (0 bytes).")
    return _decode(io.BytesIO(data), label, transpose=False)


def _check_file(path: Path, label: str) -> None:
    """Refuse missing files, folders and empty files with a message naming them."""
    if not path.exists():
        raise ImageError(
            f"{label} was not found (looked for {path.absolute()}). Check the path and try again."
        )
    if path.is_dir():
        raise ImageError(f"{label} is a folder, not an image file ({path}).")
    if path.stat().st_size == 0:
        raise ImageError(f"{label} is empty (0 bytes). The file was probably not copied fully.")


def _decode(fp: BinaryIO, label: str, max_pixels: int | None = None, transpose: bool = True) -> Image.Image:
    """Read the header, check the pixel count, then force a full decode of the first frame.

    With `max_pixels`, a larger image is decoded at a reduced scale where the format allows
    (JPEG draft) and reduced by an integer factor right after (others).
    """
    with warnings.catch_warnings():
        # MAX_PIXELS decides, not Pillow's lower warning threshold; Pillow's own
        # DecompressionBombError (over twice its limit) is still reported below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(fp)
        except Image.DecompressionBombError as err:
            raise _too_large(label, _pixels_in(str(err)), None) from err
        except UnidentifiedImageError as err:
            raise ImageError(
                f"{label} is not an image Pillow can read (unknown or unsupported format). "
                "Save it as PNG or JPEG and try again."
            ) from err
        except Exception as err:  # a known format with a broken header: SyntaxError, ...
            raise ImageError(
                f"{label} is truncated or corrupt: {err}. Re-export or re-download the file."
            ) from err
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise _too_large(label, width * height, (width, height))
        if max_pixels and width * height > max_pixels and img.format == "JPEG":
            # draft picks the smallest DCT scale (1/2, 1/4, 1/8) still at least the size asked;
            # asking half the target side gives between a quarter of max_pixels and max_pixels
            scale = (max_pixels / (width * height)) ** 0.5 / 2
            img.draft(img.mode, (max(1, int(width * scale) + 1), max(1, int(height * scale) + 1)))
        try:
            img.load()  # full decode: truncated data fails here, not later
        except Image.DecompressionBombError as err:
            raise _too_large(label, _pixels_in(str(err)), None) from err
        except Exception as err:
            raise ImageError(
                f"{label} is truncated or corrupt: {err}. Re-export or re-download the file."
            ) from err
        factor = int((img.width * img.height / max_pixels) ** 0.5) if max_pixels else 1
        if factor > 1:  # still at least max_pixels after this: the caller resizes exactly
            try:
                img = img.reduce(factor)  # box average by an integer factor, before any float copy
            except (ValueError, OSError):  # modes reduce() does not handle: keep the full size
                pass
        if not transpose:
            return img
        return _finish(img, label)


def _finish(img: Image.Image, label: str) -> Image.Image:
    """Check the size, decode and apply EXIF orientation; return a detached copy."""
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise _too_large(label, width * height, (width, height))
    try:
        img.load()
    except Exception as err:
        raise ImageError(f"{label} is truncated or corrupt: {err}.") from err
    try:
        return ImageOps.exif_transpose(img)  # always a new image, never tied to a file
    except Exception:  # unreadable EXIF block: keep the pixels as stored
        return img.copy()


def _pixels_in(message: str) -> int | None:
    """The pixel count in Pillow's DecompressionBombError message, if it has one."""
    found = re.search(r"\((\d+) pixels\)", message)
    return int(found.group(1)) if found else None


def _too_large(label: str, pixels: int | None, size: tuple[int, int] | None) -> ImageError:
    """The error for an image over `MAX_PIXELS`, naming its size and the limit."""
    dims = f" ({size[0]} x {size[1]})" if size else ""
    count = f"{pixels:,} pixels{dims}" if pixels else "too many pixels"
    return ImageError(
        f"{label} is too large to decode safely: {count}, over the limit of "
        f"{MAX_PIXELS:,} pixels. Resize it to fewer pixels and try again."
    )


# ----------------------------------------------------------------------------- arrays


def _array_to_float(arr: np.ndarray, label: str) -> tuple[np.ndarray, str]:
    """Validate a user array and scale it to float32 in [0, 1], channels-last.

    Args:
        arr: (H, W) or (H, W, C), C in 1..4; bool, uint8, uint16 or float in [0, 1].
        label: name for messages.
    Returns:
        (float32 (H, W, C) in [0, 1], the equivalent Pillow mode).
    """
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or 0 in arr.shape:
        raise ImageError(f"{label} has shape {arr.shape}; expected (H, W) or (H, W, 1|2|3|4).")
    channels = arr.shape[2]
    grey_mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    if arr.dtype == np.bool_:
        return arr.astype(np.float32), "1" if channels == 1 else grey_mode
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0, grey_mode
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0, "I;16" if channels == 1 else grey_mode
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ImageError(f"{label} holds NaN or infinite values.")
        low, high = float(arr.min()), float(arr.max())
        if low < -1.0 / 255 or high > 1.0 + 1.0 / 255:
            raise ImageError(
                f"{label} holds values in [{low:g}, {high:g}]; float images must be in [0, 1] "
                "(divide 8-bit values by 255)."
            )
        return np.clip(arr, 0.0, 1.0).astype(np.float32), "F" if channels == 1 else grey_mode
    raise ImageError(f"{label} has dtype {arr.dtype}; use uint8, uint16 or float in [0, 1].")


def _array_to_pil(arr: np.ndarray, label: str) -> Image.Image:
    """A PIL image of an array: 16-bit and float grey stay exact, colour becomes 8-bit."""
    values, mode = _array_to_float(np.asarray(arr), label)  # (H, W, C)
    if mode == "I;16":
        return Image.fromarray(np.rint(values[..., 0] * 65535.0).astype(np.uint16))
    if mode == "F":
        return Image.fromarray(values[..., 0])  # float32 (H, W) -> "F"
    img = Image.fromarray(to_uint8(values)[..., 0] if values.shape[2] == 1 else to_uint8(values))
    return img.convert("1") if mode == "1" else img


# ----------------------------------------------------------------------------- loading


def load_rgb(src: ImageSource, name: str | None = None, max_pixels: int | None = None) -> LoadedImage:
    """Decode any image to RGB (8-bit: uint8, else float32 in [0, 1]), keeping its alpha and 16-bit precision.

    Modes: 1, L, LA, P (palette transparency becomes alpha), RGB, RGBA, CMYK (incl. Adobe
    inverted JPEGs), I;16 / I;16B / I (divided by 65535, clipped), F (clipped to [0, 1]),
    YCbCr, LAB, HSV and others through Pillow's convert.

    Args:
        src: anything `open_image` accepts; numpy arrays are scaled directly (uint16 colour
            keeps its precision).
        name: the name to use in messages and in the result.
        max_pixels: as `open_image` (a reduced decode of large images; not for arrays).
    Returns:
        A `LoadedImage`.
    Raises:
        ImageError: as `open_image`, or an unsupported mode.
    """
    if isinstance(src, np.ndarray):
        label = name or "the array"
        if src.dtype == np.uint8 and src.ndim in (2, 3) and (src.ndim == 2 or src.shape[2] in (1, 2, 3, 4)) \
                and 0 not in src.shape:  # kept as uint8 (a copy)
            values = (src[..., None] if src.ndim == 2 else src).copy()  # the caller's array stays theirs
            mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[values.shape[2]]
        else:
            values, mode = _array_to_float(src, label)  # (H, W, C)
        colour, alpha = _split_alpha(values)
        return _result(colour, alpha, mode, label, mode in _GREY_MODES)
    img = open_image(src, name=name, max_pixels=max_pixels)
    label = name or _label_of(src)
    mode = img.mode
    if mode in _MODES_16BIT or mode == "F":
        scale = 1.0 if mode == "F" else 65535.0
        plane = np.asarray(img, dtype=np.float64) / scale  # (H, W)
        plane = np.clip(np.nan_to_num(plane), 0.0, 1.0).astype(np.float32)
        return _result(plane[..., None], None, mode, label, True)
    target = "RGBA" if _has_alpha(img) else "RGB"
    try:
        converted = img if img.mode == target else img.convert(target)
    except (ValueError, OSError) as err:
        raise ImageError(f"{label} has an unsupported image mode {mode!r} ({err}).") from err
    values = np.asarray(converted)  # (H, W, 3|4) uint8, a new array (the decoded image can go)
    del img, converted
    colour, alpha = _split_alpha(values)
    return _result(colour, alpha, mode, label, mode in _GREY_MODES)


def _label_of(src: ImageSource) -> str:
    """The name `open_image` would use for `src` in its messages."""
    if isinstance(src, (str, os.PathLike)):
        return Path(src).name or str(src)
    filename = getattr(src, "filename", None) or getattr(src, "name", None)
    return Path(filename).name if isinstance(filename, str) and filename else _UPLOAD_NAME


def _has_alpha(img: Image.Image) -> bool:
    """True for modes with an alpha band and for palette/grey images with transparency."""
    return "A" in img.getbands() or img.mode in ("RGBa", "La") or img.has_transparency_data


def _split_alpha(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, C) -> colour (H, W, C - 1 or C) and alpha (H, W) float32 when C is 2 or 4."""
    if values.shape[2] in (2, 4):
        alpha = values[..., -1]
        return values[..., :-1], to_float(alpha) if alpha.dtype == np.uint8 else alpha
    return values, None


def _result(
    colour: np.ndarray, alpha: np.ndarray | None, mode: str, label: str, grey_mode: bool
) -> LoadedImage:
    """Build a `LoadedImage` from colour (H, W, 1|3) and alpha (H, W) planes."""
    """`colour` is uint8 (8-bit sources: kept as such) or float32."""
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    dtype = np.uint8 if colour.dtype == np.uint8 else np.float32
    pixels = np.ascontiguousarray(colour, dtype=dtype)
    was_grey = grey_mode or bool(
        np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1], pixels[..., 2])
    )
    if alpha is not None:
        alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    return LoadedImage(pixels=pixels, alpha=alpha, was_grey=was_grey, mode=mode, name=label)
