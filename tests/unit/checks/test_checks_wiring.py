"""wiring.wiring, wiring.connection_strings and wiring.parse_uris can fail; secrets are never printed."""

from __future__ import annotations

import pytest

from harness_refarch.checks import wiring
from harness_refarch.model.catalog import DatabaseExpectation

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
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, "mongodb:///ng-harness?replicaSet=rs0"))
    assert f.workload == CM_LOC
    assert f.field == "mongo connection string"
    assert f.expected == "a host"
    assert f.actual == "empty: 'mongodb:///ng-harness?replicaSet=rs0'"


def test_wiring_scheme_only_value_is_not_a_connection_string(make_pair, k8s, manifest):
    """``MONGO_URI: mongodb://`` is a protocol setting: the only finding is that no string is wired."""
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, "mongodb://"))
    assert (f.workload, f.field, f.actual) == ("mongo wiring", "connection strings", "none found in env or ConfigMaps")


def test_wiring_database_without_connection_string(make_pair, k8s, manifest):
    """A database client that reads Redis settings but finds no Redis connection string is a finding."""
    dbs = {**MONGO_IN, "redis": DatabaseExpectation("redis", in_cluster=True)}
    env = [k8s.secret_env("MONGO_USER"), k8s.secret_env("MONGO_PASSWORD"), k8s.secret_env("REDIS_PASSWORD")]
    [f] = wiring.wiring(make_pair(databases=dbs), _mongo(k8s, manifest, env=env))
    assert f.workload == "redis wiring"
    assert f.field == "connection strings"
    assert f.expected == "at least one (the render uses redis: Deployment/ng-manager container app env REDIS_PASSWORD)"
    assert f.actual == "none found in env or ConfigMaps"


def test_database_no_rendered_workload_uses_is_not_expected(make_pair, k8s, manifest):
    """The architecture lists PostgreSQL, but no rendered workload uses it (the released chart's
    CI and CD modules): no connection string is expected, so nothing is reported."""
    dbs = {**MONGO_IN, "postgres": DatabaseExpectation("postgres", in_cluster=True),
           "redis": DatabaseExpectation("redis", in_cluster=False, hosts=("cache.example.com:6379",))}
    # the database server's own settings are no evidence of a client (Patroni's admin password)
    admin = k8s.secret_env("postgresdbAdminPassword")
    server = k8s.statefulset("tsdb", containers=[k8s.container("tsdb", env=[admin])])
    assert wiring.wiring(make_pair(databases=dbs), _mongo(k8s, manifest, extra=[server])) == []
    m = _mongo(k8s, manifest)
    assert wiring.consumed(m, wiring.connection_strings(m)) == {"mongo": "ConfigMap/ng-manager:MONGO_URI"}


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
    from harness_refarch.model.catalog import DatabaseExpectation

    pair = make_pair(databases={"timescaledb": DatabaseExpectation(
        "timescaledb", in_cluster=False, hosts=("tsdb.example.com:5432",), tls=True)})

    def render(mode):
        return manifest(k8s.configmap("ng-manager", {
            "TIMESCALEDB_URI": "jdbc:postgresql://tsdb.example.com:5432/harness",
            "TIMESCALEDB_SSL_MODE": mode}))

    assert wiring.wiring(pair, render("require")) == []
    [f] = wiring.wiring(pair, render("disable"))
    assert f.field == "timescaledb TLS" and f.workload == "ConfigMap/ng-manager:TIMESCALEDB_URI"


# -- lists of URIs, attribution by where hosts resolve ---------------------------------------
REDIS_IN = {"redis": DatabaseExpectation("redis", in_cluster=True)}


def _sentinels(k8s, manifest, value, *, key="CACHE_REDIS_URL"):
    """A Redis StatefulSet with one Service per pod (selected by the controller's pod-name label)."""
    pods = [k8s.service(f"cache-announce-{i}", selector={"statefulset.kubernetes.io/pod-name": f"cache-node-{i}"},
                        port=26379) for i in range(3)]
    node = k8s.statefulset("cache-node", replicas=3, image="docker.io/bitnami/redis:7.2", service_name="cache-hl",
                           labels={"app.kubernetes.io/name": "redis", "app": "cache"})
    return manifest(k8s.service("cache-hl", selector={"app": "cache"}, headless=True), node, *pods,
                    k8s.configmap("api", {key: value}))


