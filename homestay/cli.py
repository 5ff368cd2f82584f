"""The command line: `homestay serve`, `homestay account create|revoke`, `homestay export`,
`homestay export-schema`."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer
from pymongo.errors import PyMongoError

from homestay import logs
from homestay.settings import ROOT, Settings, SettingsError
from homestay.storage.database import Database, apply_schema, open_database
from homestay.storage.embedded import EmbeddedDatabaseError, EmbeddedServer, pid_alive

if TYPE_CHECKING:  # imported when a command runs: `homestay --help` stays quick
    from homestay.exports.grade_list import ExportQuery
    from homestay.exports.writers import ExportFormat

app = typer.Typer(
    help="homestay: grading and certification of rural homestays (民宿).",
    no_args_is_help=True,
    add_completion=False,
)
account_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
app.add_typer(account_app, name="account")

SCHEMA_PATH = ROOT / "schema" / "schema.graphql"


class Fatal(Exception):
    """Ends the command with a one-line message, no traceback."""


def _fail(message: str) -> None:
    typer.echo(f"homestay: {message}", err=True)
    raise typer.Exit(1)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        _fail(str(exc))
        raise  # unreachable


def _embedded_file(settings: Settings) -> Path:
    return settings.data_dir / "embedded.json"


@contextmanager
def database_uri(settings: Settings, *, for_service: bool) -> Iterator[str]:
    """MONGODB_URI; else the embedded server a running `serve` has; else start our own."""
    if settings.mongodb_uri:
        yield settings.mongodb_uri
        return
    marker = _embedded_file(settings)
    if not for_service and marker.exists():
        running = json.loads(marker.read_text())
        if pid_alive(running["pid"]):
            yield running["uri"]
            return
    server = EmbeddedServer(settings.data_dir / "db", log_path=settings.data_dir / "db.log")
    try:
        server.start()
    except EmbeddedDatabaseError as exc:
        raise Fatal(str(exc)) from None
    if for_service:
        marker.write_text(json.dumps({"uri": server.uri, "pid": server.pid}))
    try:
        yield server.uri
    finally:
        if for_service:
            marker.unlink(missing_ok=True)
        server.stop()


async def _connect(uri: str, settings: Settings) -> Database:
    database = open_database(uri, settings.database)
    try:
        await database.ping(timeout_ms=5000)
    except PyMongoError as exc:
        await database.close()
        shown = uri.split("@")[-1]  # never print credentials
        raise Fatal(
            f"cannot reach MongoDB at {shown} ({type(exc).__name__}); "
            "check MONGODB_URI, or unset it to use the embedded database"
        ) from None
    return database


@asynccontextmanager
async def _session(uri: str, settings: Settings) -> AsyncIterator[Database]:
    database = await _connect(uri, settings)
    try:
        await apply_schema(database)
        yield database
    finally:
        await database.close()


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise Fatal(
                f"cannot listen on {host}:{port} ({exc.strerror}); set PORT (or HOST) to a free one"
            ) from None


async def _prepare(uri: str, settings: Settings, demo: bool) -> None:
    from homestay.demo import load_demo
    from homestay.services import standards
    from homestay.services.registry import Services

    async with _session(uri, settings) as database:
        published = await standards.publish_seed(database, settings.seed_dir)
        if published:
            typer.echo(f"published grading standard {', '.join(published)}", err=True)
        accounts_file = settings.data_dir / "demo-accounts.json"
        if (
            demo
            and await database.homestays.estimated_document_count() == 0
            and await database.accounts.estimated_document_count() == 0
        ):
            typer.echo("empty database: loading the demo data (about 200 homestays) ...", err=True)
            stats = await load_demo(Services.build(settings, database), accounts_file)
            typer.echo(
                f"demo loaded: {stats['homestays']} homestays, {stats['inspections']} "
                f"inspections, {stats['certificates']} certificates, "
                f"{stats['concerns']} concerns of guests",
                err=True,
            )
            # the tokens are shown once, when they are made; later starts name the file only
            typer.echo(
                f"\ndemo accounts (kept in {accounts_file}, readable by you only):", err=True
            )
            for acc in json.loads(accounts_file.read_text(encoding="utf-8")):
                typer.echo(
                    f"  {acc['role']:<9} {acc['county']}  {acc['name']}\n"
                    f"            Authorization: Bearer {acc['token']}",
                    err=True,
                )
        elif demo and accounts_file.exists():
            typer.echo(f"demo accounts and their tokens: {accounts_file}", err=True)


@app.command()
def serve(
    demo: Annotated[bool, typer.Option(help="Load the demo data into an empty database.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="API processes on the one port (gunicorn's process manager, forked from a "
            "parent that built the search copies once: a worker that dies is replaced; "
            "SIGHUP restarts them). Default: HOMESTAY_WORKERS, else 1.",
        ),
    ] = 0,
) -> None:
    """Serve the API (GraphiQL at /graphql). Without MONGODB_URI, runs the embedded database."""
    import uvicorn

    from homestay.http.app import create_app

    settings = _settings()
    workers = workers or settings.workers
    logs.configure(settings.log_level)
    # uvicorn stops gracefully on SIGINT/SIGTERM and then raises the signal again: let that
    # unwind through our own cleanup (stopping the embedded database) and end with status 0
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        _check_port(settings.host, settings.port)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with database_uri(settings, for_service=True) as uri:
            if demo or not settings.mongodb_uri:
                asyncio.run(_prepare(uri, settings, demo))
            # else the service applies its schema itself once the database answers: it may
            # start before its database, and says so on /readyz
            service_settings = dataclasses.replace(settings, mongodb_uri=uri)
            where = (
                "embedded database in " + str(settings.data_dir / "db")
                if not settings.mongodb_uri
                else "MONGODB_URI"
            )
            typer.echo(
                f"\nserving on http://{settings.host}:{settings.port}/graphql "
                f"({where}); Ctrl-C stops",
                err=True,
            )
            # on SIGTERM, requests in flight get 20 s to finish (a long export may be cut)
            options: dict = {
                "host": settings.host,
                "port": settings.port,
                "log_config": None,
                "access_log": False,
                "proxy_headers": settings.trusted_proxies is not None,
                "forwarded_allow_ips": settings.trusted_proxies or "",
                "timeout_graceful_shutdown": 20,
                # a socket's peer that answers no ping within as long again is dropped, and
                # its subscriptions released
                "ws_ping_interval": settings.live_ping_s,
                "ws_ping_timeout": settings.live_ping_s,
                "ws_max_size": 64 * 1024,  # a subscription message is small
            }
            if workers == 1:
                uvicorn.Server(uvicorn.Config(create_app(service_settings), **options)).run()
            else:
                from homestay.http.workers import Workers

                typer.echo(f"{workers} API processes", err=True)
                Workers(service_settings, options, workers).run()
    except KeyboardInterrupt:
        pass
    except Fatal as exc:
        _fail(str(exc))


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


class AccountRole(str, Enum):
    inspector = "inspector"
    bureau = "bureau"
    operator = "operator"


@account_app.command("create")
def account_create(
    role: Annotated[AccountRole, typer.Option(help="inspector, bureau or operator")],
    name: Annotated[str, typer.Option(help="The person's name.")],
    county: Annotated[
        list[str] | None, typer.Option(help="County code, e.g. 330521; repeatable. Staff only.")
    ] = None,
    homestay: Annotated[
        list[str] | None,
        typer.Option(
            help="A homestay the operator runs (its id, as the API shows it); repeatable. "
            "Operators only."
        ),
    ] = None,
) -> None:
    """Create an account; its token is printed once, on the last line."""
    from homestay.errors import UserErrors
    from homestay.graphql.common import global_id, key_of
    from homestay.services.accounts import create_account

    settings = _settings()

    async def run(uri: str) -> str:
        async with _session(uri, settings) as database:
            new = await create_account(
                database,
                role=role.value.upper(),
                name=name,
                counties=county or [],
                homestay_ids=[key_of(h, "Homestay") for h in homestay or []],
            )
            typer.echo(
                f"created {new.account.role.value} {new.account.name} "
                f"({', '.join(new.account.counties)}), id {global_id('Account', new.account.id)}"
            )
            return new.token

    try:
        with database_uri(settings, for_service=False) as uri:
            token = asyncio.run(run(uri))
    except UserErrors as exc:
        _fail("; ".join(f"{'.'.join(e.field or [])}: {e.message}" for e in exc.errors))
    except Fatal as exc:
        _fail(str(exc))
    typer.echo("token (shown once; only its hash is stored):")
    typer.echo(token)


@account_app.command("revoke")
def account_revoke(
    account_id: Annotated[str, typer.Argument(help="The account's id, as the API shows it.")],
) -> None:
    """Revoke an account: its token stops working at once."""
    from homestay.graphql.common import key_of
    from homestay.services.accounts import revoke_account

    settings = _settings()

    async def run(uri: str) -> bool:
        async with _session(uri, settings) as database:
            return await revoke_account(database, key_of(account_id, "Account"))

    try:
        with database_uri(settings, for_service=False) as uri:
            done = asyncio.run(run(uri))
    except Fatal as exc:
        _fail(str(exc))
    if not done:
        _fail(f"no active account {account_id!r} (an id as `me {{ id }}` or `create` shows it)")
    typer.echo(f"revoked {account_id}")


class ExportFormatOption(str, Enum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


@app.command("export")
def export(
    format: Annotated[ExportFormatOption, typer.Option("--format", "-f", help="csv, xlsx or json")],
    county: Annotated[
        list[str] | None, typer.Option(help="County code; repeatable. Every county when omitted.")
    ] = None,
    grade: Annotated[str | None, typer.Option(help="STANDARD, PREMIUM or BOUTIQUE")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="VALID, SUSPENDED, REVOKED, EXPIRED or SUPERSEDED (as of now)"),
    ] = None,
    issued_from: Annotated[str | None, typer.Option(help="YYYY-MM-DD or ISO time")] = None,
    issued_to: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD (inclusive) or ISO time")
    ] = None,
    expiring_before: Annotated[str | None, typer.Option(help="YYYY-MM-DD or ISO time")] = None,
    lang: Annotated[str, typer.Option(help="zh or en column titles")] = "zh",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export the certificate list: `homestay export --format csv --county 330521 > list.csv`.

    A progress bar shows on a terminal (on stderr); none when stderr is not a terminal."""
    from homestay.errors import ApiError
    from homestay.exports import grade_list, writers

    settings = _settings()
    try:
        query = grade_list.query_of(
            sorted(set(county)) if county else None,
            grade=grade,
            status=status,
            issued_from=issued_from,
            issued_to=issued_to,
            expiring_before=expiring_before,
        )
    except ApiError as exc:
        _fail(exc.message)
    for code in county or []:
        from homestay.domain.gazetteer import gazetteer

        if gazetteer().county(code) is None:
            _fail(f"--county: no county with code {code!r}")
    fmt = writers.ExportFormat(format.value)
    if output is None and fmt is writers.ExportFormat.XLSX and sys.stdout.isatty():
        _fail("an .xlsx file is binary: redirect stdout to a file or give --output")
    try:
        with database_uri(settings, for_service=False) as uri:
            if output is not None:
                with output.open("wb") as sink:
                    total = asyncio.run(_export_to(sink, uri, settings, query, fmt, lang))
            else:
                total = asyncio.run(_export_to(sys.stdout.buffer, uri, settings, query, fmt, lang))
    except Fatal as exc:
        _fail(str(exc))
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        sys.stderr.close()
        raise typer.Exit(0) from None
    if sys.stderr.isatty():
        typer.echo(f"exported {total} certificates", err=True)


