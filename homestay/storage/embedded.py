"""The embedded default database: SecantusDB run as a child process.

SecantusDB is GPL-2.0, so it is only ever executed (`secantusd-py`), never imported. It runs
under a keeper (storage/keeper.py) tied to this process: Linux delivers the keeper SIGTERM if
we die without stopping it, and the keeper stops the database, by SIGKILL if SIGTERM was not
enough, so a killed service never leaves a database process behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from homestay.storage.keeper import die_with_parent

# how long the database may take to checkpoint and close once asked to stop
GRACE_SECONDS = 20.0
# How long a client waits on the embedded database before giving it up. It is one Python
# process, and while it serves one large read (every homestay of a province of 1,000,000
# takes it ~40 s) it can leave others unanswered for seconds on end; the driver's monitor,
# unanswered for its heartbeat and connectTimeoutMS, gives the server up and cancels every
# operation in flight on it (seen: that read cancelled 12 s in, twice, with the service's
# 2 s), so the build that asked for the read never finished. A local process that is gone
# refuses a connection at once, so waiting longer hides no failure; each request stays
# bounded by its own database budget.
STALL_MS = 120_000


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database could not be started; the message says what to do."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _executable() -> str:
    beside_python = Path(sys.executable).parent / "secantusd-py"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("secantusd-py")
    if not found:
        raise EmbeddedDatabaseError(
            "secantusd-py was not found: install the project (python3 dev.py serve does) "
            "or set MONGODB_URI to a MongoDB server"
        )
    return found


class EmbeddedServer:
    """One `secantusd-py` child. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        storage_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.storage_path = str(storage_path)
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def uri(self) -> str:
        return (
            f"mongodb://{self.host}:{self.port}/?directConnection=true&connectTimeoutMS={STALL_MS}"
        )

    def start(self, timeout: float = 60.0) -> str:
        if self.storage_path != ":memory:":
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        out = self._log_file or subprocess.DEVNULL
        # nothing to save in memory: the tests' database goes at once
        grace = 0.0 if self.storage_path == ":memory:" else GRACE_SECONDS
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "homestay.storage.keeper",
                str(grace),
                "--",
                _executable(),
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--storage-path",
                self.storage_path,
                "--log-level",
                "WARNING",
            ],
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
        )
        self._wait_until_ready(timeout)
        return self.uri

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client: MongoClient = MongoClient(self.uri, serverSelectionTimeoutMS=500)
        try:
            while True:
                if self._process is not None and self._process.poll() is not None:
                    where = f"; see {self.log_path}" if self.log_path else ""
                    raise EmbeddedDatabaseError(
                        f"the embedded database exited at start (code {self._process.returncode})"
                        f"{where}; is another homestay using {self.storage_path}?"
                    )
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise EmbeddedDatabaseError(
                            f"the embedded database did not answer ping within {timeout:.0f} s"
                        ) from None
                    time.sleep(0.1)
        finally:
            client.close()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # the keeper asks the database (SIGTERM lets WiredTiger checkpoint and close: what
            # was written stays written), and kills it past the grace period
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(GRACE_SECONDS + 10)
            except subprocess.TimeoutExpired:  # the keeper itself stuck: its child dies with it
                process.kill()
                process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a running process. A zombie is not: it has exited, freed its port and
    its storage, and only waits for whoever adopted it to reap it (which some init processes
    take seconds to do, and some never do)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        # gone since kill(0), or a system without /proc, where kill(0) is all we can know
        return not Path("/proc/self/stat").exists()
    except OSError:
        return True
    state = stat.rsplit(")", 1)[1].split()[0]  # the name in parentheses may hold spaces
    return state not in ("Z", "X")
