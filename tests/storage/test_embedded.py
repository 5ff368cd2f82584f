from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from pymongo import MongoClient

from homestay.storage.embedded import GRACE_SECONDS, EmbeddedServer, pid_alive


def test_data_written_before_a_stop_is_there_after_a_restart(tmp_path):
    with EmbeddedServer(tmp_path / "db") as server:
        with MongoClient(server.uri) as client:
            client.t.things.insert_one({"_id": 1, "name": "竹隐山居"})
    with EmbeddedServer(tmp_path / "db") as server:
        with MongoClient(server.uri) as client:
            assert client.t.things.find_one({"_id": 1})["name"] == "竹隐山居"


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        for p in pids:
            try:
                os.waitpid(p, os.WNOHANG)  # reap it, should it be ours
            except ChildProcessError:
                pass
        time.sleep(0.1)
    return not any(pid_alive(p) for p in pids)


def _orphaned(script: str) -> list[int]:
    """Runs `script` (which prints a pid and sleeps), kills it: [that pid, its children]."""
    # on the real clock: under libfaketime (the calendar runs) the database's shutdown waits
    # on absolute deadlines the shifted clock puts weeks away, whatever the parent does
    real_clock = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        text=True,
        env=real_clock,
    )
    keeper = int(parent.stdout.readline())
    kept = _children(keeper)
    assert pid_alive(keeper) and kept and all(pid_alive(p) for p in kept)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    return [keeper, *kept]


def test_the_database_process_dies_with_a_killed_parent(tmp_path):
    pids = _orphaned(f"""
        import time
        from homestay.storage.embedded import EmbeddedServer
        server = EmbeddedServer({str(tmp_path / "db")!r})
        server.start()
        print(server.pid, flush=True)
        time.sleep(600)
    """)
    assert _gone(pids, GRACE_SECONDS + 10)


def test_a_database_that_does_not_stop_when_asked_is_killed_after_the_grace_period():
    # what once happened: secantusd-py's stop hung in its SIGTERM handler, and the orphan
    # lived on with its port and storage
    deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    pids = _orphaned(f"""
        import subprocess, sys, time
        from homestay.storage.keeper import die_with_parent
        keeper = subprocess.Popen(
            [sys.executable, "-m", "homestay.storage.keeper", "1", "--",
             sys.executable, "-c", {deaf!r}],
            preexec_fn=die_with_parent,
        )
        time.sleep(1)  # the keeper has started its child
        print(keeper.pid, flush=True)
        time.sleep(600)
    """)
    assert _gone(pids, 15)


def test_an_exited_process_not_yet_reaped_is_not_alive():
    # an orphaned database waits, exited, for an init process to reap it; some never do
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{child.pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.05)
    else:
        raise AssertionError("the child did not exit")
    assert not pid_alive(child.pid)
    child.wait()
    assert not pid_alive(child.pid)


def test_a_running_process_is_alive():
    assert pid_alive(os.getpid())


async def test_reads_wait_for_the_embedded_database_while_it_is_busy(tmp_path):
    """The embedded database can leave others unanswered for seconds while it serves one large
    read (every homestay of a province of a million takes it ~40 s). A read waiting meanwhile
    finishes once it answers. The
    driver's monitor gives a silent server up after its heartbeat and connectTimeoutMS and
    cancels what is in flight on it (a retryable read is tried once more, then fails): the
    embedded URI's own connectTimeoutMS must hold, whatever short one the service passes for
    other databases (HOMESTAY_DB_SELECT_TIMEOUT_MS)."""
    import asyncio

    from homestay.storage.database import open_database

    with EmbeddedServer(":memory:") as server:
        database = open_database(
            server.uri,
            "t",
            connectTimeoutMS=500,
            serverSelectionTimeoutMS=2000,
            heartbeatFrequencyMS=500,
        )
        [db_pid] = _children(server._process.pid)
        try:
            await database.db.things.insert_one({"_id": 1, "name": "竹隐山居"})
            await asyncio.sleep(1.5)  # the monitor now streams: it awaits the server's news
            os.kill(db_pid, signal.SIGSTOP)  # busy: it answers no one for 5 s
            asyncio.get_running_loop().call_later(5, os.kill, db_pid, signal.SIGCONT)
            started = time.monotonic()
            found = await database.db.things.find_one({"_id": 1})
            assert time.monotonic() - started > 4  # it did wait
            assert found == {"_id": 1, "name": "竹隐山居"}
        finally:
            os.kill(db_pid, signal.SIGCONT)
            await database.close()
