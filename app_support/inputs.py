"""The image picker shared by the pages: the sample gallery, an upload, or the camera.

Decoding goes through `colourise_core.imageio.load_rgb`; a bad file shows `st.error` with the
library's message and the picker returns None, so the page keeps working.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np
import streamlit as st

from app_support import memo, paths

SOURCES = ("Sample gallery", "Upload", "Camera")
APP_MAX_PIXELS = 8_000_000  # larger images are decoded straight to this size (memory budget: docs/APP.md)
MAX_PIXELS_ENV = "COLOURISE_APP_MAX_PIXELS"  # overrides APP_MAX_PIXELS


def max_pixels() -> int:
    return int(os.environ.get(MAX_PIXELS_ENV) or APP_MAX_PIXELS)
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]


@dataclasses.dataclass(frozen=True)
class Picked:
    """A decoded input image.

    name: file name (caption); digest: sha1 of the bytes (a cache key); loaded: LoadedImage.
    """

    name: str
    digest: str
    loaded: object  # colourise_core.imageio.LoadedImage

    @property
    def rgb(self) -> np.ndarray:
        """float32 (H, W, 3): a new full-size array each call (the photo is kept as uint8); work
        that needs it belongs inside a work slot. For the screen or a small work copy use `fit`."""
        return self.loaded.rgb

    @property
    def rgb8(self) -> np.ndarray:
        """uint8 (H, W, 3): the kept pixels themselves (8-bit sources)."""
        return self.loaded.rgb8

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.loaded.shape

    def fit(self, side: int) -> np.ndarray:
        """float32 RGB with the longer side at most `side` (never enlarged), shrunk from the kept
        pixels without a full-size float copy."""
        from app_support import views

        size = views.fit_side(*self.loaded.shape[:2], side)
        return (self.loaded if size == self.loaded.shape[:2] else self.loaded.resized(size)).rgb

    @property
    def is_colour(self) -> bool:
        return not self.loaded.was_grey


def caption_of(path: Path) -> str:
    return path.stem


@st.cache_data(show_spinner=False, max_entries=64)
def _thumbnail(path: str, mtime: int, side: int = 160) -> np.ndarray:
    from PIL import Image, ImageOps

    del mtime
    with Image.open(path) as img:
        img.draft("RGB", (2 * side, 2 * side))  # JPEG: decode at a reduced scale, several times faster
        img = ImageOps.exif_transpose(img).convert("RGB")
        img.thumbnail((side, side))
        return np.asarray(img)


def _decode(data: bytes, name: str):
    """(LoadedImage, None, note) for an image, or (None, the library's ImageError message, None).

    Images over max_pixels() are decoded straight to about that size (JPEG draft, integer
    reduce; never a full-size float copy) and resized to it exactly; `note` says so.
    """
    from colourise_core import imageio
    from colourise_core.errors import ImageError

    limit = max_pixels()
    try:
        _, w0, h0 = imageio.read_header(data, name)  # the stored size, before any reduction
        loaded = imageio.load_rgb(data, name=name, max_pixels=limit)
    except ImageError as e:
        return None, str(e), None
    h, w = loaded.shape[:2]
    if h * w <= limit and h0 * w0 <= limit:
        return loaded, None, None
    scale = min(1.0, (limit / (h * w)) ** 0.5)
    size = (max(1, int(h * scale)), max(1, int(w * scale)))
    if size != (h, w):
        loaded = loaded.resized(size)  # uint8 stays uint8: no full-size float copy
    note = (f"{name} has {h0 * w0 / 1e6:.3g} megapixels; the app colourises at most {limit / 1e6:.3g}, "
            f"so it works on a {size[1]} x {size[0]} copy.")
    return loaded, None, note


def decode(data: bytes, name: str) -> Picked | None:
    """Decode bytes; st.error with the library's message when they are not a usable image.

    The decoded image is kept for this session's next reruns (only the latest two).
    """
    digest = hashlib.sha1(data).hexdigest()
    loaded, problem, note = memo.get("decoded", (digest, name), lambda: _decode(data, name), keep=1,
                                     slot="decoding the photo")  # 8 sessions' 24 MP photos are not decoded at once
    if problem:
        st.error(problem, icon=":material/broken_image:")
        return None
    if note:
        st.warning(note, icon=":material/photo_size_select_large:")
    return Picked(name=name, digest=digest, loaded=loaded)


def gallery(prefix: str, default: str | None = None, show_thumbnails: bool = True) -> Picked | None:
    """A sample chosen from assets/samples (file names as captions)."""
    files = paths.sample_files()
    if not files:
        st.warning(f"No sample images in {paths.SAMPLES_DIR}.")
        return None
    captions = [caption_of(p) for p in files]
    key = f"{prefix}_sample"
    if st.session_state.get(key) not in captions:
        st.session_state[key] = default if default in captions else captions[0]
    choice = st.selectbox("Sample image", captions, key=key,
                          help="Greyscale historical photographs, then three colour images (with metrics).")
    if show_thumbnails:
        with st.expander("Browse the gallery", expanded=False):
            thumbs = [_thumbnail(str(p), p.stat().st_mtime_ns) for p in files]
            st.image(thumbs, caption=captions, width=150)
    path = files[captions.index(choice)]
    return decode(path.read_bytes(), path.name)


def pick(prefix: str, default_sample: str | None = None, camera: bool = True) -> Picked | None:
    """Sample / upload / camera picker; widget keys start with `prefix`."""
    options = list(SOURCES if camera else SOURCES[:2])
    source = st.radio("Image source", options, key=f"{prefix}_source", horizontal=True)
    if source == "Upload":
        upload = st.file_uploader("Upload an image (colour or greyscale)", type=UPLOAD_TYPES, key=f"{prefix}_upload",
                                  help="A colour image is turned to grey first; the original is then used for metrics.")
        if upload is None:
            st.info("Upload an image, or pick a sample from the gallery.", icon=":material/upload:")
            return None
        return decode(upload.getvalue(), upload.name)
    if source == "Camera":
        on = st.toggle("Turn the camera on", key=f"{prefix}_camera_on",
                       help="The browser asks for permission; nothing is stored.")
        if not on:
            st.info("Turn the camera on to take a photo.", icon=":material/photo_camera:")
            return None
        shot = st.camera_input("Take a photo", key=f"{prefix}_camera")
        if shot is None:
            return None
        return decode(shot.getvalue(), "camera photo.jpg")
    return gallery(prefix, default_sample)
