"""uris: connection strings found in text and read by pymongo and urllib; failures are problems, not crashes."""

from __future__ import annotations

import pytest

from harness_refarch.model import uris

SECRET = "S3cr3tPassw0rd"


def _one(text: str) -> uris.ConnectionString:
    [uri] = uris.find(text)
    return uri


# -- locating ----------------------------------------------------------------------------------
def test_every_scheme_in_a_config_file():
    text = ("mongo: mongodb+srv://cluster0.example.com/harness?retryWrites=true\n"
            "cache: rediss://:$(REDIS_PASSWORD)@cache.example.com:6380\n"
            "jdbc: jdbc:postgresql://pg-a:5432,pg-b:5432/harness?sslmode=require\n"
            "pg: postgresql://pg-c/x\n"
            "not-a-uri: xmongodb://ignored:1\n")
    assert [(u.db, u.scheme, u.hosts) for u in uris.find(text)] == [
        ("mongo", "mongodb+srv", ("cluster0.example.com",)),
        ("redis", "rediss", ("cache.example.com:6380",)),
        ("postgres", "jdbc:postgresql", ("pg-a:5432", "pg-b:5432")),
        ("postgres", "postgresql", ("pg-c",)),
    ]


@pytest.mark.parametrize("value", ["mongodb://", "redis://", "jdbc:postgresql://", "  mongodb+srv://  ", "MONGODB://"])
def test_scheme_only_is_not_a_connection_string(value):
    assert list(uris.find(value)) == []


@pytest.mark.parametrize("sep", [",", ", "])
def test_comma_separated_uris_are_split(sep):
    text = sep.join(f"redis://s{i}.example.com:26379" for i in range(3))
    assert [u.hosts for u in uris.find(text)] == [(f"s{i}.example.com:26379",) for i in range(3)]


def test_one_uri_with_a_host_list_stays_one():
    [uri] = uris.find("redis://a.harness:26379,b.harness:26379,c.harness:26379")
    assert uri.hosts == ("a.harness:26379", "b.harness:26379", "c.harness:26379")


def test_double_scheme_is_one_problem_not_a_host():
    uri = _one("redis://rediss://cache.example.com:6380")
    assert uri.scheme == "redis"
    assert uri.inner_scheme == "rediss"
    assert uri.hosts == ("cache.example.com:6380",)
    assert uri.problem == "double scheme redis://rediss://"
    assert uri.text == "redis://rediss://cache.example.com:6380"


def test_at_sign_in_query_is_not_userinfo():
    uri = _one("mongodb://h.example.com/db?appName=a@b")
    assert uri.userinfo is None
    assert uri.hosts == ("h.example.com",)


# -- MongoDB through pymongo -------------------------------------------------------------------
def test_mongo_multi_host_and_options():
    uri = _one("mongodb://$(U):$(P)@m-0.db:27017,M-1.db:27017/h?replicaSet=rs0&ssl=true&authSource=admin")
    assert uri.hosts == ("m-0.db:27017", "m-1.db:27017")
    assert uri.username == "$(U)" and uri.password == "$(P)"
    assert uri.params["replicaset"] == "rs0"
    assert uri.params["authsource"] == "admin"
    assert uri.tls  # ssl=true is the driver's tls=true
    assert uri.problem == ""


def test_mongo_semicolon_option_delimiter():
    uri = _one("mongodb://h/db?replicaSet=rs0;tls=true")
    assert uri.tls and uri.params["replicaset"] == "rs0"


@pytest.mark.parametrize(("text", "reason"), [
    ("mongodb://a,,b/db", "Empty host"),
    ("mongodb://a:99999/db", "Port must be an integer"),
    ("mongodb+srv://c.example.com:27017/db", "must not include a port number"),
    ("mongodb+srv://a.example.com,b.example.com/db", "one, and only one, hostname"),
])
def test_mongo_parser_errors_become_problems(text, reason):
    uri = _one(text)
    assert uri.problem.startswith(f"not a valid {uri.scheme}:// connection string (")
    assert reason in uri.problem


