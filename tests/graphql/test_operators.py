"""The homestay's own operator: its homestays, certified or not, their inspections and
certificates, never another's; and the finder staff use to find a registered homestay."""

from __future__ import annotations

from homestay.auth import Role
from tests.conftest import key
from tests.graphql.flows import (
    STANDARD,
    THRESHOLDS,
    certify,
    checklist,
    register,
    review,
    submit,
)

HOMESTAY = """query($id: ID!) { homestay(id: $id) { name certificate { number totalPoints
  history { action } inspection { id } } } }"""
INSPECTIONS = """query($h: ID) { inspections(homestayId: $h) { totalCount
  edges { node { id totalPoints blockers { grade itemCode } } } } }"""
CREATE = """mutation($input: CreateAccountInput!) { createAccount(input: $input) {
  account { role homestayIds counties { code } } token errors { field code } } }"""
FIND = """query($county: String, $text: String, $certified: Boolean, $first: Int,
  $after: String) { homestays(county: $county, text: $text, certified: $certified,
  first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
  edges { node { id name } } } }"""


async def test_an_operator_reads_its_own_homestay_and_records_and_nothing_else(
    api, inspector, bureau, make_operator
):
    ours, cert = await certify(api, inspector.token, bureau.token)
    theirs = await register(api, inspector.token, name="别家民宿")
    uncertified = await register(api, inspector.token, name="新开民宿")
    await submit(api, inspector.token, theirs["id"], checklist(failed=("M01",)))
    operator = await make_operator([key(ours["id"]), key(uncertified["id"])])

    me = (await api.query("{ me { role homestayIds } }", token=operator.token))["me"]
    assert me["role"] == "OPERATOR" and set(me["homestayIds"]) == {ours["id"], uncertified["id"]}

    own = (await api.query(HOMESTAY, {"id": ours["id"]}, operator.token))["homestay"]
    assert own["certificate"]["totalPoints"] > 0 and own["certificate"]["history"]
    assert own["certificate"]["inspection"]["id"]
    # not certified: hidden from the public, shown to its operator
    assert (await api.query(HOMESTAY, {"id": uncertified["id"]}))["homestay"] is None
    assert (await api.query(HOMESTAY, {"id": uncertified["id"]}, operator.token))["homestay"][
        "name"
    ] == "新开民宿"
    # another's homestay, uncertified: as the public sees it, nothing
    assert (await api.query(HOMESTAY, {"id": theirs["id"]}, operator.token))["homestay"] is None

    listed = (await api.query(INSPECTIONS, {"h": None}, operator.token))["inspections"]
    assert listed["totalCount"] == 1  # its own only: not the other homestay's
    assert await api.error_code(INSPECTIONS, {"h": theirs["id"]}, operator.token) == "FORBIDDEN"
    # the certificate of a stay it does not run shows no score to it
    public_view = await api.query(
        """query($n: String!) { certificate(number: $n) {
        totalPoints history { action } } }""",
        {"n": cert["number"]},
        (await make_operator([key(theirs["id"])])).token,
    )
    assert public_view["certificate"] == {"totalPoints": None, "history": None}
    # and nothing of the bureau's
    assert await api.error_code("{ concerns { totalCount } }", token=operator.token) == "FORBIDDEN"
    assert (
        await api.error_code(
            """mutation($h: ID!) { updateHomestay(input: {id: $h,
        rooms: 2}) { errors { code } } }""",
            {"h": ours["id"]},
            operator.token,
        )
        == "FORBIDDEN"
    )