SENTINEL_LIST = "redis://cache-announce-0:26379,redis://cache-announce-1:26379,redis://cache-announce-2:26379"


def test_sentinel_uri_list_split_before_parsing(make_pair, k8s, manifest):
    m = _sentinels(k8s, manifest, SENTINEL_LIST)
    found = wiring.connection_strings(m)
    assert [u.hosts for u in found] == [("cache-announce-0:26379",), ("cache-announce-1:26379",),
                                        ("cache-announce-2:26379",)]
    assert wiring.wiring(make_pair(databases=REDIS_IN), m) == []


def test_sentinel_uri_list_with_one_unknown_host(make_pair, k8s, manifest):
    m = _sentinels(k8s, manifest, SENTINEL_LIST.replace("cache-announce-2", "cache-announce-9"))
    [f] = wiring.wiring(make_pair(databases=REDIS_IN), m)
    assert (f.workload, f.field) == ("ConfigMap/api:CACHE_REDIS_URL", "redis host(s) cache-announce-9:26379")


def test_pod_name_selector_service_belongs_to_the_database(k8s, manifest):
    hosts = wiring.database_hosts(_sentinels(k8s, manifest, SENTINEL_LIST))
    assert {"cache-announce-0", "cache-announce-2.harness.svc", "cache-node-1.cache-hl"} <= hosts["redis"]
    assert not hosts["mongo"]


def _timescale_and_postgres(k8s, manifest, data):
    tsdb = k8s.statefulset("events-store", replicas=1, image="timescale/timescaledb-ha:pg14",
                           labels={"app.kubernetes.io/name": "timescaledb"})
    pg = k8s.statefulset("pg", replicas=1, image="docker.io/bitnami/postgresql:14",
                         labels={"app.kubernetes.io/name": "postgresql"})
    return manifest(tsdb, pg, k8s.service("events-store", selector={"app.kubernetes.io/name": "timescaledb"}),
                    k8s.service("pg", selector={"app.kubernetes.io/name": "postgresql"}),
                    k8s.configmap("api", data))


SQL_IN = {"postgres": DatabaseExpectation("postgres", in_cluster=True),
          "timescaledb": DatabaseExpectation("timescaledb", in_cluster=True)}


def test_timescaledb_url_in_neutral_key_attributed_by_service(make_pair, k8s, manifest):
    m = _timescale_and_postgres(k8s, manifest, {"EVENTS_DB_URL": "jdbc:postgresql://events-store:5432/events",
                                                "APP_DB_URL": "postgres://pg.harness:5432/app"})
    assert {u.key: u.db for u in wiring.connection_strings(m)} == {"EVENTS_DB_URL": "timescaledb",
                                                                  "APP_DB_URL": "postgres"}
    assert wiring.wiring(make_pair(databases=SQL_IN), m) == []


def test_hosts_win_over_a_misleading_key_name(k8s, manifest):
    m = _timescale_and_postgres(k8s, manifest, {"TIMESCALEDB_URI": "postgres://pg:5432/app"})
    [uri] = wiring.connection_strings(m)
    assert uri.db == "postgres"


def test_timescaledb_url_attributed_by_configured_external_host(k8s, manifest):
    dbs = {"postgres": DatabaseExpectation("postgres", in_cluster=False, hosts=("pg.example.com:5432",)),
           "timescaledb": DatabaseExpectation("timescaledb", in_cluster=False, hosts=("tsdb.example.com:5432",))}
    m = manifest(k8s.configmap("api", {"EVENTS_DB_URL": "postgresql://tsdb.example.com:5432/events",
                                       "DB_URL": "postgresql://pg.example.com:5432/app"}))
    assert {u.key: u.db for u in wiring.connection_strings(m, dbs)} == {"EVENTS_DB_URL": "timescaledb",
                                                                       "DB_URL": "postgres"}


