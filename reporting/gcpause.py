"""Pausing Python's cycle collector while a month's objects are built.

A provincial month is about a million small objects (each unit's statuses and scores, a
million and a half workbook cells); the cycle collector walks every live object again and
again as they pile up, which cost a quarter of the time of writing the summary and ranking
workbooks at 10,000 units. Reference counting still frees every object as soon as it is
unused: only reference cycles (rare here) wait until the block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the block with the cycle collector off (it stays off if it already was)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
