{{/*
Database topology and wiring. The in-cluster database objects (platform.bootstrap.database)
and the services that connect to them both read the names below, so a rename can never leave
a connection string pointing at a Service that is not rendered.

Service charts cannot see platform.bootstrap.database.* (Helm hands a subchart only its own
values plus `global`), so the member counts that shape connection strings are mirrored in
global.database.{mongo,redis}.replicaCount. A mismatch is not a render error: it shows up in
the conformance suite's wiring check (MongoDB host count differs from the members).
*/}}

{{/* Object names of the in-cluster databases (the names the released chart uses). */}}
{{- define "harness-common.db.names" -}}
mongo: mongodb-replicaset-chart
redisServer: redis-sentinel-harness-server
redisHeadless: redis-sentinel-harness-headless
redisAnnounce: redis-sentinel-harness-announce
redisMaster: harness-redis
postgres: postgres
timescaledb: timescaledb-single-chart
{{- end -}}

{{/*
Secrets holding in-cluster database credentials, and the env var names services read them
into. External databases use global.database.<db>.{secretName,userKey,passwordKey} instead.
In-cluster Redis runs without auth, so it has no entry.
*/}}
{{- define "harness-common.db.inClusterSecrets" -}}
mongo: {secretName: mongodb-replicaset-chart, userKey: mongodb-root-username, passwordKey: mongodb-root-password}
postgres: {secretName: postgres, userKey: postgres-username, passwordKey: postgres-password}
timescaledb: {secretName: harness-secrets, userKey: timescaledbUsername, passwordKey: timescaledbPassword}
{{- end -}}

{{- define "harness-common.db.envNames" -}}
mongo: {user: MONGO_USER, password: MONGO_PASSWORD}
postgres: {user: POSTGRES_USER, password: POSTGRES_PASSWORD}
timescaledb: {user: TIMESCALEDB_USERNAME, password: TIMESCALEDB_PASSWORD}
redis: {user: REDIS_USERNAME, password: REDIS_PASSWORD}
{{- end -}}

{{/* Replica-set members: HA runs replicaCount members, non-HA a single member. (dict "ha" "replicas") */}}
{{- define "harness-common.db.mongoMembers" -}}
{{- if .ha }}{{ int .replicas }}{{ else }}1{{ end -}}
{{- end -}}

{{/* Fails with a readable message when an external database has no host configured. */}}
{{- define "harness-common.db.externalHosts" -}}
{{- $hosts := .conf.hosts | default list -}}
{{- if not $hosts -}}
{{- fail (printf "global.database.%s.installed is false, so global.database.%s.hosts must list the external hosts" .db .db) -}}
{{- end -}}
{{- toJson $hosts -}}
{{- end -}}

{{- define "harness-common.db.withArgs" -}}
{{- if .args }}{{ printf "%s?%s" .uri .args }}{{ else }}{{ .uri }}{{ end -}}
{{- end -}}

