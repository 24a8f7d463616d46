"""Exit statuses of a service process, so a supervisor can tell a crash from a shutdown.

0 is a requested stop; anything else means "restart me". Values follow BSD sysexits.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    # SIGTERM/SIGINT: in-flight work finished (bounded), offsets committed, group left.
    STOPPED = 0
    # Anything unexpected outside the two cases below (Python's own status for an error).
    ERROR = 1
    # Start-up failed: broker or database unreachable, topics not created, models not loaded.
    START_FAILED = 69  # EX_UNAVAILABLE
    # The consume loop died while running (its Kafka client failed, a lane task died).
    LOOP_CRASHED = 70  # EX_SOFTWARE
