{{/*
app.kubernetes.io/name values of the in-cluster data stores actually rendered: the Velero
Schedule backs up exactly these pods and their volumes.
*/}}
{{- define "harness-prod.backupTargets" -}}
{{- $db := .Values.global.database -}}
{{- $targets := list -}}
{{- range $kind, $label := dict "mongo" "mongodb" "postgres" "postgresql" "redis" "redis" "timescaledb" "timescaledb" -}}
{{- if (index $db $kind).installed }}{{ $targets = append $targets $label }}{{ end -}}
{{- end -}}
{{- if .Values.platform.bootstrap.database.minio.enabled }}{{ $targets = append $targets "minio" }}{{ end -}}
{{- toJson $targets -}}
{{- end -}}
