from __future__ import annotations

import re

from homestay.cli import SCHEMA_PATH
from homestay.graphql.schema import schema


def test_the_checked_in_sdl_matches_the_code():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema.as_str() + "\n", (
        "schema/schema.graphql is stale: run python3 dev.py schema")


def test_the_contracts_names_are_served():
    sdl = SCHEMA_PATH.read_text(encoding="utf-8")
    for name in ["searchStays", "homestay", "verifyCertificate", "gradingStandard", "inspections",
                 "gradeStatistics", "me", "registerHomestay", "updateHomestay",
                 "submitInspection", "reviewInspection", "suspendCertificate",
                 "reinstateCertificate", "revokeCertificate", "createAccount",
                 "HomestayConnection", "InspectionConnection", "CertificateVerification",
                 "GradeBlocker", "UserError", "GeoPointInput", "BBoxInput"]:
        assert re.search(rf"\b{name}\b", sdl), name
    for enum, values in {"Grade": "STANDARD PREMIUM BOUTIQUE",
                         "CertificateStatus": "VALID SUSPENDED REVOKED EXPIRED SUPERSEDED",
                         "InspectionStatus": "SUBMITTED APPROVED REJECTED",
                         "ReviewDecision": "APPROVE REJECT", "ItemKind": "MANDATORY SCORED",
                         "CoordSystem": "WGS84 GCJ02 BD09",
                         "StaySort": "DISTANCE GRADE NAME"}.items():
        body = re.search(rf"enum {enum} {{(.*?)}}", sdl, re.S).group(1)
        assert body.split() == values.split(), enum