def test_key_name_is_the_last_resort(k8s, manifest):
    m = manifest(k8s.configmap("api", {"TIMESCALEDB_URI": "postgres://nowhere:5432/x", "X_URL": "postgres://n:1/x"}))
    assert {u.key: u.db for u in wiring.connection_strings(m)} == {"TIMESCALEDB_URI": "timescaledb",
                                                                  "X_URL": "postgres"}


# -- empty host lists, credentials by value --------------------------------------------------
def test_empty_host_list_in_external_mode(make_pair, k8s, manifest):
    """The scheme-only protocol key is not a connection string; the empty host list next to it is a finding."""
    m = manifest(k8s.configmap("ng-manager", {"MONGO_PROTOCOL": "mongodb://", "MONGO_HOSTS": "",
                                              "MONGO_URI": EXT_URI}))
    findings = wiring.wiring(make_pair(databases=MONGO_EXT), m)
    [f] = findings
    assert f.workload == "ConfigMap/ng-manager:MONGO_HOSTS"
    assert f.field == "mongo host list"
    assert f.expected == "mongo-a.example.com:27017, mongo-b.example.com:27017"
    assert f.actual == "empty"


def test_empty_host_list_env_in_external_mode(make_pair, k8s, manifest):
    app = k8s.container(env=[{"name": "REDIS_SENTINEL_HOSTS", "value": " , "}])
    dbs = {"redis": DatabaseExpectation("redis", in_cluster=False, hosts=("cache.example.com:6379",))}
    m = manifest(k8s.configmap("api", {"REDIS_URL": "redis://cache.example.com:6379"}),
                 k8s.deployment("api", containers=[app]))
    [f] = wiring.wiring(make_pair(databases=dbs), m)
    assert (f.workload, f.field, f.actual) == ("Deployment/api container app env REDIS_SENTINEL_HOSTS",
                                               "redis host list", "empty")


def test_empty_host_list_in_cluster_is_not_a_finding(make_pair, k8s, manifest):
    extra = [k8s.configmap("x", {"MONGO_HOSTS": ""})]
    assert wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, extra=extra)) == []


@pytest.mark.parametrize("value", ["no", "false", "TRUE", "yes", "0", "1", "", "$(MONGO_PASSWORD)"])
def test_setting_values_under_credential_names_are_not_credentials(make_pair, k8s, manifest, value):
    extra = [k8s.configmap("flags", {"MONGO_PASSWORD": value, "REDIS_TOKEN": value})]
    assert wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, extra=extra)) == []


def test_setting_values_in_env_are_not_credentials(make_pair, k8s, manifest):
    env = [k8s.secret_env("MONGO_USER"), k8s.secret_env("MONGO_PASSWORD"),
           {"name": "AUTH_TOKEN", "value": "false"}, {"name": "DB_PASSWORD", "value": ""}]
    assert wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, env=env)) == []


# -- one root cause, one finding ---------------------------------------------------------------
REDIS_EXT_TLS = {"redis": DatabaseExpectation("redis", in_cluster=False, hosts=("rediss://cache.example.com:6380",),
                                              tls=True)}


def _double_scheme_render(k8s, manifest, services=4):
    value = "redis://rediss://cache.example.com:6380"
    return manifest(*(k8s.configmap(f"svc-{i}", {"EVENTS_REDIS_URL": value, "LOCK_REDIS_URL": value,
                                                 "CACHE_REDIS_URL": value}) for i in range(services)))


