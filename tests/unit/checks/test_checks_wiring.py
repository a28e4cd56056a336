"""wiring.wiring, wiring.connection_strings and wiring.parse_uris can fail; secrets are never printed."""

from __future__ import annotations

import pytest

from harness_refarch.catalog import DatabaseExpectation
from harness_refarch.checks import wiring

MONGO_IN = {"mongo": DatabaseExpectation("mongo", in_cluster=True)}
SECRET = "S3cr3tPassw0rd"
MEMBERS = ("mongodb-0.mongodb-headless.harness.svc:27017,mongodb-1.mongodb-headless:27017,"
           "mongodb-2.mongodb-headless.harness.svc.cluster.local:27017")
GOOD_URI = f"mongodb://$(MONGO_USER):$(MONGO_PASSWORD)@{MEMBERS}/ng-harness?replicaSet=rs0&authSource=admin"
CM_LOC = "ConfigMap/ng-manager:MONGO_URI"
APP = "Deployment/ng-manager container app"


def _mongo(k8s, manifest, uri=GOOD_URI, *, members=3, env=None, extra=()):
    """In-cluster MongoDB (3 members, headless Service) and ng-manager reading the URI from a ConfigMap."""
    if env is None:
        env = [k8s.secret_env("MONGO_USER"), k8s.secret_env("MONGO_PASSWORD")]
    app = k8s.container(env=env, env_from=[{"configMapRef": {"name": "ng-manager"}}])
    return manifest(
        k8s.service("mongodb-headless", selector={"app": "mongodb"}, headless=True, port=27017),
        k8s.statefulset("mongodb", replicas=members, service_name="mongodb-headless"),
        k8s.configmap("ng-manager", {"MONGO_URI": uri, "LOG_LEVEL": "INFO"}),
        k8s.deployment("ng-manager", containers=[app]),
        *extra,
    )


def _external(k8s, manifest, key, uri):
    return manifest(k8s.configmap("ng-manager", {key: uri}), k8s.deployment("ng-manager"))


# -- parse_uris / connection_strings ---------------------------------------------------------
def test_parse_uris_finds_every_scheme_in_a_config_file():
    text = ("mongo: mongodb+srv://cluster0.example.com/harness?retryWrites=true\n"
            "cache: rediss://:$(REDIS_PASSWORD)@cache.example.com:6380\n"
            "jdbc: jdbc:postgresql://pg-a:5432,pg-b:5432/harness?sslmode=require\n"
            "not-a-uri: xmongodb://ignored:1\n")
    uris = list(wiring.parse_uris(text, "application.yml", "ConfigMap/x:application.yml"))
    assert [(u.db, u.scheme, u.hosts) for u in uris] == [
        ("mongo", "mongodb+srv", ("cluster0.example.com",)),
        ("redis", "rediss", ("cache.example.com:6380",)),
        ("postgres", "jdbc:postgresql", ("pg-a:5432", "pg-b:5432")),
    ]
    assert uris[2].path == "/harness"
    assert uris[2].params == {"sslmode": "require"}
    assert all(u.location == "ConfigMap/x:application.yml" for u in uris)


def test_parse_uris_timescale_by_key():
    [uri] = wiring.parse_uris("jdbc:postgresql://timescaledb:5432/harness", "TIMESCALEDB_URI", "loc")
    assert uri.db == "timescaledb"


def test_parse_uris_masks_literal_password_in_text():
    [uri] = wiring.parse_uris(f"mongodb://admin:{SECRET}@mongo:27017/db?authSource=admin", "MONGO_URI", "loc")
    assert uri.userinfo == f"admin:{SECRET}"
    assert uri.text == "mongodb://admin:****@mongo:27017/db?authSource=admin"


def test_parse_uris_keeps_var_references_in_text():
    [uri] = wiring.parse_uris("redis://$(U):$(P)@redis:6379", "REDIS_URI", "loc")
    assert uri.text == "redis://$(U):$(P)@redis:6379"


def test_connection_strings_reads_configmaps_and_literal_env(k8s, manifest):
    app = k8s.container(env=[{"name": "EVENTS_REDIS_URI", "value": "redis://redis-master:6379"}])
    m = manifest(k8s.configmap("ng-manager", {"MONGO_URI": GOOD_URI}), k8s.deployment("ng-manager", containers=[app]))
    found = {(u.db, u.location) for u in wiring.connection_strings(m)}
    assert found == {("mongo", CM_LOC), ("redis", f"{APP} env EVENTS_REDIS_URI")}


def test_connection_strings_configmap_env_read_once(k8s, manifest):
    """env sourced from the ConfigMap is the ConfigMap's value: one URI, with its consumer attached."""
    uris = wiring.connection_strings(_mongo(k8s, manifest))
    assert len(uris) == 1
    assert [(w.key, c.name) for w, c in uris[0].consumers] == [("Deployment/ng-manager", "app")]


