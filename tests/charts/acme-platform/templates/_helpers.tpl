{{/* Labels on every object; "name" is the component (api-server, docdb, ...). */}}
{{- define "acme.labels" -}}
app.kubernetes.io/part-of: acme-platform
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{ include "acme.selector" . }}
{{- end -}}

{{/* Pod selector: component + release (stable across upgrades). */}}
{{- define "acme.selector" -}}
acme.io/component: {{ .name }}
acme.io/release: {{ .root.Release.Name }}
{{- end -}}

{{/* Replica count of a service: haReplicas in 3-replica mode, else replicas (no HPA). */}}
{{- define "acme.replicas" -}}
{{- if .root.Values.global.ha }}{{ .values.haReplicas }}{{ else }}{{ .values.replicas | default 1 }}{{ end -}}
{{- end -}}

{{/* Members of an in-cluster data store: haReplicas in 3-replica mode, else 1. */}}
{{- define "acme.members" -}}
{{- if .root.Values.global.ha }}{{ .values.haReplicas }}{{ else }}1{{ end -}}
{{- end -}}

{{/* Name of the Secret generated at install time (random passwords and admin token). */}}
{{- define "acme.generatedSecret" -}}acme-generated{{- end -}}

{{/*
Credential env vars for one database, always from secretKeyRef: the generated Secret for an
in-cluster database, the operator's Secret (secretName/userKey/passwordKey) for an external one.
Args: root, db (mongo|postgres|redis|timescaledb), prefix (env var prefix), key (generated key prefix).
*/}}
{{- define "acme.dbCredentials" -}}
{{- $g := index .root.Values.global.database .db -}}
{{- if $g.installed }}
{{- if ne .db "redis" }}
- name: {{ .prefix }}_USER
  valueFrom:
    secretKeyRef:
      name: {{ include "acme.generatedSecret" . }}
      key: {{ .key }}-username
- name: {{ .prefix }}_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "acme.generatedSecret" . }}
      key: {{ .key }}-password
{{- end }}
{{- else }}
- name: {{ .prefix }}_USER
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "global.database.%s.secretName is required for an external database" .db) $g.secretName }}
      key: {{ $g.userKey }}
- name: {{ .prefix }}_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $g.secretName }}
      key: {{ $g.passwordKey }}
{{- end }}
{{- end -}}

{{/* "?args" or "" */}}
{{- define "acme.query" -}}
{{- with . }}?{{ . }}{{ end -}}
{{- end -}}

{{/* Resources block, with a readable error when a profile forgets the memory limit. */}}
{{- define "acme.resources" -}}
requests:
  cpu: {{ required (printf "%s.resources.requests.cpu is required" .name) .resources.requests.cpu | quote }}
  memory: {{ required (printf "%s.resources.requests.memory is required" .name) .resources.requests.memory | quote }}
limits:
  {{- with .resources.limits.cpu }}
  cpu: {{ . | quote }}
  {{- end }}
  memory: {{ required (printf "%s.resources.limits.memory is required" .name) .resources.limits.memory | quote }}
{{- end -}}
