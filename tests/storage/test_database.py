from __future__ import annotations

from homestay.storage.database import make_client, uri_options


async def test_options_named_in_the_uri_win_over_the_services_defaults():
    uri = "mongodb://db1:27017,db2:27017/?replicaSet=rs0&connectTimeoutMS=60000&APPNAME=ops"
    client = make_client(uri, connectTimeoutMS=2000, serverSelectionTimeoutMS=2000)
    try:
        assert client.options.pool_options.connect_timeout == 60.0
        assert client.options.pool_options.metadata["application"]["name"] == "ops"
        # what the URI leaves out is the service's
        assert client.options.server_selection_timeout == 2.0
        assert client.codec_options.tz_aware
    finally:
        await client.close()


async def test_without_options_in_the_uri_the_services_defaults_hold():
    client = make_client("mongodb://localhost:27017", connectTimeoutMS=2000)
    try:
        assert client.options.pool_options.connect_timeout == 2.0
        assert client.options.pool_options.metadata["application"]["name"] == "homestay"
    finally:
        await client.close()


async def test_retryable_writes_stay_on_whatever_the_uri_says():
    client = make_client("mongodb://localhost:27017/?retryWrites=false")
    try:
        assert client.options.retry_writes
    finally:
        await client.close()


def test_uri_options_are_read_case_insensitively_with_either_separator():
    assert uri_options("mongodb+srv://u:p%3F@cluster.example/db?retryWrites=false;w=majority") == {
        "retrywrites",
        "w",
    }
    assert uri_options("mongodb://localhost") == set()
