"""Processes seen from /proc (Linux): whose child a process is, and whether it still runs."""

from __future__ import annotations

import time
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after it.
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int, name: str | None = None) -> list[int]:
    """Direct children of `pid` now; only those whose command is `name`, if given."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or not (fields := _stat(int(entry.name))):
            continue
        if int(fields[1]) == pid and (name is None or _comm(int(entry.name)) == name[:15]):
            found.append(int(entry.name))
    return found


def _comm(pid: int) -> str | None:
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a reaped-late orphan counts as ended)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in {"Z", "X"}


def wait_ended(pids: list[int], timeout_s: float) -> list[int]:
    """The pids of `pids` still running after up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while (left := [p for p in pids if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left
