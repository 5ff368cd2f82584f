"""GraphQL over HTTP: strawberry's view, with our refusals, caching headers and context."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Mapping
from contextlib import suppress
from contextvars import ContextVar
from datetime import timedelta
from functools import cached_property
from typing import Any

import pymongo
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from homestay.errors import (
    ApiError,
    BadRequest,
    PayloadTooLarge,
    PersistedQueryNotFound,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from homestay.graphql.context import Context, language
from homestay.graphql.executor.core import core_schema
from homestay.graphql.executor.cost import HEAVY
from homestay.http import graphiql
from homestay.http.errors import error_response
from homestay.http.guard import caller_of, client_address, identify_header, request_address
from homestay.services import persisted
from homestay.services.registry import Services

# a public GET query may be cached this long by a CDN or the phone
PUBLIC_MAX_AGE_S = 30


# strawberry's plain-text refusals, as coded errors naming the part of the request
_REFUSALS: dict[str, ApiError] = {
    "Unable to parse request body as JSON": BadRequest("body", "not valid JSON"),
    "Unsupported content type": UnsupportedMediaType(
        "Content-Type", "send application/json (or GET with ?query=)"
    ),
    "No GraphQL query found in the request": BadRequest("query", "no GraphQL query in the request"),
}
_request: ContextVar[Request] = ContextVar("request")
GRAPHQL_RESPONSE = "application/graphql-response+json"
# errors that refuse the request before anything runs: 400, and no `data`, for a client that
# accepts GraphQL over HTTP's own media type
_REQUEST_ERRORS = {
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "QUERY_TOO_COMPLEX",
    "QUERY_TOO_COSTLY",
}


def _revalidated(request: Request, response: Response) -> Response:
    """A public GET answer carries an ETag of its body; a client or CDN that has it gets 304."""
    etag = 'W/"' + hashlib.sha256(bytes(response.body)).hexdigest()[:32] + '"'
    response.headers["ETag"] = etag
    if_none_match = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",") if t.strip()}
    if etag.removeprefix("W/") in tags or "*" in tags:
        kept = {
            k: v
            for k, v in response.headers.items()
            if k.lower() in ("etag", "cache-control", "vary")
        }
        return Response(status_code=304, headers=kept)
    return response


def _accepts_graphql_response(accept: str) -> bool:
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        if media.lower() == GRAPHQL_RESPONSE:
            return not any(p.replace(" ", "") in ("q=0", "q=0.0") for p in parameters)
    return False


def _refused_before_running(body: Any) -> bool:
    """A request refused before it ran: a document that does not parse or validate, or
    variables that do not coerce. GraphQL over HTTP answers it 400 with no `data`."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors or body.get("data") is not None:
        return False
    first = errors[0].get("extensions", {})
    return first.get("code") in _REQUEST_ERRORS or (
        first.get("code") == "BAD_USER_INPUT"
        and str(errors[0].get("message", "")).startswith("Variable '$")
    )


