"""Relay's global object identification: every cached object has an id, and node(id) /
nodes(ids) fetch it again, shown by the same rule as its own field."""

from __future__ import annotations

from homestay.graphql.common import global_id, key_of, parse_global_id
from tests.conftest import gid, key
from tests.graphql.flows import certify, register, submit

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Homestay { name }
  ... on Certificate { number status }
  ... on Inspection { totalPoints }
  ... on Account { name role }
  ... on GradingStandard { code version } } }"""

NODES = """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
  ... on Homestay { name } ... on Certificate { number } } }"""


def test_a_global_id_is_opaque_and_names_its_type():
    made = global_id("Homestay", "a8ccdac13023746d827fc8f1")
    assert "Homestay" not in made and "a8cc" not in made and "=" not in made
    assert parse_global_id(made) == ("Homestay", "a8ccdac13023746d827fc8f1")
    # an id of another type finds nothing where a homestay is asked for
    assert key_of(global_id("Inspection", "x1"), "Homestay") != "x1"
    for junk in ("", "x", "not base64!", "YWJj", global_id("homestay", "lowercase kind")):
        assert parse_global_id(junk) is None or parse_global_id(junk)[0] != "Homestay"


async def test_every_kind_comes_back_by_its_id(api, inspector, bureau):
    stay, cert = await certify(api, inspector.token, bureau.token)
    inspection = await submit(api, inspector.token, stay["id"])
    standard = (await api.query("{ gradingStandard { id code } }"))["gradingStandard"]
    me = (await api.query("{ me { id } }", token=inspector.token))["me"]
    certificate = (
        await api.query(
            "query($n: String!) { certificate(number: $n) { id } }", {"n": cert["number"]}
        )
    )["certificate"]
    for id_, kind in [
        (stay["id"], "Homestay"),
        (certificate["id"], "Certificate"),
        (inspection["id"], "Inspection"),
        (me["id"], "Account"),
        (standard["id"], "GradingStandard"),
    ]:
        node = (await api.query(NODE, {"id": id_}, inspector.token))["node"]
        assert node["__typename"] == kind and node["id"] == id_
    assert len({stay["id"], certificate["id"], inspection["id"], me["id"], standard["id"]}) == 5


async def test_the_public_sees_by_node_only_what_it_sees_elsewhere(
    api, inspector, bureau, anji_inspector
):
    stay, cert = await certify(api, inspector.token, bureau.token)
    unlisted = await register(api, inspector.token, name="未认证")
    inspection = await submit(api, inspector.token, stay["id"])
    public = (
        await api.query(
            NODES,
            {"ids": [stay["id"], unlisted["id"], inspection["id"], gid("Account", inspector.id)]},
        )
    )["nodes"]
    assert public[0]["name"] == "竹隐山居"
    assert public[1:] == [None, None, None]  # uncertified, staff data, people
    # staff of another county: the same as the public
    anji = (
        await api.query(NODES, {"ids": [unlisted["id"], inspection["id"]]}, anji_inspector.token)
    )["nodes"]
    assert anji == [None, None]
    assert (await api.query(NODE, {"id": unlisted["id"]}, inspector.token))["node"][
        "name"
    ] == "未认证"


async def test_nodes_answer_in_order_with_one_read_per_type(
    api, inspector, bureau, command_counter, db
):
    made = [await certify(api, inspector.token, bureau.token, name=f"宿{i}") for i in range(4)]
    ids = [stay["id"] for stay, _ in made]
    numbers = [gid("Certificate", cert["number"]) for _, cert in made]
    asked = [ids[2], numbers[0], "bm90IGFuIGlk", ids[0], numbers[3], gid("Homestay", "nothing")]
    command_counter.commands.clear()
    found = (await api.query(NODES, {"ids": asked}))["nodes"]
    assert [n and n["id"] for n in found] == [ids[2], numbers[0], None, ids[0], numbers[3], None]
    assert [n["name"] for n in (found[0], found[3])] == ["宿2", "宿0"]
    # homestays, their current certificates, certificates: one find each, whatever the count
    assert command_counter.count(db.db.name) == 3


async def test_inputs_take_the_global_ids_the_api_gives(api, inspector):
    stay = await register(api, inspector.token)
    # the key alone, as apps built before ids were global kept it, still names the homestay
    read = """query($h: ID!) { homestay(id: $h) { id } }"""
    assert (await api.query(read, {"h": key(stay["id"])}, inspector.token))["homestay"][
        "id"
    ] == stay["id"]
    # an inspection's id is not a homestay's
    wrong = gid("Inspection", key(stay["id"]))
    assert (await api.query(read, {"h": wrong}, inspector.token))["homestay"] is None


async def test_more_than_a_hundred_ids_are_refused_naming_the_argument(api):
    body = await api.raw(NODES, {"ids": [gid("Homestay", str(i)) for i in range(101)]})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "ids" in body["errors"][0]["message"]
