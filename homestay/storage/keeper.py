"""The embedded database's keeper: a small process between the service and `secantusd-py`.

Linux delivers SIGTERM to a child whose parent dies (PR_SET_PDEATHSIG), and secantusd-py
stops on SIGTERM, usually within 3 s. Not always: once, under a loaded test run, its stop hung
in its signal handler and the orphan lived on, holding its port and its storage (a restarted
service could not open it). Nothing is left to send SIGKILL once the parent is dead, so this
keeper stays: it is what the service starts, it dies with the service the same way, and it
stops the database as the service would have, SIGTERM and then, after the grace period,
SIGKILL. It exits only once the database has, with its exit code.

    python -m homestay.storage.keeper GRACE_SECONDS -- COMMAND...

Standard library only, and it never imports SecantusDB (GPL-2.0): it runs it.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from types import FrameType

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # pragma: no cover - runs in a child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def main(argv: list[str]) -> int:
    grace, separator, *command = argv
    if separator != "--" or not command:
        print("usage: python -m homestay.storage.keeper GRACE -- COMMAND...", file=sys.stderr)
        return 2
    stop_asked: list[int] = []

    def ask_to_stop(signum: int, frame: FrameType | None) -> None:
        stop_asked.append(signum)

    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)
    child = subprocess.Popen(
        command, preexec_fn=die_with_parent if sys.platform.startswith("linux") else None
    )
    while child.poll() is None and not stop_asked:
        time.sleep(0.1)
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)  # WiredTiger checkpoints and closes
        try:
            child.wait(float(grace))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    code = child.returncode
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