def test_double_scheme_reported_once(make_pair, k8s, manifest):
    findings = wiring.wiring(make_pair(databases=REDIS_EXT_TLS), _double_scheme_render(k8s, manifest))
    [f] = findings
    assert f.workload == ("12 places: ConfigMap/svc-0:EVENTS_REDIS_URL, ConfigMap/svc-0:LOCK_REDIS_URL, "
                          "ConfigMap/svc-0:CACHE_REDIS_URL, ConfigMap/svc-1:EVENTS_REDIS_URL, "
                          "ConfigMap/svc-1:LOCK_REDIS_URL and 7 more")
    assert f.field == "redis connection string"
    assert f.expected == "one scheme"
    assert f.actual == "double scheme redis://rediss://"
    assert "prefixed" in f.hint


def test_double_scheme_host_is_not_the_inner_scheme(k8s, manifest):
    [uri, *_] = wiring.connection_strings(_double_scheme_render(k8s, manifest, services=1))
    assert uri.hosts == ("cache.example.com:6380",)
    assert uri.problem == "double scheme redis://rediss://"


def test_external_hosts_differ_reported_once(make_pair, k8s, manifest):
    uri = EXT_URI.replace("mongo-b.example.com", "mongo-c.example.com")
    m = manifest(*(k8s.configmap(f"svc-{i}", {"MONGO_URI": uri}) for i in range(6)))
    findings = wiring.wiring(make_pair(databases=MONGO_EXT), m)
    [f] = findings
    assert f.workload.startswith("6 places: ConfigMap/svc-0:MONGO_URI, ")
    assert f.workload.endswith(" and 1 more")
    assert f.field == "mongo hosts"


def test_tls_off_for_one_host_reported_once(make_pair, k8s, manifest):
    dbs = {"mongo": DatabaseExpectation("mongo", in_cluster=False, hosts=("m.example.com",), tls=True)}
    m = manifest(*(k8s.configmap(f"svc-{i}", {"MONGO_URI": f"mongodb://m.example.com/db{i}"}) for i in range(3)))
    [f] = wiring.wiring(make_pair(databases=dbs), m)
    assert f.workload == "3 places: ConfigMap/svc-0:MONGO_URI, ConfigMap/svc-1:MONGO_URI, ConfigMap/svc-2:MONGO_URI"
    assert f.field == "mongo TLS"
    assert f.actual == "off in mongodb://m.example.com/db0 and 2 more connection string(s) to the same host(s)"


def test_unparsable_connection_string(make_pair, k8s, manifest, text_of):
    dbs = {"redis": DatabaseExpectation("redis", in_cluster=False, hosts=("cache.example.com:6379",))}
    m = manifest(k8s.configmap("api", {"REDIS_URL": f"redis://cache.example.com:{SECRET}"}))
    findings = wiring.wiring(make_pair(databases=dbs), m)
    [f] = findings
    assert f.field == "redis connection string"
    assert f.expected == "a connection string its client can parse"
    assert f.actual.startswith("not a valid redis:// connection string (Port could not be cast")


# -- credentials never printed, whatever they hold ---------------------------------------------
@pytest.mark.parametrize("uri", [
    f"mongodb://admin:{SECRET}/x@mongo.example.com:27017/h",
    f"mongodb://admin:{SECRET}?x@mongo.example.com:27017/h",
    f"mongodb://admin:{SECRET};x@mongo.example.com:27017/h",
    f"mongodb://admin:{SECRET} x@mongo.example.com:27017/h",
    f"mongodb://admin:{SECRET}'x\"@mongo.example.com:27017/h",
    f"mongodb://admin:{SECRET}@x@mongo.example.com:27017/h",
    f"redis://{SECRET}@mongo.example.com:27017",
    f"redis://:{SECRET}@mongo.example.com:27017",
    f"postgres://u:{SECRET}/?;@mongo.example.com:27017/h",
    f"postgres://mongo.example.com:27017/h?sslpassword={SECRET}",
    f"postgres://mongo.example.com:27017/h?token={SECRET}",
    f"postgres://mongo.example.com:27017/h?access_token={SECRET}&sslmode=disable",
    f"postgres://mongo.example.com:27017/h?user=x&password={SECRET}",
    f"redis://rediss://:{SECRET}@mongo.example.com:27017",
    f"jdbc:postgresql://mongo.example.com:27017/h?apiKey={SECRET}",
], ids=["slash", "question", "semicolon", "space", "quotes", "at", "redis_lone", "redis_colon", "pg_mixed",
        "sslpassword", "token", "access_token", "password_param", "double_scheme", "apikey"])