async def _export_to(
    sink: BinaryIO, uri: str, settings: Settings, query: ExportQuery, fmt: ExportFormat, lang: str
) -> int:
    """The grade list written to `sink` as it is read, with a progress bar: how many rows."""
    from homestay.clock import utcnow
    from homestay.exports import feed, read_model, writers

    async with _session(uri, settings) as database:
        await read_model.ensure_built(database)
        now = utcnow()
        total = await feed.count_rows(database, query, now)
        with _progress(total) as advance:

            async def counted() -> AsyncIterator[list[dict]]:
                async for batch in feed.certificate_rows(database, query, now, lang):
                    yield batch
                    advance(len(batch))

            async for chunk in writers.chunks_of(fmt, counted(), lang):
                sink.write(chunk)
        sink.flush()
        return total


@contextmanager
def _progress(total: int) -> Iterator:
    """A progress bar on stderr when it is a terminal; a no-op otherwise."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("exporting", total=total)
        yield lambda n: progress.advance(task, n)


@app.command("export-schema")
def export_schema(
    check: Annotated[bool, typer.Option(help="Fail if the file is stale.")] = False,
) -> None:
    """Write schema/schema.graphql from the code."""
    from homestay.graphql.schema import schema

    sdl = schema.as_str() + "\n"
    if check:
        if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text(encoding="utf-8") != sdl:
            _fail(f"{SCHEMA_PATH} is stale: run python3 dev.py schema")
        return
    SCHEMA_PATH.write_text(sdl, encoding="utf-8")
    typer.echo(f"wrote {SCHEMA_PATH}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