{{/*
One connection string. (dict "root" $ "kind" mongo|redis|timescaledb|postgres "db" <database>)
Credentials never appear literally: URIs reference $(VAR) env vars filled from Secrets.
*/}}
{{- define "harness-common.db.uri" -}}
{{- $root := .root -}}
{{- $ns := $root.Release.Namespace -}}
{{- $names := include "harness-common.db.names" . | fromYaml -}}
{{- $conf := index $root.Values.global.database .kind -}}
{{- if eq .kind "mongo" -}}
  {{- $auth := "$(MONGO_USER):$(MONGO_PASSWORD)@" -}}
  {{- if $conf.installed -}}
    {{- $hosts := list -}}
    {{- $members := include "harness-common.db.mongoMembers" (dict "ha" $root.Values.global.ha "replicas" $conf.replicaCount) | int -}}
    {{- range $i := until $members -}}
      {{- $hosts = append $hosts (printf "%s-%d.%s.%s.svc:27017" $names.mongo $i $names.mongo $ns) -}}
    {{- end -}}
    {{- printf "mongodb://%s%s/%s?replicaSet=rs0&authSource=admin" $auth (join "," $hosts) .db -}}
  {{- else -}}
    {{- $hosts := include "harness-common.db.externalHosts" (dict "db" "mongo" "conf" $conf) | fromJsonArray -}}
    {{- include "harness-common.db.withArgs" (dict "uri" (printf "%s://%s%s/%s" $conf.protocol $auth (join "," $hosts) .db) "args" $conf.extraArgs) -}}
  {{- end -}}
{{- else if eq .kind "redis" -}}
  {{- $hosts := list -}}
  {{- if $conf.installed -}}
    {{- range $i := until (int $conf.replicaCount) -}}
      {{- $hosts = append $hosts (printf "%s-%d.%s:26379" $names.redisAnnounce $i $ns) -}}
    {{- end -}}
    {{- printf "redis://%s" (join "," $hosts) -}}
  {{- else -}}
    {{- /* as the released chart: every host gets the protocol setting as its scheme (rediss for
           TLS), so hosts are bare host:port; a scheme written into hosts becomes a double scheme */ -}}
    {{- range $h := include "harness-common.db.externalHosts" (dict "db" "redis" "conf" $conf) | fromJsonArray -}}
      {{- $hosts = append $hosts (printf "%s://%s" ($conf.protocol | default "redis") $h) -}}
    {{- end -}}
    {{- join "," $hosts -}}
  {{- end -}}
{{- else if eq .kind "timescaledb" -}}
  {{- if $conf.installed -}}
    {{- printf "jdbc:postgresql://%s.%s:5432/harness" $names.timescaledb $ns -}}
  {{- else -}}
    {{- $hosts := include "harness-common.db.externalHosts" (dict "db" "timescaledb" "conf" $conf) | fromJsonArray -}}
    {{- $args := compact (list (ternary "sslmode=require" "" (eq (toString $conf.sslEnabled) "true")) $conf.extraArgs) -}}
    {{- include "harness-common.db.withArgs" (dict "uri" (printf "jdbc:postgresql://%s/harness" (first $hosts)) "args" (join "&" $args)) -}}
  {{- end -}}
{{- else if eq .kind "postgres" -}}
  {{- $hostPart := printf "%s.%s:5432" $names.postgres $ns -}}
  {{- if not $conf.installed -}}
    {{- $hostPart = include "harness-common.db.externalHosts" (dict "db" "postgres" "conf" $conf) | fromJsonArray | join "," -}}
  {{- end -}}
  {{- include "harness-common.db.withArgs" (dict "uri" (printf "%s://%s/%s" $conf.protocol $hostPart .db) "args" $conf.extraArgs) -}}
{{- else -}}
  {{- fail (printf "unknown database kind %q (want mongo, redis, timescaledb or postgres)" .kind) -}}
{{- end -}}
{{- end -}}

{{/*
The databases a service uses, as a dict kind -> database name ("" where the kind has no
database name). Reads the service's `databases` block; (dict "root" $).
*/}}
{{- define "harness-common.db.used" -}}
{{- $dbs := get .root.Values "databases" | default dict -}}
{{- $used := dict -}}
{{- with get $dbs "mongo" }}{{ $_ := set $used "mongo" (toString .) }}{{ end -}}
{{- with get $dbs "postgres" }}{{ $_ := set $used "postgres" (toString .) }}{{ end -}}
{{- if get $dbs "redis" }}{{ $_ := set $used "redis" "" }}{{ end -}}
{{- if get $dbs "timescaledb" }}{{ $_ := set $used "timescaledb" "harness" }}{{ end -}}
{{- toJson $used -}}
{{- end -}}

{{/*
Env entries reading a user / password pair from a Secret.
(dict "user" <env name> "password" <env name> "ref" (dict "secretName" "userKey" "passwordKey"))
*/}}
{{- define "harness-common.db.credentialPair" -}}
- name: {{ .user }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.secretName }}
      key: {{ .ref.userKey }}
- name: {{ .password }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.secretName }}
      key: {{ .ref.passwordKey }}
{{- end -}}

