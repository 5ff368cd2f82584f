from __future__ import annotations

import re

from homestay.cli import SCHEMA_PATH
from homestay.graphql.executor.core import core_schema
from homestay.graphql.schema import schema


def test_the_checked_in_sdl_matches_the_code():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema.as_str() + "\n", (
        "schema/schema.graphql is stale: run python3 dev.py schema"
    )


def test_the_contracts_names_are_served():
    sdl = SCHEMA_PATH.read_text(encoding="utf-8")
    for name in [
        "searchStays",
        "homestay",
        "verifyCertificate",
        "gradingStandard",
        "inspections",
        "gradeStatistics",
        "me",
        "registerHomestay",
        "updateHomestay",
        "submitInspection",
        "reviewInspection",
        "suspendCertificate",
        "reinstateCertificate",
        "revokeCertificate",
        "createAccount",
        "HomestayConnection",
        "InspectionConnection",
        "CertificateVerification",
        "GradeBlocker",
        "UserError",
        "GeoPointInput",
        "BBoxInput",
    ]:
        assert re.search(rf"\b{name}\b", sdl), name
    for enum, values in {
        "Grade": "STANDARD PREMIUM BOUTIQUE",
        "CertificateStatus": "VALID SUSPENDED REVOKED EXPIRED SUPERSEDED",
        "InspectionStatus": "SUBMITTED APPROVED REJECTED",
        "ReviewDecision": "APPROVE REJECT",
        "ItemKind": "MANDATORY SCORED",
        "CoordSystem": "WGS84 GCJ02 BD09",
        "StaySort": "DISTANCE GRADE NAME",
    }.items():
        body = re.search(rf"enum {enum} {{(.*?)}}", sdl, re.S).group(1)
        assert body.split() == values.split(), enum


def test_the_app_developers_page_lists_every_operation_and_no_other() -> None:
    import re

    from homestay.graphql.schema import schema
    from homestay.settings import ROOT

    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    graphql_schema = core_schema(schema)
    for heading, root in (
        ("## Queries", graphql_schema.query_type),
        ("## Mutations", graphql_schema.mutation_type),
    ):
        section = page.split(heading, 1)[1].split("\n## ", 1)[0]
        listed = set(re.findall(r"^- (.*?) —", section, flags=re.M))
        names = {n for item in listed for n in re.findall(r"`(\w+)`", item)}
        assert names == set(root.fields), (heading, names ^ set(root.fields))
