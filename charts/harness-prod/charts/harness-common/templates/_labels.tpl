{{/*
Labels and object metadata. Every helper here takes (dict "root" $ "name" <app name>), where
<app name> is the value of app.kubernetes.io/name (the service, or the database kind).
*/}}

{{/* The two labels selectors use: stable across upgrades, so never add versioned labels here. */}}
{{- define "harness-common.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "harness-common.labels" -}}
{{ include "harness-common.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
metadata: block content. Optional "objName" (defaults to "name") for objects whose name
differs from their app label (e.g. Deployment "scm" of service "scm-service"), and
optional "namespace" for objects living outside the release namespace (Velero Schedule).
*/}}
{{- define "harness-common.metadata" -}}
name: {{ get . "objName" | default .name }}
namespace: {{ get . "namespace" | default .root.Release.Namespace }}
labels:
  {{- include "harness-common.labels" . | nindent 2 }}
{{- end -}}
