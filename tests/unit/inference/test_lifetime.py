"""die_with_parent: a child armed with it ends when the process that started it is killed."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.support.procs import running, wait_ended

PARENT = """
import subprocess, sys
from shared.inference.engines.lifetime import die_with_parent
child = subprocess.Popen(["sleep", "120"], start_new_session=True, preexec_fn=%s)
print(child.pid, flush=True)
sys.stdin.read()
"""


def _orphan_after_kill(preexec: str) -> bool:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT % preexec],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert running(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    left = wait_ended([child], timeout_s=5)
    for pid in left:
        subprocess.run(["kill", "-9", str(pid)], check=False)
    return bool(left)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_armed_child_ends_with_its_killed_parent() -> None:
    assert not _orphan_after_kill("die_with_parent()")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_unarmed_child_outlives_it() -> None:
    # The control: without the call the child is orphaned, so the test above can fail.
    assert _orphan_after_kill("None")
