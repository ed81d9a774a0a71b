"""Keep a long-running server's resident memory flat. glibc gives each thread that allocates its own malloc
arena and keeps freed pages, so a server whose worker threads run large numpy / torch allocations grows for a
long time without leaking. Capping the arenas and handing freed pages back after each request keeps it flat
(the load test in docs/performance.md measures it). Both are no-ops where glibc is absent."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_ARENA_MAX = -8
_libc = None


def _glibc():
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc.malloc_trim                                    # glibc only
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


def limit_malloc_arenas(n: int = 2) -> bool:
    libc = _glibc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, n))


def release_freed_memory() -> None:
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)


def releases_memory(handler):
    """Decorator: run `handler`, then return freed memory to the system (also after an error)."""
    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        finally:
            release_freed_memory()
    return wrapped
