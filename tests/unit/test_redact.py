"""redact.mask / redact.mask_set: credentials planted in every form never survive; names stay readable."""

from __future__ import annotations

import pytest

from harness_refarch.model.redact import mask, mask_set

SECRET = "Pl4ntedS3cret"

PLANTED = [
    # userinfo passwords, whatever they hold
    f"mongodb://admin:{SECRET}@mongo.example.com:27017/db?authSource=admin",
    f"mongodb+srv://admin:{SECRET}@cluster0.example.com/db",
    f"mongodb://admin:{SECRET}/x@m1:27017,m2:27017/db",
    f"postgres://u:{SECRET}?x@pg.example.com:5432/db",
    f"postgresql://u:{SECRET};x@pg.example.com/db",
    f"jdbc:postgresql://u:{SECRET} x@pg.example.com/db",
    f"redis://u:{SECRET}'x\"@cache:6379",
    f"redis://u:{SECRET}@x@cache:6379",
    f"redis://{SECRET}@cache:6379",
    f"rediss://:{SECRET}@cache:6380",
    f"redis://rediss://:{SECRET}@cache:6380",
    f"redis://a:26379,redis://:{SECRET}@b:26379",
    # secret query parameters
    f"postgres://pg/db?sslpassword={SECRET}",
    f"postgres://pg/db?user=x&password={SECRET}&sslmode=require",
    f"postgres://pg/db?pwd={SECRET}",
    f"postgres://pg/db?passwd={SECRET}",
    f"mongodb://m/db?token={SECRET}",
    f"mongodb://m/db;access_token={SECRET}",
    f"redis://c:6379/0?secret={SECRET}",
    f"redis://c:6379/0?apiKey={SECRET}",
    f"redis://c:6379/0?key={SECRET}",
    f"redis://c:6379/0?credential={SECRET}",
    # assignments
    f"--set global.database.mongo.password={SECRET}",
    f"--set a=1,global.redis.password={SECRET},b=2",
    f"MONGO_PASSWORD={SECRET}",
    f"user=harness;password={SECRET};ssl=true",
    f"api_token=\"{SECRET} with spaces\"",
    f"https://example.com/hook?access_token={SECRET}&x=1",
]


@pytest.mark.parametrize("text", PLANTED)
def test_planted_credential_masked(text):
    for wrapped in (text, f"expected x, got off in {text} (hint)", f"'{text}'", f"{text}\nnext line"):
        out = mask(wrapped)
        assert SECRET not in out, out
        assert "****" in out


@pytest.mark.parametrize(("text", "expected"), [
    ("mongodb://admin:pw@h:27017/db?authSource=admin&replicaSet=rs0",
     "mongodb://admin:****@h:27017/db?authSource=admin&replicaSet=rs0"),
    ("redis://pw@cache:6379", "redis://****@cache:6379"),
    ("postgres://pg/db?sslmode=require&password=pw", "postgres://pg/db?sslmode=require&password=****"),
    ("--set global.redis.password=pw --set x=1", "--set global.redis.password=**** --set x=1"),
])
def test_mask_keeps_everything_else(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize("text", [
    "mongodb://$(MONGO_USER):$(MONGO_PASSWORD)@h/db?password=$(MONGO_PASSWORD)",
    "redis://$(REDIS_PASSWORD)@cache:6379",
    "MONGO_PASSWORD=$(MONGO_PASSWORD)",
    "mongodb://admin@h/db",  # a user name alone is not a secret (except Redis, which sends it as a password)
    "--set global.database.mongo.userKey=username --set global.database.mongo.secretName=harness-mongo",
    "replicaSet=rs0 authSource=admin sslmode=require",
    "password= ",
    "no connection string here",
    "",
])
def test_mask_leaves_references_and_names_visible(text):
    assert mask(text) == text


def test_mask_is_idempotent():
    once = mask(f"{PLANTED[0]} {PLANTED[13]} {PLANTED[22]}")
    assert mask(once) == once


@pytest.mark.parametrize(("assignment", "expected"), [
    (f"global.database.redis.password={SECRET}", "global.database.redis.password=****"),
    (f"a=1,global.redis.password={SECRET},b=2", "a=1,global.redis.password=****,b=2"),
    (f"global.redis.password=x\\,{SECRET}", "global.redis.password=****"),
    (f"global.redis.password={SECRET},with,commas", "global.redis.password=****"),
    (f"global.database.redis.hosts={{redis://:{SECRET}@h:6379}}", "global.database.redis.hosts={redis://:****@h:6379}"),
    (f"global.database.mongo.extraArgs=tls=true&password={SECRET}",
     "global.database.mongo.extraArgs=tls=true&password=****"),
    ("global.database.mongo.password=$(MONGO_PASSWORD)", "global.database.mongo.password=$(MONGO_PASSWORD)"),
    ("platform.ng-manager.replicaCount=3", "platform.ng-manager.replicaCount=3"),
    ("global.database.mongo.passwordKey=password", "global.database.mongo.passwordKey=password"),
])
def test_mask_set(assignment, expected):
    assert mask_set(assignment) == expected
