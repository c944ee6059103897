"""A child process that ends when the process that started it ends, however that ends.

The dev stack and the runner pods start their children in sessions of their own, so that a
terminal's Ctrl-C reaches the parent, which drains them in order. The price is that a signal
to the parent's process group misses them: a parent killed (SIGKILL, an OOM kill, a test
runner's timeout) would leave them running. Linux's PR_SET_PDEATHSIG has the kernel signal
the child when its parent exits; set in the child between fork and exec (`preexec_fn`), or
right after `os.fork()`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1

# Resolved once here: the child between fork and exec must not load libraries.
_prctl: Callable[..., int] | None = None
if sys.platform.startswith("linux"):
    try:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        _prctl = None


def end_with(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Have the kernel send `sig` to this process when `parent_pid` (its parent) exits.

    A parent that already died between the fork and this call is not noticed by the kernel,
    so that case is checked by hand. Elsewhere than Linux this does nothing.
    """
    if _prctl is None:
        return
    _prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


def ends_with_us(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A `preexec_fn` for a child that must not outlive this process."""
    parent_pid = os.getpid()
    return lambda: end_with(parent_pid, sig)
