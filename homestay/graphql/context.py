"""What every resolver gets: the caller, the database services, per-request loaders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader

from homestay.auth import PUBLIC, Caller
from homestay.errors import ApiError
from homestay.services.registry import Services


def language(accept_language: str | None) -> str:
    """zh unless the client prefers English (Accept-Language), zh-CN being the default."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh"
    return "zh"


@dataclass
class Context:
    services: Services
    request: Request | None = None
    response: Response | None = None
    caller: Caller = PUBLIC
    auth_error: ApiError | None = None
    lang: str = "zh"
    request_id: str = "-"

    @cached_property
    def homestays(self) -> DataLoader[str, dict | None]:
        return DataLoader(self.services.homestays.get_many)

    @cached_property
    def current_certificates(self) -> DataLoader[str, dict | None]:
        return DataLoader(self.services.certificates.current_for)

    @cached_property
    def inspections(self) -> DataLoader[str, dict | None]:
        return DataLoader(self.services.inspections.get_many)

    @cached_property
    def standards(self) -> DataLoader[str, dict | None]:
        return DataLoader(self.services.standards_by_key)
