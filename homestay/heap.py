"""The process's heap and glibc: what a large, short-lived allocation leaves resident.

glibc keeps freed heap for later, and raises its mmap threshold to the largest block freed,
so a process that once held a decoded picture, or the documents of a copy's build, stays at
that size. `give_back` returns the freed heap to the system (after a build, after a photo);
`keep_large_blocks_apart` has blocks of 8 MB and more mapped on their own, so that freeing one
returns its pages at once. Where there is no glibc, both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
except OSError:
    _libc = None
_malloc_trim = getattr(_libc, "malloc_trim", None)
_mallopt = getattr(_libc, "mallopt", None)
M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 8 * 1024 * 1024


def keep_large_blocks_apart() -> None:
    if _mallopt is not None:
        _mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK)


def give_back() -> None:
    if _malloc_trim is not None:
        _malloc_trim(0)
