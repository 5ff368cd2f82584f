"""What every resolver gets: the caller, the database services, per-request loaders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader

from homestay.auth import PUBLIC, Account, Caller
from homestay.clock import china_date, utcnow
from homestay.domain.appeals import Appeal
from homestay.domain.assignments import Assignment
from homestay.domain.certificates import Certificate
from homestay.domain.concerns import Concern
from homestay.domain.grading import Standard
from homestay.domain.inspections import Inspection
from homestay.domain.listings import Homestay
from homestay.errors import ApiError
from homestay.live.events import Event
from homestay.services.assignments import SpotCheckDraw
from homestay.services.registry import Services

LANGUAGES = ("zh", "en")  # zh-CN first: the default


def language(accept_language: str | None) -> str:
    """The language the client prefers among ours (RFC 9110: q-values, the order of equals;
    zh-TW, zh-Hans-CN and en-GB fall back to their primary language); zh-CN by default."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, *parameters = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.lower().split("-")[0]
        if primary == "*":
            primary = LANGUAGES[0]
        if primary in LANGUAGES and 0 < weight <= 1:
            choices.append((-weight, index, primary))
    return min(choices)[2] if choices else LANGUAGES[0]


@dataclass
class Context:
    services: Services
    request: Request | None = None
    response: Response | None = None
    caller: Caller = PUBLIC
    auth_error: ApiError | None = None
    lang: str = "zh"
    request_id: str = "-"
    # the clock, read once: every field of one answer speaks of the same instant
    now: datetime = field(default_factory=utcnow)
    # over a socket (subscriptions): the client's address and connection_init's payload
    address: str = "-"
    connection_params: dict | None = None
    socket: Any = None  # the WebSocket, for subscriptions

    def renew(self) -> None:
        """A subscription's next event is a new answer: a fresh clock, and loaders that
        read again (a socket lives for hours; what its loaders held may have changed)."""
        self.now = utcnow()
        for name in [k for k, v in vars(self).items() if isinstance(v, DataLoader)]:
            del self.__dict__[name]

    async def live_events(
        self, wants: Callable[[Event], bool], after: str | None
    ) -> AsyncIterator[Event]:
        """The live feed's events `wants` keeps, counted against this caller's and this
        address's subscriptions while they flow."""
        live = self.services.live
        assert self.caller.account_id is not None
        with live.limits.admitted(self.caller.account_id, self.address):
            async for event in live.feed.events(wants, after):
                self.renew()
                yield event

    @property
    def today(self) -> date:
        """The China day of `now`."""
        return china_date(self.now)

    @cached_property
    def homestays(self) -> DataLoader[str, Homestay | None]:
        return DataLoader(self.services.homestays.get_many)

    @cached_property
    def current_certificates(self) -> DataLoader[str, Certificate | None]:
        return DataLoader(self.services.certificates.current_for)

    @cached_property
    def certificates(self) -> DataLoader[str, Certificate | None]:
        return DataLoader(self.services.certificates.get_many)

    @cached_property
    def concerns(self) -> DataLoader[str, Concern | None]:
        return DataLoader(self.services.concerns.get_many)

    @cached_property
    def appeals(self) -> DataLoader[str, Appeal | None]:
        return DataLoader(self.services.appeals.get_many)

    @cached_property
    def inspection_appeals(self) -> DataLoader[str, list[Appeal]]:
        return DataLoader(self.services.appeals.of_inspections)

    @cached_property
    def accounts(self) -> DataLoader[str, Account | None]:
        return DataLoader(self.services.accounts.by_id)

    @cached_property
    def inspections(self) -> DataLoader[str, Inspection | None]:
        return DataLoader(self.services.inspections.get_many)

    @cached_property
    def assignments(self) -> DataLoader[str, Assignment | None]:
        return DataLoader(self.services.assignments.by_ids)

    @cached_property
    def draws(self) -> DataLoader[str, SpotCheckDraw | None]:
        return DataLoader(self.services.assignments.draws_by_ids)

    @cached_property
    def standards(self) -> DataLoader[str, Standard | None]:
        return DataLoader(self.services.standards.by_key)
