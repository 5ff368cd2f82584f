"""Which records a caller's list may show, for records kept per homestay and county
(inspections, inspection requests, appeals): one rule, so that the lists cannot drift."""

from __future__ import annotations

from homestay.auth import Caller, Role


def records_of(caller: Caller, county: str | None) -> dict:
    """The MongoDB filter: staff see their counties' records (or the county asked for, if it
    is theirs); an operator its own homestays' (a county asked for must be one of theirs)."""
    if caller.role is Role.OPERATOR:
        caller.require_runs_in(county)
        return {"homestayId": {"$in": sorted(caller.homestays)}}
    return {"county": {"$in": caller.counties_filter(county)}}
