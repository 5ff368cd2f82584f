"""The service served by uvicorn in the test's own event loop, for real WebSocket clients
(gql's websockets transport): subscriptions cannot go through an in-process transport."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from homestay.http.app import create_app
from homestay.storage.embedded import free_port


def base64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Served:
    def __init__(self, url: str, services) -> None:
        self.url = url
        self.services = services

    def client(self, token: str | None) -> Client:
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        return Client(
            transport=WebsocketsTransport(
                url=self.url,
                init_payload=payload,
                subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            )
        )

    async def until(self, condition, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def serving(settings, services) -> AsyncIterator[Served]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, services),
            host="127.0.0.1",
            port=port,
            log_config=None,
            ws_ping_interval=1,
            ws_ping_timeout=1,
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        yield Served(f"ws://127.0.0.1:{port}/graphql", services)
    finally:
        server.should_exit = True
        await task
        await services.live.feed.stop()


async def collect(session, document, variables, count: int, into: list) -> None:
    async for result in session.subscribe(GraphQLRequest(document, variable_values=variables)):
        into.append(result)
        if len(into) == count:
            return
