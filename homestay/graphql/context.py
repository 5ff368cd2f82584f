"""What every resolver gets: the caller, the database services, per-request loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader

from homestay.auth import PUBLIC, Account, Caller
from homestay.clock import utcnow
from homestay.domain.appeals import Appeal
from homestay.domain.certificates import Certificate
from homestay.domain.concerns import Concern
from homestay.domain.grading import Standard
from homestay.domain.inspections import Inspection
from homestay.domain.listings import Homestay
from homestay.errors import ApiError
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
    def standards(self) -> DataLoader[str, Standard | None]:
        return DataLoader(self.services.standards.by_key)