# -- in-cluster MongoDB ----------------------------------------------------------------------
def test_wiring_in_cluster_conformant(make_pair, k8s, manifest):
    assert wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest)) == []


def test_wiring_in_cluster_service_host_with_single_member(make_pair, k8s, manifest):
    uri = "mongodb://$(MONGO_USER):$(MONGO_PASSWORD)@mongodb-headless.harness.svc.cluster.local:27017/h?replicaSet=rs0"
    assert wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, uri, members=1)) == []


def test_wiring_host_resolves_to_nothing(make_pair, k8s, manifest):
    uri = GOOD_URI.replace("mongodb-1.mongodb-headless:27017", "mongo-typo:27017")
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, uri))
    assert f.check == "wiring"
    assert f.workload == CM_LOC
    assert f.field == "mongo host(s) mongo-typo:27017"
    assert f.expected == "a rendered Service or StatefulSet pod in namespace harness"
    assert f.actual == "no such Service or pod"


def test_wiring_pod_index_beyond_replicas(make_pair, k8s, manifest):
    uri = GOOD_URI.replace("mongodb-1.mongodb-headless", "mongodb-3.mongodb-headless")
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, uri))
    assert (f.workload, f.field) == (CM_LOC, "mongo host(s) mongodb-3.mongodb-headless:27017")


def test_wiring_host_in_other_namespace(make_pair, k8s, manifest):
    uri = GOOD_URI.replace("mongodb-0.mongodb-headless.harness.svc", "mongodb-0.mongodb-headless.other.svc")
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, uri))
    assert f.field == "mongo host(s) mongodb-0.mongodb-headless.other.svc:27017"


def test_wiring_host_count_differs_from_members(make_pair, k8s, manifest):
    uri = "mongodb://$(MONGO_USER):$(MONGO_PASSWORD)@mongodb-0.mongodb-headless:27017,mongodb-1.mongodb-headless:27017/h"
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, uri))
    assert f.workload == CM_LOC
    assert f.field == "MongoDB hosts"
    assert f.expected == "3 (one per replica-set member)"
    assert f.actual == "2"


def test_wiring_two_replica_set_names(make_pair, k8s, manifest):
    other = k8s.configmap("pipeline-service", {"MONGO_URI": GOOD_URI.replace("replicaSet=rs0", "replicaSet=rs1")})
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, extra=[other]))
    assert f.workload == "MongoDB"
    assert f.field == "replicaSet name"
    assert f.expected == "one name everywhere"
    assert "rs0: ConfigMap/ng-manager:MONGO_URI (+0)" in f.actual
    assert "rs1: ConfigMap/pipeline-service:MONGO_URI (+0)" in f.actual


def test_wiring_replica_set_option_case_insensitive(make_pair, k8s, manifest):
    other = k8s.configmap("pipeline-service", {"MONGO_URI": GOOD_URI.replace("replicaSet=rs0", "replicaset=rs0")})
    assert wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, extra=[other])) == []


def test_wiring_literal_credentials_in_uri_are_masked(make_pair, k8s, manifest, text_of):
    uri = f"mongodb://admin:{SECRET}@{MEMBERS}/ng-harness?replicaSet=rs0"
    findings = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, uri))
    [f] = findings
    assert f.workload == CM_LOC
    assert f.field == "credentials in connection string"
    assert f.expected == "$(VAR) references to secretKeyRef env vars"
    assert f.actual.startswith("literal credentials in mongodb://admin:****@mongodb-0.")
    assert SECRET not in text_of(findings)


def test_wiring_literal_password_env_value(make_pair, k8s, manifest, text_of):
    env = [k8s.secret_env("MONGO_USER"), {"name": "MONGO_PASSWORD", "value": SECRET}]
    findings = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, env=env))
    assert SECRET not in text_of(findings)
    got = {(f.workload, f.field, f.expected, f.actual) for f in findings}
    assert got == {
        (APP, "env MONGO_PASSWORD", "credentials only through secretKeyRef", "a literal value (****)"),
        (APP, "env MONGO_PASSWORD", "from a secretKeyRef", f"literal value (used in {CM_LOC})"),
    }


def test_wiring_var_reference_to_plain_value(make_pair, k8s, manifest, text_of):
    """$(DB_PASS) resolves to a literal env value (a name the credential-name lint does not catch)."""
    uri = GOOD_URI.replace("$(MONGO_USER):$(MONGO_PASSWORD)", "$(MONGO_USER):$(DB_PASS)")
    env = [k8s.secret_env("MONGO_USER"), {"name": "DB_PASS", "value": SECRET}]
    findings = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, uri, env=env))
    [f] = findings
    assert f.workload == APP
    assert f.field == "env DB_PASS"
    assert f.expected == "from a secretKeyRef"
    assert f.actual == f"literal value (used in {CM_LOC})"
    assert SECRET not in text_of(findings)


