"""`make eval`: the quality harness over the three features, on the production handlers.

Runs each task's evaluation (tests/eval/<task>.py) in its own process, shows its output, and
repeats the result lines together at the end: `eval summarize: rougeL=<x> faithful=<x>`,
`eval proofread: gleu=<x>`, `eval emoji: top1=<x> top5=<x>`, `eval tone: changed_verified=<x>
baseline=<x>`, `eval verifiers: false_reject=<x> false_accept=<x> baseline=<x>/<x>`.
The data path defaults to ../shared/eval (it is never copied into the repository); the tone
and verifier sets are in tests/eval/data and the verifier set is always run whole.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

TASKS = ("summarize", "proofread", "emoji", "tone", "verifiers")
# Tasks whose data is in the repository and that take no --data.
IN_REPO = ("tone", "verifiers")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="eval data folder (default ../shared/eval)")
    parser.add_argument("--limit", type=int, default=None, help="items per task (0 = all)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args()
    finals: list[str] = []
    status = 0
    for task in args.tasks.split(","):
        cmd = [sys.executable, "-m", f"tests.eval.{task}"]
        if args.data and task not in IN_REPO:
            cmd += ["--data", args.data]
        if args.limit is not None and task != "verifiers":
            # The emoji eval ranks tweets cheaply; its limit is the size of the held-out split.
            cmd += ["--test" if task == "emoji" else "--limit", str(args.limit)]
        print(f"== {task}: {' '.join(cmd[1:])}", flush=True)
        started = time.monotonic()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
        print(proc.stdout, end="", flush=True)
        print(f"== {task}: {time.monotonic() - started:.0f}s, exit {proc.returncode}", flush=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(f"eval {task}:")]
        if proc.returncode != 0 or not lines:
            status = 1
            finals.append(f"eval {task}: FAILED (exit {proc.returncode})")
        else:
            finals.append(lines[-1])
    print("\n".join(finals))
    return status


if __name__ == "__main__":
    sys.exit(main())
