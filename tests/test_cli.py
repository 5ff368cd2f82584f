"""The command line as a person runs it: real processes, real output."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from homestay.storage.embedded import free_port, pid_alive
from tests.served import wait_for

HOMESTAY = [sys.executable, "-m", "homestay.cli"]


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*HOMESTAY, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_account_create_prints_a_working_token_on_the_last_line(mongodb_uri, tmp_path):
    env = {"MONGODB_URI": mongodb_uri, "HOMESTAY_DB": "cli_accounts"}
    done = run(
        ["account", "create", "--role", "inspector", "--county", "330521", "--name", "张三"], env
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("hs_") and len(token) > 40
    revoke_id = done.stdout.split("id ")[1].split()[0]
    assert run(["account", "revoke", revoke_id], env).returncode == 0
    assert run(["account", "revoke", revoke_id], env).returncode == 1


def test_account_create_names_a_bad_county(mongodb_uri):
    done = run(
        ["account", "create", "--role", "bureau", "--county", "123", "--name", "x"],
        {"MONGODB_URI": mongodb_uri, "HOMESTAY_DB": "cli_accounts"},
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "homestay: counties.0: no county with code '123'"


def test_an_unreachable_mongodb_is_one_line_not_a_traceback():
    done = run(
        ["account", "create", "--role", "bureau", "--county", "330521", "--name", "x"],
        {"MONGODB_URI": f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=500"},
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "cannot reach MongoDB" in done.stderr and "MONGODB_URI" in done.stderr


def test_a_port_in_use_is_one_line_not_a_traceback(mongodb_uri):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run(["serve"], {"MONGODB_URI": mongodb_uri, "PORT": str(port)})
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"homestay: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in done.stderr


def test_a_bad_setting_is_named():
    done = run(["serve"], {"PORT": "eighty"})
    assert done.returncode == 1
    assert done.stderr.strip() == "homestay: PORT must be a whole number, not 'eighty'"


def _serve(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "HOMESTAY_DATA_DIR": str(data_dir), "PORT": str(port)}
    env.pop("MONGODB_URI", None)
    return subprocess.Popen(
        [*HOMESTAY, "serve", "--demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(port: int, process: subprocess.Popen, timeout: float = 180) -> None:
    wait_for(f"http://127.0.0.1:{port}/readyz", process, timeout, process.stderr.read)


def _me(port: int, token: str) -> dict:
    return httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        timeout=10,
        json={"query": "{ me { name role } }"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()


@pytest.mark.skipif(bool(os.environ.get("MONGODB_URI")), reason="exercises the embedded default")
def test_serve_runs_the_demo_on_the_embedded_database_and_keeps_it(tmp_path):
    port = free_port()
    service = _serve(tmp_path, port)
    try:
        _wait_ready(port, service)
        accounts_file = tmp_path / "demo-accounts.json"
        assert stat.S_IMODE(accounts_file.stat().st_mode) == 0o600  # bureau tokens inside
        accounts = json.loads(accounts_file.read_text(encoding="utf-8"))
        roles = {(a["role"], a["county"]) for a in accounts}
        assert {
            ("INSPECTOR", "330521"),
            ("BUREAU", "330521"),
            ("INSPECTOR", "330523"),
            ("BUREAU", "330523"),
        } <= roles
        assert _me(port, accounts[0]["token"])["data"]["me"]["role"] == accounts[0]["role"]
        html = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"})
        assert "graphiql" in html.text.lower()
        search = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={
                "query": """{
            searchStays(near: {lat: 30.60, lng: 119.87}, radiusMeters: 20000) { totalCount } }"""
            },
        ).json()
        assert search["data"]["searchStays"]["totalCount"] > 50
        database_pid = json.loads((tmp_path / "embedded.json").read_text())["pid"]
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(60)
    first_log = service.stderr.read()
    assert service.returncode == 0, first_log
    assert all(a["token"] in first_log for a in accounts)  # shown once, when made
    assert not pid_alive(database_pid)
    assert not (tmp_path / "embedded.json").exists()

    # started again: the same data, no second demo load, the same tokens still work
    service = _serve(tmp_path, port)
    try:
        _wait_ready(port, service)
        assert _me(port, accounts[1]["token"])["data"]["me"]["role"] == accounts[1]["role"]
        count = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={
                "query": """{
            searchStays(near: {lat: 30.60, lng: 119.87}, radiusMeters: 20000) { totalCount } }"""
            },
        ).json()["data"]["searchStays"]["totalCount"]
        assert count == search["data"]["searchStays"]["totalCount"]
    finally:
        service.send_signal(signal.SIGINT)
        service.wait(60)
    second_log = service.stderr.read()
    assert "loading the demo data" not in second_log
    assert not any(a["token"] in second_log for a in accounts)  # never again
    assert str(accounts_file) in second_log


async def _two_counties_certified(api, inspector, bureau, anji_inspector, anji_bureau) -> None:
    from tests.graphql.flows import certify

    await certify(api, inspector.token, bureau.token, name='竹隐, "山居"')
    await certify(api, inspector.token, bureau.token, name="云上人家")
    await certify(
        api,
        anji_inspector.token,
        anji_bureau.token,
        name="安吉竹海",
        county="330523",
        address="安吉县天荒坪镇",
        location={"lat": 30.63, "lng": 119.68},
    )


async def test_export_to_a_pipe_writes_the_file_and_no_progress_bar(
    api, db, mongodb_uri, inspector, bureau, anji_inspector, anji_bureau, tmp_path
):
    import asyncio
    import csv

    await _two_counties_certified(api, inspector, bureau, anji_inspector, anji_bureau)
    env = {"MONGODB_URI": mongodb_uri, "HOMESTAY_DB": db.db.name}
    done = await asyncio.to_thread(
        subprocess.run,
        [*HOMESTAY, "export", "--format", "csv", "--county", "330521"],
        env={**os.environ, **env},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""  # piped: no progress bar, no chatter
    rows = list(csv.DictReader(done.stdout.decode("utf-8-sig").splitlines()))
    assert sorted(r["民宿名称"] for r in rows) == sorted(['竹隐, "山居"', "云上人家"])

    out = tmp_path / "all.json"
    done = await asyncio.to_thread(run, ["export", "-f", "json", "-o", str(out)], env)
    assert done.returncode == 0, done.stderr
    assert {r["county"] for r in json.loads(out.read_text(encoding="utf-8"))} == {
        "330521",
        "330523",
    }

    bad = await asyncio.to_thread(run, ["export", "-f", "csv", "--grade", "GOLD"], env)
    assert bad.returncode == 1 and bad.stderr.startswith("homestay: grade:")
    assert "Traceback" not in bad.stderr


async def test_export_shows_a_progress_bar_on_a_terminal(
    api, db, mongodb_uri, inspector, bureau, anji_inspector, anji_bureau, tmp_path
):
    import asyncio
    import pty

    await _two_counties_certified(api, inspector, bureau, anji_inspector, anji_bureau)
    leader, follower = pty.openpty()
    out = tmp_path / "list.xlsx"
    env = {
        **os.environ,
        "MONGODB_URI": mongodb_uri,
        "HOMESTAY_DB": db.db.name,
        "COLUMNS": "100",
        "TERM": "xterm",
    }
    with open(out, "wb") as sink:
        done = await asyncio.to_thread(
            subprocess.run,
            [*HOMESTAY, "export", "--format", "xlsx"],
            env=env,
            stdout=sink,
            stderr=follower,
            timeout=120,
        )
    os.close(follower)
    shown = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        shown += data
    os.close(leader)
    assert done.returncode == 0
    assert b"exported 3 certificates" in shown
    assert b"3/3" in shown or b"exporting" in shown  # the bar, drawn on the terminal
    assert out.read_bytes()[:2] == b"PK"  # an .xlsx is a zip


# gunicorn's arbiter sleeps between its looks at the workers, and under libfaketime (a suite
# run with the clock pinned) with the monotonic clock left real, time.sleep fails (EINVAL):
# the tests of several workers, which read no calendar, run the service on the real clock
WITHOUT_FAKETIME = {"LD_PRELOAD": "", "FAKETIME": ""}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_service_starts_before_its_database_and_recovers_by_itself(tmp_path, workers):
    """With several workers too: their parent cannot build the copies it would share, so
    each worker builds its own once the database answers."""
    from homestay.storage.embedded import EmbeddedServer

    db_port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "MONGODB_URI": f"mongodb://127.0.0.1:{db_port}/?directConnection=true",
        "PORT": str(api_port),
        "HOMESTAY_DB": "late_database",
        "HOMESTAY_DATA_DIR": str(tmp_path),
        "HOMESTAY_WORKERS": workers,
        **WITHOUT_FAKETIME,
    }
    log = (tmp_path / "serve.log").open("wb")
    service = subprocess.Popen([*HOMESTAY, "serve"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{api_port}"
    query = {"query": "{ gradingStandard { code version } }"}
    try:
        # alive without its database
        wait_for(f"{url}/healthz", service, 60, (tmp_path / "serve.log").read_text)
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 503
        started = time.monotonic()
        body = httpx.post(f"{url}/graphql", json=query, timeout=10).json()
        assert time.monotonic() - started < 5  # a clear answer, quickly: nothing hangs
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"

        with EmbeddedServer(":memory:", port=db_port):
            up = time.monotonic()
            while (ready := httpx.get(f"{url}/readyz", timeout=10)).status_code != 200:
                assert time.monotonic() - up < 10, "not ready 10 s after the database came up"
                time.sleep(0.2)
            assert ready.json()["copies"] == "own"
            # the schema and the seed standard were applied on its own
            data = httpx.post(f"{url}/graphql", json=query, timeout=10).json()["data"]
            assert data["gradingStandard"] == {"code": "deqing-homestay", "version": 1}
    finally:
        service.terminate()
        service.wait(30)
        log.close()


def test_serve_runs_several_api_processes_on_one_port_and_replaces_one_that_dies(
    mongodb_uri, tmp_path
):
    """`serve --workers 2` over one database: two processes answer on the port, each
    searching from the copies its parent built (shared, not built again), a worker killed is
    replaced, stays certified before and after the replacement are found through every
    worker (the copies caught up from the parent's, not frozen at its start), and SIGHUP
    replaces both workers while the port keeps answering."""
    import os
    import signal
    import time
    import uuid

    import httpx

    from tests.search.test_skewed_clocks import certify, found
    from tests.served import account, serving

    def processes(url: str, asks: int = 40, restarting: bool = False) -> set[int]:
        seen = set()
        for _ in range(asks):  # a new connection each time: the kernel spreads them
            with httpx.Client(timeout=10) as client:
                try:
                    answer = client.get(f"{url}/readyz")
                except httpx.TransportError:
                    # a connection a stopping worker accepted before it read the request is
                    # closed unanswered (uvicorn's shutdown): nothing was done, a balancer
                    # retries it; only while the workers restart
                    if restarting:
                        continue
                    raise
                if answer.status_code == 200:
                    assert answer.json()["copies"] == "inherited"
                    seen.add(answer.json()["process"])
        return seen

    database = f"workers_{uuid.uuid4().hex[:8]}"
    with serving(mongodb_uri, tmp_path, database, HOMESTAY_WORKERS="2", **WITHOUT_FAKETIME) as (
        url,
        parent,
    ):
        inspector = account(mongodb_uri, database, "inspector")
        bureau = account(mongodb_uri, database, "bureau")
        deadline = time.monotonic() + 60
        seen: set[int] = set()
        while len(seen) < 2 and time.monotonic() < deadline:
            seen |= processes(url)
        assert len(seen) == 2, seen  # two workers, each with its own pid
        assert parent.pid not in seen
        _, before = certify(url, inspector, bureau, "竹林小院")
        victim = min(seen)
        os.kill(victim, signal.SIGKILL)
        replaced: set[int] = set()
        while time.monotonic() < deadline + 60 and not (replaced - seen):
            replaced |= processes(url, 10)
            time.sleep(0.2)
        assert replaced - seen, "no new worker took the killed one's place"
        assert victim not in processes(url)
        _, after = certify(url, inspector, bureau, "溪畔人家")
        for _ in range(20):  # a new connection each: both workers answer some
            assert {before, after} <= found(url)
        # SIGHUP: a graceful restart, new workers forked in place of the old ones
        old = processes(url)
        os.kill(parent.pid, signal.SIGHUP)
        renewed: set[int] = set()
        while time.monotonic() < deadline + 120 and len(renewed - old) < 2:
            renewed |= processes(url, 10, restarting=True)
            time.sleep(0.2)
        assert len(renewed - old) == 2, (old, renewed)
        time.sleep(1.0)  # the old ones' last connections closed
        assert not processes(url) & old
        assert {before, after} <= found(url)
