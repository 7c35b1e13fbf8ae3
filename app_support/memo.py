"""A tiny per-session memo: results that survive reruns (sliders, downloads) but not sessions.

Model results are large (a 1-megapixel colourisation is 12 MB of float32), so each memo keeps
only its few most recent entries. They are held in the session's server-side record
(`sessions`), not in st.session_state, so they are freed as soon as the session ends.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

from app_support import sessions


_MISSING = object()


def get(name: str, key: tuple, compute: Callable[[], Any], keep: int = 6, slot: str | None = None) -> Any:
    """`compute()` once per `key` in this session; `name` separates memos (e.g. "compare").

    With `slot` (what the work is, for the waiting note), `compute` runs inside one of the
    server's work slots (`sessions.work_slot`); a value already kept is returned without one.
    """
    value = peek(name, key, _MISSING)
    if value is not _MISSING:
        return value
    if slot is None:
        value = compute()
    else:
        with sessions.work_slot(slot):
            value = compute()
    return put(name, key, value, keep)


def peek(name: str, key: tuple, default: Any = None) -> Any:
    """The value kept for `key` (now the most recent), or `default`: for a page that computes
    and draws piece by piece, then keeps the whole with `put`."""
    store = sessions.current().store.setdefault(name, OrderedDict())
    if key not in store:
        return default
    store.move_to_end(key)
    return store[key]


def put(name: str, key: tuple, value: Any, keep: int = 6) -> Any:
    """Keep `value` for `key`, forgetting the oldest beyond `keep`; returns `value`."""
    store = sessions.current().store.setdefault(name, OrderedDict())
    store[key] = value
    store.move_to_end(key)
    while len(store) > keep:
        store.popitem(last=False)
    return value


def clear(name: str | None = None) -> None:
    """Forget one memo, or all of this session's memos."""
    store = sessions.current().store
    for k in [k for k in store if name is None or k == name]:
        del store[k]
