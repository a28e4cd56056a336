{{/*
Pod-level building blocks shared by service Deployments and database workloads.
*/}}

{{/*
Image reference pinned to an explicit tag. (dict "root" $ "image" <image values>)
global.imageRegistry, when set, replaces every registry (air-gapped mirrors).
*/}}
{{- define "harness-common.image" -}}
{{- $tag := toString .image.tag -}}
{{- if or (empty $tag) (eq $tag "latest") -}}
{{- fail (printf "image %s must be pinned to an explicit tag (got %q)" .image.repository $tag) -}}
{{- end -}}
{{- $registry := .root.Values.global.imageRegistry | default .image.registry -}}
{{- printf "%s/%s:%s" $registry .image.repository $tag -}}
{{- end -}}

{{/*
Container resources, rendered as configured (like the released chart's toYaml): the chart
does not enforce sizing rules, the conformance suite checks them on the rendered objects.
(dict "what" <description> "resources" <resources values>)
*/}}
{{- define "harness-common.resources" -}}
{{- $res := dict -}}
{{- range $section := list "requests" "limits" -}}
{{- $vals := get ($.resources | default dict) $section | default dict -}}
{{- $clean := dict -}}
{{- range $k, $v := $vals -}}
{{- if not (kindIs "invalid" $v) -}}{{- $_ := set $clean $k (toString $v) -}}{{- end -}}
{{- end -}}
{{- if $clean -}}{{- $_ := set $res $section $clean -}}{{- end -}}
{{- end -}}
{{- if $res -}}
{{ toYaml $res }}
{{- else -}}
{}
{{- end -}}
{{- end -}}

{{/*
Affinity: an explicit value wins; otherwise, in HA mode, prefer spreading the pods of one
app over nodes so a single node loss never takes every replica.
(dict "root" $ "name" <app name> "affinity" <affinity values>)
*/}}
{{- define "harness-common.affinity" -}}
{{- if .affinity -}}
{{ toYaml .affinity }}
{{- else if .root.Values.global.ha -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "harness-common.selectorLabels" . | nindent 12 }}
{{- end -}}
{{- end -}}

{{/*
Scheduling fields of a pod spec (affinity, nodeSelector, tolerations, pull secrets).
(dict "root" $ "name" <app name> "values" <values holding affinity/nodeSelector/tolerations>)
*/}}
{{- define "harness-common.scheduling" -}}
{{- $affinity := include "harness-common.affinity" (dict "root" .root "name" .name "affinity" (get .values "affinity")) -}}
{{- with $affinity }}
affinity:
  {{- . | nindent 2 }}
{{- end }}
{{- with get .values "nodeSelector" }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with get .values "tolerations" }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Pod security context: never run as root; uid/gid per image (65534 = nobody). */}}
{{- define "harness-common.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
{{- end -}}

{{- define "harness-common.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/*
A probe. (dict "probe" <probe values> "port" <port name> "delay" <seconds> "failures" <n>)
probe.type "http" uses probe.path; "tcp" just opens the port (gRPC-only services).
*/}}
{{- define "harness-common.probe" -}}
{{- if eq (get .probe "type" | default "http") "tcp" -}}
tcpSocket:
  port: {{ .port }}
{{- else -}}
httpGet:
  path: {{ get .probe "path" | default "/health" }}
  port: {{ .port }}
{{- end }}
initialDelaySeconds: {{ .delay }}
periodSeconds: 10
timeoutSeconds: 5
failureThreshold: {{ .failures }}
{{- end -}}

{{/*
A Service. (dict "root" $ "name" <app label> optional "objName", "headless" true, "selector" <dict>,
  "ports" (list (dict "name" "port" optional "targetPort")))
targetPort defaults to the port number. Headless Services publish not-ready pods so
replica-set / sentinel peers find each other while starting.
*/}}
{{- define "harness-common.k8sService" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "harness-common.metadata" . | nindent 2 }}
spec:
  {{- if get . "headless" }}
  clusterIP: None
  publishNotReadyAddresses: true
  {{- else }}
  type: ClusterIP
  {{- end }}
  selector:
    {{- with get . "selector" }}
    {{- toYaml . | nindent 4 }}
    {{- else }}
    {{- include "harness-common.selectorLabels" . | nindent 4 }}
    {{- end }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ get . "targetPort" | default .port }}
      protocol: TCP
    {{- end }}
{{- end -}}
