from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from pymongo import MongoClient

from homestay.storage.embedded import EmbeddedServer, pid_alive


def test_data_written_before_a_stop_is_there_after_a_restart(tmp_path):
    with EmbeddedServer(tmp_path / "db") as server:
        with MongoClient(server.uri) as client:
            client.t.things.insert_one({"_id": 1, "name": "竹隐山居"})
    with EmbeddedServer(tmp_path / "db") as server:
        with MongoClient(server.uri) as client:
            assert client.t.things.find_one({"_id": 1})["name"] == "竹隐山居"


def test_the_database_process_dies_with_a_killed_parent(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from homestay.storage.embedded import EmbeddedServer
        server = EmbeddedServer({str(tmp_path / "db")!r})
        server.start()
        print(server.pid, flush=True)
        time.sleep(600)
    """)
    # on the real clock: under libfaketime (the calendar runs) the database's shutdown waits
    # on absolute deadlines the shifted clock puts weeks away, whatever the parent does
    real_clock = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=real_clock
    )
    child_pid = int(parent.stdout.readline())
    assert pid_alive(child_pid)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while pid_alive(child_pid) and time.monotonic() < deadline:
        try:
            os.waitpid(child_pid, os.WNOHANG)  # reap it, should it be ours
        except ChildProcessError:
            pass
        time.sleep(0.1)
    assert not pid_alive(child_pid)


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