def test_mongodb_srv_is_parsed_without_dns(monkeypatch):
    """A check never reaches the network: SRV/TXT lookups would fail the test."""
    import pymongo.synchronous.srv_resolver as resolver

    def no_dns(*args, **kwargs):
        raise AssertionError("DNS lookup attempted")

    monkeypatch.setattr(resolver._SrvResolver, "get_hosts", no_dns)
    monkeypatch.setattr(resolver._SrvResolver, "get_options", no_dns)
    monkeypatch.setattr(resolver._SrvResolver, "get_hosts_and_min_ttl", no_dns)
    uri = _one("mongodb+srv://u:$(P)@does-not-exist.invalid/harness?retryWrites=true&w=majority")
    assert uri.hosts == ("does-not-exist.invalid",)
    assert uri.tls and uri.problem == ""


# -- URLs through urllib -----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "hosts", "path"), [
    ("postgres://pg.example.com:5432/db?sslmode=require", ("pg.example.com:5432",), "/db"),
    ("postgresql://a:5432,b:5433/db", ("a:5432", "b:5433"), "/db"),
    ("jdbc:postgresql://[::1]:5432/db", ("[::1]:5432",), "/db"),
    ("rediss://:$(P)@cache.example.com:6380/0", ("cache.example.com:6380",), "/0"),
    ("redis://$(REDIS_HOSTS)", ("$(REDIS_HOSTS)",), ""),
])
def test_urls(text, hosts, path):
    uri = _one(text)
    assert (uri.hosts, uri.path, uri.problem) == (hosts, path, "")


@pytest.mark.parametrize(("text", "reason"), [
    ("redis://cache:abc", "Port could not be cast to integer value as (value not shown)"),
    ("postgres://a:1,,b:2/x", "empty host (or extra comma) in the host list"),
    ("redis://cache:70000", "Port out of range 0-65535"),
    ("rediss://:6380", "a port without a host name"),
])
def test_url_parser_errors_become_problems(text, reason):
    uri = _one(text)
    assert uri.problem == f"not a valid {uri.scheme}:// connection string ({reason})"


def test_parser_error_never_quotes_the_value():
    uri = _one(f"redis://cache.example.com:{SECRET}")
    assert uri.problem
    assert SECRET not in uri.problem


# -- passwords stay passwords ------------------------------------------------------------------
@pytest.mark.parametrize("password", [f"{SECRET}/x", f"{SECRET}?x", f"{SECRET};x", f"{SECRET} x", f"{SECRET}'\"x",
                                      f"{SECRET}@x", f"{SECRET}#x", f"{SECRET}:x"])
@pytest.mark.parametrize("scheme", ["mongodb", "postgres", "redis", "jdbc:postgresql"])
def test_password_with_unencoded_characters(scheme, password):
    uri = _one(f"{scheme}://admin:{password}@db.example.com:5432/x")
    assert uri.password == password
    assert uri.hosts == ("db.example.com:5432",)
    assert SECRET not in uri.text and SECRET not in repr(uri)
    assert uri.text.startswith(f"{scheme}://admin:****@db.example.com:5432")


def test_redis_lone_userinfo_is_a_password():
    uri = _one(f"redis://{SECRET}@cache:6379")
    assert uri.password == SECRET
    assert uri.text == "redis://:****@cache:6379"


def test_mongo_lone_userinfo_is_a_user():
    uri = _one("mongodb://admin@h/db")
    assert (uri.username, uri.password) == ("admin", None)
    assert uri.text == "mongodb://admin@h/db"


@pytest.mark.parametrize(("name", "secret"), [
    ("password", True), ("pwd", True), ("passwd", True), ("sslpassword", True), ("token", True),
    ("access_token", True), ("apiKey", True), ("key", True), ("secret", True), ("credential", True),
    ("global.database.redis.password", True), ("DB_PWD", True), ("AUTH_TOKEN", True),
    ("authSource", False), ("replicaSet", False), ("sslmode", False), ("userKey", False),
    ("passwordKey", False), ("secretName", False), ("tokenFile", False), ("user", False),
])
def test_secret_names(name, secret):
    assert uris.secret_name(name) is secret


def test_tls_detection():
    assert _one("rediss://c:6380").tls
    assert _one("mongodb+srv://c.example.com/x").tls
    assert _one("postgres://p/x?sslmode=verify-full").tls
    assert not _one("postgres://p/x?sslmode=disable").tls
    assert not _one("mongodb://m/x?tls=false").tls