def test_wiring_var_reference_undefined(make_pair, k8s, manifest):
    findings = wiring.wiring(make_pair(databases=MONGO_IN),
                             _mongo(k8s, manifest, env=[k8s.secret_env("MONGO_USER")]))
    [f] = findings
    assert (f.workload, f.field, f.actual) == (APP, "env MONGO_PASSWORD", f"undefined (used in {CM_LOC})")


def test_wiring_var_reference_to_configmap_value(make_pair, k8s, manifest):
    env = [k8s.secret_env("MONGO_USER"),
           {"name": "MONGO_PASSWORD", "valueFrom": {"configMapKeyRef": {"name": "ng-manager", "key": "LOG_LEVEL"}}}]
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, env=env))
    assert f.field == "env MONGO_PASSWORD"
    assert f.actual == f"configMap ConfigMap/ng-manager:LOG_LEVEL (used in {CM_LOC})"


def test_wiring_literal_password_in_configmap(make_pair, k8s, manifest, text_of):
    extra = [k8s.configmap("harness-config", {"MONGO_PASSWORD": SECRET})]
    findings = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, extra=extra))
    [f] = findings
    assert (f.workload, f.field, f.actual) == (
        "ConfigMap/harness-config", "data.MONGO_PASSWORD", "a literal value (****)")
    assert SECRET not in text_of(findings)


def test_wiring_password_query_parameter_reported(make_pair, k8s, manifest):
    uri = f"{GOOD_URI}&password=$(MONGO_PASSWORD)"
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, uri))
    assert (f.workload, f.field, f.expected) == (CM_LOC, "query parameter password", "no credentials in the URI")


def test_wiring_password_query_parameter_never_printed(make_pair, k8s, manifest, text_of):
    dbs = {"postgres": DatabaseExpectation("postgres", in_cluster=False, hosts=("pg.example.com:5432",), tls=True)}
    m = _external(k8s, manifest, "JDBC_URL", f"jdbc:postgresql://pg.example.com:5432/harness?user=harness&password={SECRET}")
    findings = wiring.wiring(make_pair(databases=dbs), m)
    assert any(f.field == "query parameter password" for f in findings)
    assert SECRET not in text_of(findings)


def test_wiring_redis_password_only_userinfo(make_pair, k8s, manifest):
    app = k8s.container(env=[k8s.secret_env("REDIS_PASSWORD"),
                             {"name": "REDIS_URI", "value": "redis://:$(REDIS_PASSWORD)@redis-master:6379"}])
    m = manifest(k8s.service("redis-master", port=6379), k8s.deployment("ng-manager", containers=[app]))
    dbs = {"redis": DatabaseExpectation("redis", in_cluster=True)}
    assert wiring.wiring(make_pair(databases=dbs), m) == []


def test_wiring_empty_connection_string(make_pair, k8s, manifest):
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, "mongodb://"))
    assert f.workload == CM_LOC
    assert f.field == "mongo connection string"
    assert f.expected == "a host"
    assert f.actual == "empty: 'mongodb://'"


def test_wiring_database_without_connection_string(make_pair, k8s, manifest):
    dbs = {**MONGO_IN, "redis": DatabaseExpectation("redis", in_cluster=True)}
    [f] = wiring.wiring(make_pair(databases=dbs), _mongo(k8s, manifest))
    assert f.workload == "redis wiring"
    assert f.field == "connection strings"
    assert f.expected == "at least one"
    assert f.actual == "none found in env or ConfigMaps"


# -- external databases ----------------------------------------------------------------------
EXT_HOSTS = ("mongo-a.example.com:27017", "mongo-b.example.com:27017")
MONGO_EXT = {"mongo": DatabaseExpectation("mongo", in_cluster=False, hosts=EXT_HOSTS)}
EXT_URI = "mongodb://$(MONGO_USER):$(MONGO_PASSWORD)@mongo-b.example.com:27017,Mongo-A.example.com:27017/h"


def _ext_mongo(k8s, manifest, uri=EXT_URI, extra=()):
    app = k8s.container(env=[k8s.secret_env("MONGO_USER"), k8s.secret_env("MONGO_PASSWORD")],
                        env_from=[{"configMapRef": {"name": "ng-manager"}}])
    return manifest(k8s.configmap("ng-manager", {"MONGO_URI": uri}), k8s.deployment("ng-manager", containers=[app]),
                    *extra)


def test_wiring_external_conformant(make_pair, k8s, manifest):
    """Host order and case do not matter."""
    assert wiring.wiring(make_pair(databases=MONGO_EXT), _ext_mongo(k8s, manifest)) == []


