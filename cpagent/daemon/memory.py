"""Give the heap's free pages back to the OS (glibc's malloc_trim), e.g. after the JSON-schema
compiler ran: compiling a validator leaves megabytes of freed scratch memory in the heap."""

from __future__ import annotations

import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    # ctypes (~0.3 MiB) only when a trim is due: the 1.6 validators are pre-generated, so an
    # idle daemon that speaks 1.6 never compiles one and never gets here.
    import ctypes

    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None
    return trim


def trim() -> bool:
    """Return freed heap memory to the OS; False where the C library cannot."""
    malloc_trim = _malloc_trim()
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True
