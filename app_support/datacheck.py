"""The Retrain page's check of an uploaded zip: the library's decoding policy, before training.

Every image header is read (no pixel decoded) with the same limits `train` applies
(`colourise_core.data.policy`): a zip where too many images are too large, corrupt or not
images is refused with the library's summary; a few bad ones are reported and will be skipped.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st


@st.cache_data(show_spinner="Checking the images in the zip...", max_entries=16)
def _check(path: str, size: int, mtime: int) -> tuple[str | None, str | None]:
    """(problem, note): the refusal message, or a note on the images that will be skipped."""
    from colourise_core.data.datasets import load_dataset
    from colourise_core.errors import ColouriseError

    del size, mtime  # cache key only
    try:
        data = load_dataset("folder", data=path, split=None, resolution=32)
    except ColouriseError as e:
        return str(e), None
    notes = []
    if data.skipped_bad:
        named = "; ".join(reason for _, reason in data.bad.found[:3])
        notes.append(f"{data.skipped_bad} image(s) will be skipped: {named}")
    if data.skipped_grey:
        notes.append(f"{data.skipped_grey} greyscale image(s) will be skipped")
    return None, ". ".join(notes) or None


def check_zip(path: Path) -> str | None:
    """A note on skipped images, or None. Raises ColouriseError when the zip cannot be used."""
    from colourise_core.errors import DatasetError

    stat = path.stat()
    problem, note = _check(str(path), stat.st_size, stat.st_mtime_ns)
    if problem:
        raise DatasetError(problem)
    return note