def test_wiring_external_with_rendered_statefulset(make_pair, k8s, manifest):
    m = _ext_mongo(k8s, manifest, extra=[k8s.statefulset("mongodb", replicas=3)])
    [f] = wiring.wiring(make_pair(databases=MONGO_EXT), m)
    assert f.workload == "StatefulSet/mongodb"
    assert f.field == "mongo in-cluster workload"
    assert f.expected == "none (external database configured)"
    assert f.actual == "rendered"


def test_wiring_external_hosts_differ(make_pair, k8s, manifest):
    uri = EXT_URI.replace("mongo-b.example.com", "mongo-c.example.com")
    [f] = wiring.wiring(make_pair(databases=MONGO_EXT), _ext_mongo(k8s, manifest, uri))
    assert f.workload == CM_LOC
    assert f.field == "mongo hosts"
    assert f.expected == "mongo-a.example.com:27017, mongo-b.example.com:27017"
    assert f.actual == "mongo-a.example.com:27017, mongo-c.example.com:27017"


def test_wiring_external_without_configured_hosts(make_pair, k8s, manifest):
    dbs = {"mongo": DatabaseExpectation("mongo", in_cluster=False)}
    [f] = wiring.wiring(make_pair(databases=dbs), _ext_mongo(k8s, manifest))
    assert (f.field, f.expected) == ("mongo hosts", "(none configured)")


@pytest.mark.parametrize(("db", "key", "uri"), [
    ("redis", "REDIS_URI", "redis://cache.example.com:6379"),
    ("mongo", "MONGO_URI", "mongodb://mongo.example.com:27017/harness?replicaSet=rs0"),
    ("mongo", "MONGO_URI", "mongodb://mongo.example.com:27017/harness?tls=false"),
    ("postgres", "JDBC_URL", "jdbc:postgresql://pg.example.com:5432/harness"),
    ("postgres", "POSTGRES_URI", "postgres://pg.example.com:5432/harness?sslmode=disable"),
], ids=["redis_plain", "mongo_no_tls_param", "mongo_tls_false", "jdbc_no_sslmode", "postgres_sslmode_disable"])
def test_wiring_tls_required_but_off(make_pair, k8s, manifest, db, key, uri):
    [parsed] = wiring.parse_uris(uri, key, "x")
    dbs = {db: DatabaseExpectation(db, in_cluster=False, hosts=parsed.hosts, tls=True)}
    [f] = wiring.wiring(make_pair(databases=dbs), _external(k8s, manifest, key, uri))
    assert f.workload == f"ConfigMap/ng-manager:{key}"
    assert f.field == f"{db} TLS"
    assert f.expected.startswith("on (")
    assert f.actual == f"off in {uri}"


@pytest.mark.parametrize(("db", "key", "uri"), [
    ("mongo", "MONGO_URI", "mongodb+srv://cluster0.example.com/harness"),
    ("mongo", "MONGO_URI", "mongodb://mongo.example.com:27017/harness?tls=true"),
    ("mongo", "MONGO_URI", "mongodb://mongo.example.com:27017/harness?ssl=TRUE"),
    ("redis", "REDIS_URI", "rediss://cache.example.com:6380"),
    ("postgres", "POSTGRES_URI", "postgres://pg.example.com:5432/harness?sslmode=require"),
    ("postgres", "JDBC_URL", "jdbc:postgresql://pg.example.com:5432/harness?sslmode=verify-full"),
], ids=["mongodb_srv", "mongo_tls_true", "mongo_ssl_true", "rediss", "postgres_sslmode_require",
        "jdbc_sslmode_verify_full"])
def test_wiring_tls_satisfied(make_pair, k8s, manifest, db, key, uri):
    [parsed] = wiring.parse_uris(uri, key, "x")
    dbs = {db: DatabaseExpectation(db, in_cluster=False, hosts=parsed.hosts, tls=True)}
    assert wiring.wiring(make_pair(databases=dbs), _external(k8s, manifest, key, uri)) == []


def test_timescaledb_tls_may_be_set_by_a_sibling_ssl_key(make_pair, k8s, manifest):
    """Charts that keep TLS out of the JDBC URL (TIMESCALEDB_SSL_MODE: require) still pass."""
    from harness_refarch.catalog import DatabaseExpectation

    pair = make_pair(databases={"timescaledb": DatabaseExpectation(
        "timescaledb", in_cluster=False, hosts=("tsdb.example.com:5432",), tls=True)})

    def render(mode):
        return manifest(k8s.configmap("ng-manager", {
            "TIMESCALEDB_URI": "jdbc:postgresql://tsdb.example.com:5432/harness",
            "TIMESCALEDB_SSL_MODE": mode}))

    assert wiring.wiring(pair, render("require")) == []
    [f] = wiring.wiring(pair, render("disable"))
    assert f.field == "timescaledb TLS" and f.workload == "ConfigMap/ng-manager:TIMESCALEDB_URI"
