"""A real database behind every test: the embedded server, started once per session in memory
on a free port, or MONGODB_URI when set. Each test gets a database of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from pymongo import monitoring

from homestay.auth import Caller, Role
from homestay.exports import read_model
from homestay.graphql.common import global_id, parse_global_id
from homestay.http.app import create_app
from homestay.services import standards
from homestay.services.accounts import create_account
from homestay.services.registry import Services
from homestay.settings import ROOT, Settings
from homestay.storage.database import Database, apply_schema, open_database
from homestay.storage.embedded import EmbeddedServer

DEQING = "330521"
ANJI = "330523"
MOGANSHAN = (30.60, 119.87)


class CommandCounter(monitoring.CommandListener):
    """Counts the commands the driver sends, per database, for N+1 tests."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        filter_ = event.command.get("filter")
        self.commands.append(
            (
                event.database_name,
                event.command_name,
                sorted(filter_) if isinstance(filter_, dict) else None,
            )
        )

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def count(self, database: str) -> int:
        return sum(1 for db, _, _ in self.commands if db == database)


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"]
        return
    with EmbeddedServer(":memory:") as server:
        yield server.uri


@pytest.fixture(scope="session")
def command_counter() -> CommandCounter:
    return CommandCounter()


@pytest.fixture(scope="session")
async def client_database(
    mongodb_uri: str, command_counter: CommandCounter
) -> AsyncIterator[Database]:
    database = open_database(mongodb_uri, "homestay_test", event_listeners=[command_counter])
    yield database
    await database.close()


@pytest.fixture
async def db(client_database: Database) -> AsyncIterator[Database]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    database = Database(client=client_database.client, db=client_database.client[name])
    await apply_schema(database)
    await standards.publish_seed(database, ROOT / "seed")
    await read_model.ensure_built(database)  # as the service's start does on a new database
    yield database
    await client_database.client.drop_database(name)


@pytest.fixture
def settings(mongodb_uri: str) -> Settings:
    # the tests are a few addresses sending many requests: the limits are tested on their
    # own (app_with), with the figures they set
    return replace(
        Settings.from_env({}),
        mongodb_uri=mongodb_uri,
        environment="test",
        rate_auth_failures="1000/minute",
        rate_concerns="1000/hour",
        rate_concerns_per_certificate="1000/day",
    )


@pytest.fixture
def services(settings: Settings, db: Database) -> Services:
    return Services.build(settings, db)


def key(id: str) -> str:
    """The stored key behind a global id the API gave."""
    parsed = parse_global_id(id)
    assert parsed is not None, f"{id!r} is not a global id"
    return parsed[1]


def gid(kind: str, key: str) -> str:
    return global_id(kind, key)


@dataclass
class Staff:
    caller: Caller
    token: str

    @property
    def id(self) -> str:
        assert self.caller.account_id
        return self.caller.account_id


@pytest.fixture
def make_staff(db: Database):
    async def make(role: Role, county: str = DEQING, name: str | None = None) -> Staff:
        new = await create_account(
            db, role=role.value, name=name or f"{role.value} {county}", counties=[county]
        )
        return Staff(new.account.caller(), new.token)

    return make


@pytest.fixture
def make_operator(db: Database):
    """An OPERATOR account running these homestays (by key), as the command line makes it."""

    async def make(homestay_keys: list[str], name: str = "Host Zhang") -> Staff:
        new = await create_account(
            db, role=Role.OPERATOR.value, name=name, homestay_ids=homestay_keys
        )
        return Staff(new.account.caller(), new.token)

    return make


@pytest.fixture
async def inspector(make_staff) -> Staff:
    return await make_staff(Role.INSPECTOR, DEQING, "Inspector Wang")


@pytest.fixture
async def bureau(make_staff) -> Staff:
    return await make_staff(Role.BUREAU, DEQING, "Reviewer Li")


@pytest.fixture
async def anji_inspector(make_staff) -> Staff:
    return await make_staff(Role.INSPECTOR, ANJI, "Inspector Chen")


@pytest.fixture
async def anji_bureau(make_staff) -> Staff:
    return await make_staff(Role.BUREAU, ANJI, "Reviewer Zhao")


class Api:
    """The HTTP API as an app sees it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def raw(
        self,
        query: str,
        variables: dict | None = None,
        token: str | None = None,
        headers: dict | None = None,
    ) -> dict:
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=h
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def query(
        self, query: str, variables: dict | None = None, token: str | None = None, **kw: Any
    ) -> dict:
        body = await self.raw(query, variables, token, **kw)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def error_code(
        self, query: str, variables: dict | None = None, token: str | None = None
    ) -> str:
        body = await self.raw(query, variables, token)
        assert body.get("errors"), body
        return body["errors"][0]["extensions"]["code"]


@pytest.fixture
async def api(settings: Settings, services: Services) -> AsyncIterator[Api]:
    app = create_app(settings, services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(client)


@pytest.fixture
def app_with(settings, services):
    """An API over the test database with some settings changed."""

    async def make(**changes) -> httpx.AsyncClient:
        app = create_app(replace(settings, **changes), services)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    return make


@pytest.fixture
async def unanswered(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP API over a database that does not answer (nothing listens on its port)."""
    from homestay.storage.embedded import free_port

    dead = open_database(
        f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        "x",
        serverSelectionTimeoutMS=300,
    )
    app = create_app(settings, Services.build(replace(settings, readiness_timeout_ms=300), dead))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield client
    await dead.close()