{{/*
Container env entries for database credentials (secretKeyRef only), in a fixed order so the
plain-value connection strings listed after them can expand $(VAR). (dict "root" $)
*/}}
{{- define "harness-common.db.credentialEnv" -}}
{{- $root := .root -}}
{{- $used := include "harness-common.db.used" . | fromJson -}}
{{- $inCluster := include "harness-common.db.inClusterSecrets" . | fromYaml -}}
{{- $envNames := include "harness-common.db.envNames" . | fromYaml -}}
{{- range $kind := list "mongo" "timescaledb" "postgres" "redis" -}}
{{- if hasKey $used $kind -}}
{{- $conf := index $root.Values.global.database $kind -}}
{{- $ref := get $inCluster $kind -}}
{{- if not $conf.installed -}}
{{- $ref = dict "secretName" $conf.secretName "userKey" $conf.userKey "passwordKey" $conf.passwordKey -}}
{{- end -}}
{{- if $ref }}
{{ include "harness-common.db.credentialPair" (merge (dict "ref" $ref) (get $envNames $kind)) }}
{{- end -}}
{{- if and (eq $kind "timescaledb") (not $conf.installed) (eq (toString $conf.sslEnabled) "true") }}
- name: TIMESCALEDB_SSL_ROOT_CERT
  valueFrom:
    secretKeyRef:
      name: {{ $conf.certName }}
      key: {{ $conf.certKey }}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
ConfigMap data with the connection strings of every database the service uses.
(dict "root" $)
*/}}
{{- define "harness-common.db.config" -}}
{{- $root := .root -}}
{{- $used := include "harness-common.db.used" . | fromJson -}}
{{- $names := include "harness-common.db.names" . | fromYaml -}}
{{- if hasKey $used "mongo" }}
MONGO_URI: {{ include "harness-common.db.uri" (dict "root" $root "kind" "mongo" "db" $used.mongo) | quote }}
{{- end }}
{{- if hasKey $used "redis" }}
{{- $redis := include "harness-common.db.uri" (dict "root" $root "kind" "redis") }}
{{- range $key := list "EVENTS_FRAMEWORK_REDIS_URL" "LOCK_CONFIG_REDIS_URL" "CACHE_CONFIG_REDIS_URL" }}
{{ $key }}: {{ $redis | quote }}
{{- end }}
{{- if $root.Values.global.database.redis.installed }}
EVENTS_FRAMEWORK_USE_SENTINEL: "true"
EVENTS_FRAMEWORK_SENTINEL_MASTER_NAME: {{ $names.redisMaster | quote }}
{{- else }}
EVENTS_FRAMEWORK_USE_SENTINEL: "false"
{{- end }}
{{- end }}
{{- if hasKey $used "timescaledb" }}
{{- $ts := $root.Values.global.database.timescaledb }}
TIMESCALEDB_URI: {{ include "harness-common.db.uri" (dict "root" $root "kind" "timescaledb") | quote }}
TIMESCALEDB_SSL_MODE: {{ ternary "require" "disable" (and (not $ts.installed) (eq (toString $ts.sslEnabled) "true")) | quote }}
{{- end }}
{{- if hasKey $used "postgres" }}
POSTGRES_URI: {{ include "harness-common.db.uri" (dict "root" $root "kind" "postgres" "db" $used.postgres) | quote }}
{{- end }}
{{- end -}}

{{/*
Plain-value env connection strings (service values `envConnections`: NAME -> {<kind>: <db>}).
Only databases the service declares are allowed, so the credential env they expand exists.
*/}}
{{- define "harness-common.db.envConnections" -}}
{{- $root := .root -}}
{{- $used := include "harness-common.db.used" . | fromJson -}}
{{- range $name, $spec := get $root.Values "envConnections" | default dict }}
{{- range $kind, $db := $spec }}
{{- if not (hasKey $used $kind) }}
{{- fail (printf "%s: envConnections.%s uses %s, which is not in this service's databases" $root.Chart.Name $name $kind) }}
{{- end }}
- name: {{ $name }}
  value: {{ include "harness-common.db.uri" (dict "root" $root "kind" $kind "db" (toString $db)) | quote }}
{{- end }}
{{- end }}
{{- end -}}