async def test_a_bureau_makes_operators_for_its_own_counties_homestays(
    api, inspector, bureau, anji_inspector
):
    ours = await register(api, inspector.token)
    anji = await register(
        api,
        anji_inspector.token,
        county="330523",
        address="安吉县天荒坪镇",
        location={"lat": 30.63, "lng": 119.68},
    )
    made = (
        await api.query(
            CREATE,
            {"input": {"role": "OPERATOR", "name": "张老板", "homestayIds": [ours["id"]]}},
            bureau.token,
        )
    )["createAccount"]
    assert made["errors"] == [] and made["token"]
    assert made["account"]["role"] == "OPERATOR"
    assert made["account"]["homestayIds"] == [ours["id"]]
    assert made["account"]["counties"] == [{"code": "330521"}]
    operator_me = await api.query("{ me { role } }", token=made["token"])
    assert operator_me["me"]["role"] == "OPERATOR"

    assert (
        await api.error_code(
            CREATE,
            {"input": {"role": "OPERATOR", "name": "钱老板", "homestayIds": [anji["id"]]}},
            bureau.token,
        )
        == "FORBIDDEN"
    )
    for wrong, field, code in (
        ({"homestayIds": ["nope"]}, ["homestayIds", "0"], "NOT_FOUND"),
        ({"homestayIds": []}, ["homestayIds"], "REQUIRED"),
        ({"homestayIds": [ours["id"]], "counties": ["330521"]}, ["counties"], "NOT_ALLOWED"),
    ):
        errors = (
            await api.query(
                CREATE, {"input": {"role": "OPERATOR", "name": "某人", **wrong}}, bureau.token
            )
        )["createAccount"]["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [(field, code)], wrong
    # an inspector account carries no homestays
    errors = (
        await api.query(
            CREATE,
            {
                "input": {
                    "role": "INSPECTOR",
                    "name": "某人",
                    "counties": ["330521"],
                    "homestayIds": [ours["id"]],
                }
            },
            bureau.token,
        )
    )["createAccount"]["errors"]
    assert [e["code"] for e in errors] == ["NOT_ALLOWED"]


async def test_staff_find_any_registered_homestay_by_a_part_of_its_name_or_address(
    api, inspector, bureau, make_staff
):
    certified, _ = await certify(
        api,
        inspector.token,
        bureau.token,
        name="竹隐山居",
        nameEn="Bamboo Hideaway",
        address="德清县莫干山镇劳岭村8号",
    )
    plain = await register(
        api,
        inspector.token,
        name="溪语小院",
        nameEn="Brook Yard",
        address="德清县莫干山镇仙潭村3号",
    )
    await register(
        api,
        inspector.token,
        name="云上人家",
        nameEn="Cloud Home",
        address="德清县下渚湖街道二都村1号",
    )

    async def names(token=inspector.token, **variables):
        found = (await api.query(FIND, variables, token))["homestays"]
        return sorted(e["node"]["name"] for e in found["edges"]), found["totalCount"]

    assert await names(text="莫干山") == (["溪语小院", "竹隐山居"], 2)
    assert await names(text="小院") == (["溪语小院"], 1)
    assert await names(text="bamboo hide") == (["竹隐山居"], 1)  # English, any case
    assert await names(text="ＢＲＯＯＫ") == (["溪语小院"], 1)  # full-width, as typed
    assert await names(text="劳岭村8") == (["竹隐山居"], 1)
    assert await names(text="山居小") == ([], 0)  # every bigram is there, not the substring
    assert await names(certified=True) == (["竹隐山居"], 1)
    assert await names(certified=False, text="德清") == (["云上人家", "溪语小院"], 2)
    assert await names(county="330521") == (["云上人家", "溪语小院", "竹隐山居"], 3)
    # a renamed homestay is found by its new name
    await api.query(
        """mutation($h: ID!) { updateHomestay(input: {id: $h, name: "溪畔小筑"}) {
        errors { code } } }""",
        {"h": plain["id"]},
        inspector.token,
    )
    assert await names(text="溪畔") == (["溪畔小筑"], 1)
    assert await names(text="溪语") == ([], 0)

    # page by page, in name order, nothing twice
    seen, after = [], None
    while True:
        page = (await api.query(FIND, {"first": 1, "after": after}, inspector.token))["homestays"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 3

    body = await api.raw(FIND, {"text": "山"}, inspector.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "text" in body["errors"][0]["message"]
    # another county's inspector finds none of them, and may not ask for this county
    anji = await make_staff(Role.INSPECTOR, "330523", "Inspector Chen")
    assert await names(token=anji.token, text="莫干山") == ([], 0)
    assert await api.error_code(FIND, {"county": "330521"}, anji.token) == "FORBIDDEN"
    assert certified  # used


async def test_the_finder_shows_an_operator_its_own_homestays_only(api, inspector, make_operator):
    ours = await register(api, inspector.token, name="竹隐山居")
    await register(api, inspector.token, name="竹林人家")
    operator = await make_operator([key(ours["id"])])
    found = (await api.query(FIND, {"text": "竹隐"}, operator.token))["homestays"]
    assert [e["node"]["id"] for e in found["edges"]] == [ours["id"]]
    found = (await api.query(FIND, {"text": "竹林"}, operator.token))["homestays"]
    assert found["totalCount"] == 0


async def test_a_suspended_certificate_leaves_the_certified_list_at_once(api, inspector, bureau):
    stay, cert = await certify(api, inspector.token, bureau.token)
    query = "{ homestays(certified: true) { totalCount } }"
    assert (await api.query(query, token=inspector.token))["homestays"]["totalCount"] == 1
    await api.query(
        """mutation($n: String!) { suspendCertificate(input: {number: $n,
        reason: "投诉"}) { errors { code } } }""",
        {"n": cert["number"]},
        bureau.token,
    )
    assert (await api.query(query, token=inspector.token))["homestays"]["totalCount"] == 0
    await api.query(
        """mutation($n: String!) { reinstateCertificate(input: {number: $n,
        reason: "整改"}) { errors { code } } }""",
        {"n": cert["number"]},
        bureau.token,
    )
    assert (await api.query(query, token=inspector.token))["homestays"]["totalCount"] == 1
    # a re-inspection that reaches no grade revokes it
    again = await submit(api, inspector.token, stay["id"], checklist(points=0))
    assert (await review(api, bureau.token, again["id"]))["errors"] == []
    assert (await api.query(query, token=inspector.token))["homestays"]["totalCount"] == 0


async def test_an_operator_reads_what_to_fix_for_the_next_grade_in_its_language(
    api, inspector, make_operator
):
    stay = await register(api, inspector.token)
    mandatory = next(i for i in STANDARD["items"] if i.get("requiredFor") == "PREMIUM")
    inspection = await submit(
        api,
        inspector.token,
        stay["id"],
        checklist(points=THRESHOLDS["STANDARD"] + 5, failed=(mandatory["code"],)),
    )
    operator = await make_operator([key(stay["id"])])
    query = """query($id: ID!) { inspection(id: $id) { recommendedGrade nextGrades {
        grade missingPoints mandatory { itemCode title section }
        scored { itemCode pointsOpen section } } } }"""
    found = (
        await api.query(
            query, {"id": inspection["id"]}, operator.token, headers={"Accept-Language": "en"}
        )
    )["inspection"]
    assert found["recommendedGrade"] == "STANDARD"
    premium, boutique = found["nextGrades"]
    assert premium["grade"] == "PREMIUM" and boutique["grade"] == "BOUTIQUE"
    assert premium["missingPoints"] == THRESHOLDS["PREMIUM"] - THRESHOLDS["STANDARD"] - 5
    assert [m["itemCode"] for m in premium["mandatory"]] == [mandatory["code"]]
    assert premium["mandatory"][0]["title"] == mandatory["title"]["en"]
    assert sum(s["pointsOpen"] for s in premium["scored"]) >= premium["missingPoints"]
    assert all(s["section"].isascii() for s in premium["scored"])  # English section titles
    # another operator cannot read it
    other = await make_operator([key((await register(api, inspector.token, name="别家"))["id"])])
    assert await api.error_code(query, {"id": inspection["id"]}, other.token) == "FORBIDDEN"
