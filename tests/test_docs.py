"""The docs run: every GraphQL example in README.md and docs/ is a named operation, answered
without an error against the demo data, in the order the pages give them; every command-line
example of the tool runs too.

Conventions of an example (README.md says them): a ```graphql block, optionally followed by
a ```json block of its variables; `# as ROLE` names whose demo token it needs; a variable
written "@name" stands for an id of the demo (DEMO_VALUES says how each is found); `# expect
errors` marks one whose payload errors are the point.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta

import httpx
import pytest
from graphql import OperationDefinitionNode, parse

from homestay.clock import china_date, utcnow
from homestay.demo import load_demo
from homestay.graphql.common import global_id
from homestay.http.app import create_app
from homestay.services import standards
from homestay.services.registry import Services
from homestay.settings import ROOT
from homestay.storage.database import Database, apply_schema
from tests.live_server import collect, serving

PAGES = ["README.md", "docs/api.md", "docs/operations.md", "docs/architecture.md"]
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


@dataclass(frozen=True)
class Example:
    page: str
    document: str
    variables: dict
    role: str | None
    expect_errors: bool

    @property
    def subscription(self) -> bool:
        return any(
            isinstance(d, OperationDefinitionNode) and d.operation.value == "subscription"
            for d in parse(self.document).definitions
        )

    @property
    def name(self) -> str:
        names = [
            d.name.value if d.name else "(anonymous)"
            for d in parse(self.document).definitions
            if isinstance(d, OperationDefinitionNode)
        ]
        return "+".join(names)


def examples() -> list[Example]:
    found = []
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        blocks = list(_BLOCK.finditer(text))
        for i, block in enumerate(blocks):
            if block.group(1) != "graphql":
                continue
            variables: dict = {}
            after = blocks[i + 1] if i + 1 < len(blocks) else None
            if (
                after is not None
                and after.group(1) == "json"
                and not text[block.end() : after.start()].strip()
            ):
                variables = json.loads(after.group(2))
            body = block.group(2)
            role = re.search(r"^# as (\w+)$", body, re.M)
            found.append(
                Example(
                    page,
                    body,
                    variables,
                    role.group(1) if role else None,
                    "# expect errors" in body,
                )
            )
    return found


EXAMPLES = examples()


def commands() -> list[str]:
    """The tool's command lines in the pages' ```sh blocks."""
    lines = []
    for page in PAGES:
        for block in _BLOCK.finditer((ROOT / page).read_text(encoding="utf-8")):
            if block.group(1) == "sh":
                lines += [
                    line.split("  #")[0].strip()
                    for line in block.group(2).splitlines()
                    if line.startswith(".venv/bin/homestay ")
                ]
    return lines


def test_the_pages_hold_examples_of_every_user_and_each_is_named():
    assert len(EXAMPLES) >= 20
    roles = {e.role for e in EXAMPLES}
    assert {None, "INSPECTOR", "BUREAU", "OPERATOR"} <= roles
    anonymous = [(e.page, e.document[:60]) for e in EXAMPLES if "(anonymous)" in e.name]
    assert anonymous == []  # code generators (ariadne-codegen) refuse anonymous operations
    assert len(commands()) >= 3


@pytest.fixture(scope="module")
async def demo(client_database: Database, mongodb_uri: str, tmp_path_factory):
    """The demo loaded into a database of its own, as `serve` loads it; its tokens."""
    from homestay.settings import Settings

    name = f"docs_{uuid.uuid4().hex[:8]}"
    database = Database(client=client_database.client, db=client_database.client[name])
    await apply_schema(database)
    await standards.publish_seed(database, ROOT / "seed")
    settings = replace(Settings.from_env({}), mongodb_uri=mongodb_uri, database=name)
    services = Services.build(settings, database)
    accounts_file = tmp_path_factory.mktemp("demo") / "accounts.json"
    await load_demo(services, accounts_file)
    accounts = json.loads(accounts_file.read_text())
    yield database, services, settings, accounts
    await client_database.client.drop_database(name)


async def _demo_values(database: Database, services: Services, accounts: list[dict]) -> dict:
    """What each "@name" of the examples stands for, found in the demo."""
    db = database.db
    now = utcnow()
    operator = await db.accounts.find_one({"name": "张老板 Zhang (operator)"})
    assert operator is not None
    runs = operator["homestayIds"]
    inspected = set(await db.inspections.distinct("homestayId"))
    uninspected = await db.homestays.find_one(
        {"county": "330521", "_id": {"$nin": list(inspected) + runs}}
    )
    valid = await db.certificates.find_one(
        {"status": "VALID", "expiresAt": {"$gt": now}, "county": "330521"}, sort=[("_id", 1)]
    )
    waiting = await db.inspections.find_one({"status": "SUBMITTED", "county": "330521"})
    concern = await db.concerns.find_one({"status": "OPEN", "county": "330521"})
    standard = await services.standards.find()
    drawn = await db.assignments.find_one({"county": "330521", "status": "OPEN", "inspector": None})
    sun = await db.accounts.find_one({"name": "孙检查员 Sun (Deqing inspector)"})
    assert uninspected and valid and waiting and concern and standard and drawn and sun
    checklist = [
        {"itemCode": item.code, "passed": True}
        if item.kind.value == "MANDATORY"
        else {"itemCode": item.code, "points": item.max_points}
        for item in standard.items
    ]
    return {
        "@certificate": valid["_id"],
        "@operatorHomestay": global_id("Homestay", runs[0]),
        "@uninspectedOperatorHomestay": global_id("Homestay", runs[1]),
        "@uninspectedHomestay": global_id("Homestay", uninspected["_id"]),
        "@inspectionToReview": global_id("Inspection", waiting["_id"]),
        "@concern": global_id("Concern", concern["_id"]),
        "@receipt": concern["receipt"],
        "@checklist": checklist,
        "@drawnHomestay": global_id("Homestay", drawn["homestayId"]),
        "@secondInspector": global_id("Account", sun["_id"]),
        "@tomorrow": (china_date(now) + timedelta(days=1)).isoformat(),
    }


def _filled(value, known: dict):
    if isinstance(value, dict):
        return {k: _filled(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, known) for v in value]
    if value == "@uuid":
        return str(uuid.uuid4())
    if isinstance(value, str) and value.startswith("@"):
        assert value in known, f"no demo value for {value}"
        return known[value]
    return value


def _token(accounts: list[dict], role: str) -> str:
    return next(a["token"] for a in accounts if a["role"] == role and a["county"] == "330521")


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"{e.page}:{e.name}" for e in EXAMPLES])
async def test_the_example_runs_against_the_demo(demo, example: Example):
    database, services, settings, accounts = demo
    known = await _demo_values(database, services, accounts)
    headers = {"Accept-Language": "en"}
    if example.role is not None:
        headers["Authorization"] = f"Bearer {_token(accounts, example.role)}"
    if example.subscription:
        await _subscribed(example, settings, services, known, _token(accounts, example.role))
        return
    app = create_app(settings, services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://docs"
    ) as client:
        response = await client.post(
            "/graphql",
            json={"query": example.document, "variables": _filled(example.variables, known)},
            headers=headers,
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    payload_errors = [
        error
        for value in body["data"].values()
        if isinstance(value, dict)
        for error in value.get("errors") or []
    ]
    if example.expect_errors:
        assert payload_errors, body
    else:
        assert payload_errors == [], payload_errors
        assert all(v is not None for v in body["data"].values()), body


async def _subscribed(example: Example, settings, services, known: dict, token: str) -> None:
    """A subscription example, over a real socket: its first event, once a guest reports a
    concern (the desk's) and nothing else, answered without an error."""
    received: list[dict] = []
    async with serving(settings, services) as live, live.client(token) as session:
        listening = asyncio.create_task(
            collect(session, example.document, _filled(example.variables, known), 1, received)
        )
        await live.until(lambda: services.live.feed.subscribers == 1)
        app = create_app(settings, services)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://docs"
        ) as client:
            reported = await client.post(
                "/graphql",
                json={
                    "query": """mutation($n: String!) { reportConcern(input: {
                    certificateNumber: $n, category: SERVICE, description: "前台无人"}) {
                    errors { code } } }""",
                    "variables": {"n": known["@certificate"]},
                },
            )
            assert reported.json()["data"]["reportConcern"]["errors"] == []
        await asyncio.wait_for(listening, 10)
    assert received and all(v is not None for v in received[0].values()), received


def test_the_command_line_examples_run(demo, tmp_path):
    database, _, settings, _ = demo
    env = {
        **os.environ,
        "MONGODB_URI": settings.mongodb_uri or "",
        "HOMESTAY_DB": database.db.name,
    }
    made_id = None
    for line in commands():
        if "ACCOUNT_ID" in line:
            assert made_id, "an example revokes an account before one is made"
            line = line.replace("ACCOUNT_ID", made_id)
        words = shlex.split(line.split(">")[0])
        done = subprocess.run(
            [sys.executable, "-m", "homestay.cli", *words[1:]],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (line, done.stderr[-1000:])
        if " id " in done.stdout:
            made_id = done.stdout.split(" id ")[1].split()[0]
    assert made_id is not None
