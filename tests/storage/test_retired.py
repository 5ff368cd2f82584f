"""What an earlier version left in a database is removed by the next start: the H3 cells the
search no longer reads, and their indexes."""

from __future__ import annotations

from pymongo import ASCENDING

from homestay.services.homestays import retire_cells
from homestay.storage.database import RETIRED_INDEXES, apply_schema
from tests.graphql.flows import certify


async def test_a_start_drops_the_retired_indexes_and_cells(api, inspector, bureau, db):
    stay, cert = await certify(api, inspector.token, bureau.token)
    for name in RETIRED_INDEXES["certificates"]:  # as the version before made them
        field = "listing.name" if name == "search_by_name" else f"listing.cells.{name[-2:]}"
        await db.certificates.create_index([(field, ASCENDING)], name=name, sparse=True)
    key = stay["id"]
    await db.homestays.update_many({}, {"$set": {"cells": {"h7": "871f1d489ffffff"}}})
    await db.certificates.update_many({}, {"$set": {"listing.cells": {"h7": "871f1d489ffffff"}}})
    await db.meta.delete_one({"_id": "cells_retired"})
    before = {d["_id"]: d["updatedAt"] async for d in db.certificates.find()}

    await apply_schema(db)
    names = {index["name"] async for index in await db.certificates.list_indexes()}
    assert not names & set(RETIRED_INDEXES["certificates"])
    assert await retire_cells(db) == 2
    assert await db.homestays.count_documents({"cells": {"$exists": True}}) == 0
    assert await db.certificates.count_documents({"listing.cells": {"$exists": True}}) == 0
    assert {d["_id"]: d["updatedAt"] async for d in db.certificates.find()} == before
    assert await retire_cells(db) == 0  # once
    assert key and cert["number"]
