"""Give the memory a finished session freed back to the OS, so an idle runner stays small.

CPython's allocator and glibc's malloc keep freed memory in their arenas; on a dense host
(many runners forked from one zygote) that is memory no other runner can use. A collection
and `malloc_trim` between sessions return it; frozen objects (the zygote's, shared with
every runner) are not visited, so their pages stay shared.
"""

from __future__ import annotations

import ctypes
import gc

from loguru import logger


def release_freed_memory() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError) as exc:  # not glibc: nothing to trim
        logger.debug("malloc_trim unavailable: {}", exc)