def _as_graphql_response(response: Response) -> Response:
    """GraphQL over HTTP's own media type for a refusal made outside GraphQL's execution (the
    guard's, the view's): its body read back, as an answer's is shaped in process_result."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return response
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return response
    status = response.status_code
    if status == 200 and _refused_before_running(body):
        status = 400
        body.pop("data", None)
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "content-type")
    }
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type=GRAPHQL_RESPONSE,
    )


MAX_QUERY_CHARS = 20_000  # the apps' largest document is about 1,500 characters
LARGE_ANSWER = HEAVY  # a query priced past this has its answer encoded in a worker thread


def encode(data: object) -> str:
    # Chinese as itself (UTF-8, 3 bytes a character, not a 6-byte escape)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class Encoded(dict):
    """An answer, with the JSON text it was encoded to."""

    def __init__(self, body: Mapping[str, Any], text: str) -> None:
        super().__init__(body)
        self.text = text


class GraphQLView(GraphQL):
    def __init__(self, *args: Any, db_timeout_s: float, **kwargs: Any) -> None:
        # subscriptions over graphql-transport-ws only (the legacy graphql-ws is not
        # offered); a socket that does not say who it is within 10 s is closed
        kwargs["subscription_protocols"] = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
        kwargs["connection_init_wait_timeout"] = timedelta(seconds=10)
        super().__init__(*args, **kwargs)
        self.db_timeout_s = db_timeout_s

    def encode_json(self, data: object) -> str:
        if isinstance(data, Encoded):  # a large answer, encoded off the event loop already
            return data.text
        return encode(data)

    def decode_json(self, data: str | bytes) -> object:
        decoded = json.loads(data)
        if not isinstance(decoded, dict | list):  # null, 42, "s", true: no request at all
            raise BadRequest("body", 'send a JSON object: {"query": ..., "variables": {...}}')
        return decoded

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if item.query is not None and len(item.query) > MAX_QUERY_CHARS:
                raise PayloadTooLarge(
                    "query",
                    f"a GraphQL document may have at most {MAX_QUERY_CHARS} characters",
                    code="QUERY_TOO_LONG",
                )
            await self._persisted(request, item)
        return data

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(self._ide_page)

    @cached_property
    def _ide_page(self) -> str:
        return graphiql.page()

    def should_render_graphql_ide(self, request: Any) -> bool:
        # a GET with only a persisted query's hash is a query, not a person opening GraphiQL
        return (
            super().should_render_graphql_ide(request)
            and request.query_params.get("extensions") is None
        )

    async def _persisted(self, request: Any, item: Any) -> None:
        """Automatic persisted queries (homestay/services/persisted.py)."""
        extension = (item.extensions or {}).get("persistedQuery")
        if extension is None:
            return
        sha256 = extension.get("sha256Hash") if isinstance(extension, dict) else None
        if not isinstance(sha256, str) or len(sha256) != 64 or extension.get("version", 1) != 1:
            raise BadRequest(
                "extensions.persistedQuery",
                "give version 1 and the document's sha256Hash (64 hexadecimal characters)",
            )
        starlette_request = _request.get()
        store = starlette_request.app.state.services.persisted
        if item.query is None:
            item.query = await store.find(sha256.lower())
            if item.query is None:
                raise PersistedQueryNotFound()
            return
        if persisted.digest(item.query) != sha256.lower():
            raise BadRequest(
                "extensions.persistedQuery.sha256Hash", "not the SHA-256 of the query sent with it"
            )
        if await store.find(sha256.lower()) is None and await asyncio.to_thread(
            persisted.storable, core_schema(self.schema), item.query
        ):  # only a document of this schema is learnt; any other runs, and fails, as sent
            await starlette_request.app.state.rate_limiter.admit_persisted_query(
                request_address(starlette_request)
            )
            await store.learn(sha256.lower(), item.query)

    async def process_result(self, request: Any, result: Any) -> Any:
        # an answer with errors (the database away, a bad argument) is never kept by a cache
        request.state.failed = bool(result.errors)
        body = await super().process_result(request, result)
        if _accepts_graphql_response(request.headers.get("accept", "")):
            # shaped here, before it is encoded, so that the answer is encoded once (reading
            # it back to shape it cost a search page ~5 % of its instructions)
            refused = _refused_before_running(body)
            if refused:
                body.pop("data", None)
            request.state.graphql_response = 400 if refused else 200
        if getattr(request.state, "cost", 0) > LARGE_ANSWER:
            # tens of thousands of fields take milliseconds to encode: not on the event loop
            return Encoded(body, await asyncio.to_thread(encode, body))
        return body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        _request.set(request)  # for parse_http_body, which strawberry hands an adapter
        try:
            # one budget for every database operation of the request: nothing hangs
            with pymongo.timeout(self.db_timeout_s):
                response = await self.run(request)
        except ApiError as exc:
            response = error_response(exc)
        except HTTPException as exc:
            refusal = _REFUSALS.get(exc.reason) or BadRequest("body", exc.reason)
            response = error_response(refusal)
        if getattr(request.state, "failed", False):
            response.headers["Cache-Control"] = "no-store"
        shaped = getattr(request.state, "graphql_response", None)
        if shaped is not None and response.status_code == 200:
            response.status_code = shaped
            response.headers["content-type"] = GRAPHQL_RESPONSE
        elif _accepts_graphql_response(request.headers.get("accept", "")):
            response = _as_graphql_response(response)
        if response.headers.get("cache-control", "").startswith("public"):
            response = _revalidated(request, response)
        await response(scope, receive, send)

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A socket for subscriptions: told who it is in connection_init, then forgotten by
        the live registry when it closes, however it closes."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            context: Context | None = scope.get("state", {}).get("live_context")
            if context is not None and context.caller.account_id is not None:
                scope["app"].state.services.live.detach(context.caller.account_id, context.socket)

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        """connection_init: its payload's Authorization names an account, by the rules of
        the header (the same limits on failed tokens); no account, no socket (4403)."""
        socket = context.socket
        app = socket.scope["app"]
        params = context.connection_params or {}
        header = params.get("Authorization", params.get("authorization"))
        identity = await identify_header(
            socket.scope,
            header if isinstance(header, str) else None,
            app.state.rate_limiter,
            app.state.services.settings,
        )
        try:  # a socket counts as a request: a failed token, an account's rate
            await app.state.rate_limiter.admit(identity, context.address, upload=False)
        except RateLimited as exc:
            raise ConnectionRejectionError({"code": exc.code, "message": exc.message}) from None
        if identity.error is not None or identity.caller.account_id is None:
            reason = identity.error.message if identity.error else "no token in connection_init"
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED", "message": reason})
        context.caller = identity.caller
        live = app.state.services.live
        live.attach(identity.caller.account_id, socket)
        with suppress(ApiError):  # no feed (a standalone server): each subscription says so
            await live.feed.start()  # so that a revocation is seen, subscribed or not
        return UNSET

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        services: Services = request.app.state.services
        if isinstance(request, WebSocket):
            context = Context(
                services=services,
                lang=language(request.headers.get("accept-language")),
                request_id=uuid.uuid4().hex[:16],
                address=client_address(request.scope),
                socket=request,
            )
            request.scope.setdefault("state", {})["live_context"] = context
            return context
        context = Context(
            services=services,
            request=request,
            response=response,
            lang=language(request.headers.get("accept-language")),
            request_id=request.state.request_id,
        )
        # only what the public may see, asked by GET, may be kept by a CDN or the phone
        public = request.method == "GET" and "authorization" not in request.headers
        response.headers["Cache-Control"] = (
            f"public, max-age={PUBLIC_MAX_AGE_S}" if public else "no-store"
        )
        response.headers["Vary"] = "Accept-Language, Authorization"
        if not getattr(request.app.state, "schema_applied", True):
            # no write before the unique indexes exist: a retried one could double
            context.auth_error = ServiceUnavailable(
                "the service is starting: its database is being prepared; try again shortly"
            )
            return context
        try:
            context.caller = caller_of(request)
        except ApiError as exc:
            context.auth_error = exc
        return context
