"""Engine servers end with the service that started them.

A service killed with SIGKILL (the OOM killer, `kill -9`, a container runtime's stop timeout)
runs no cleanup. Its engine server, started in a session of its own so that a Ctrl-C in the
terminal reaches the service (which then stops the engine in order), would live on: an
orphaned llama-server holding its memory, its port and its threads, and a restarted service
starting a second one beside it. On Linux the kernel can signal a child when its parent dies
(PR_SET_PDEATHSIG); elsewhere nothing is armed and an orderly stop is the only stop.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `sig` when this process dies.

    SIGKILL by default: the parent is gone, so nobody waits for an orderly shutdown, and a
    server busy loading weights must not be able to outlive it. The kernel sends the signal
    when the *thread* that forked exits; engines are spawned from the event loop's thread,
    which lives as long as the service. None off Linux (nothing to arm).
    """
    if not sys.platform.startswith("linux"):
        return None
    # Looked up here, in the parent: between fork and exec the child should do as little as
    # it can (no imports, no allocation), since other threads' locks are frozen in the copy.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    number = int(sig)

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, number, 0, 0, 0)
        if os.getppid() != parent:
            # The parent died before the call: no signal will come, so end now.
            os._exit(1)

    return arm
