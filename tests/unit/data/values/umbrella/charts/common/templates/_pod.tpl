{{- define "common.pod" -}}
{{- $v := .Values -}}
image: {{ $v.image.tag }}
name: {{ get .Values "deploymentName" | default .Chart.Name }}
{{ include "common.labels" . }}
{{- end -}}

{{- define "common.labels" -}}
region: {{ .Values.global.region }}
{{- with .Values.labels }}{{ toYaml . }}{{ end }}
{{- end -}}

{{- define "common.unused" -}}
never: {{ .Values.neverIncluded }}
{{- end -}}