def test_planted_credentials_never_in_findings(make_pair, k8s, manifest, text_of, uri):
    dbs = {db: DatabaseExpectation(db, in_cluster=False, hosts=("other.example.com",), tls=True)
           for db in ("mongo", "redis", "postgres")}
    m = manifest(k8s.configmap("api", {"DB_URL": uri, "OTHER": f"prefix {uri} suffix"}),
                 k8s.deployment("api", containers=[k8s.container(env=[{"name": "CONN", "value": uri}])]))
    findings = wiring.wiring(make_pair(databases=dbs), m)
    assert findings
    text = text_of(findings) + repr(findings) + repr(wiring.connection_strings(m))
    assert SECRET not in text


def test_connection_string_repr_hides_the_password():
    [uri] = wiring.parse_uris(f"mongodb://admin:{SECRET}@h/db?password={SECRET}", "MONGO_URI", "loc")
    assert SECRET not in repr(uri)
    assert SECRET not in str(uri)


# -- issue 13: no false findings, empty host lists ------------------------------------------------
def test_empty_host_list_with_no_value_in_external_mode(make_pair, k8s, manifest):
    """``- name: MONGODB_HOSTS`` / ``value:`` with nothing (the released access-control in external
    pairs) renders as null: that is an empty host list too."""
    app = k8s.container("access-control", env=[k8s.secret_env("MONGO_USER"), k8s.secret_env("MONGO_PASSWORD"),
                                               {"name": "MONGODB_HOSTS", "value": None},
                                               {"name": "MONGO_URI", "value": EXT_URI}])
    m = manifest(k8s.deployment("access-control", containers=[app]))
    [f] = wiring.wiring(make_pair(databases=MONGO_EXT), m)
    assert (f.workload, f.field) == ("Deployment/access-control container access-control env MONGODB_HOSTS",
                                     "mongo host list")
    assert f.expected == "mongo-a.example.com:27017, mongo-b.example.com:27017"
    assert f.actual == "empty (the key renders with no value)"


@pytest.mark.parametrize("name", ["TIMESCALEDB_USERNAME", "TI_SERVICE_TIMESCALE_USERNAME", "MONGO_USER",
                                  "REDIS_USERNAME", "DB_USER"])
def test_user_name_is_not_a_credential(make_pair, k8s, manifest, name):
    """A user name identifies an account; only its password is a credential (released chart:
    ``TIMESCALEDB_USERNAME: postgres`` as a literal env value, used in the JDBC URI)."""
    uri = GOOD_URI.replace("$(MONGO_USER)", f"$({name})")
    env = [{"name": name, "value": "postgres"}, k8s.secret_env("MONGO_PASSWORD")]
    extra = [k8s.configmap("names", {name: "harness"})]
    assert wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, uri, env=env, extra=extra)) == []


def test_literal_user_in_uri_is_not_a_credential_but_password_is(make_pair, k8s, manifest):
    ok = GOOD_URI.replace("$(MONGO_USER)", "harness")
    assert wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, ok)) == []
    bad = GOOD_URI.replace("$(MONGO_PASSWORD)", SECRET)
    [f] = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, bad))
    assert f.field == "credentials in connection string"
    assert SECRET not in f.actual


def test_password_from_a_literal_env_var_is_still_a_finding(make_pair, k8s, manifest):
    env = [{"name": "MONGO_USER", "value": "harness"}, {"name": "MONGO_PASSWORD", "value": SECRET}]
    found = wiring.wiring(make_pair(databases=MONGO_IN), _mongo(k8s, manifest, env=env))
    assert {(f.field, f.expected) for f in found} == {
        ("env MONGO_PASSWORD", "from a secretKeyRef"),
        ("env MONGO_PASSWORD", "credentials only through secretKeyRef")}
