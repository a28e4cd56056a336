{{/*
Everything one stateless Harness service renders. A service chart's only template is
  {{ include "harness-common.service" . }}
and its values.yaml describes the service (image, ports, databases, sizing, ingress paths).
The service name is the chart name, so the value path platform.<name> / ci.<name> / cd.<name>
and every object name agree; `deploymentName` renames only the Deployment (scm-service -> scm).
*/}}

{{- define "harness-common.serviceName" -}}
{{- .Chart.Name -}}
{{- end -}}

{{- define "harness-common.workloadName" -}}
{{- get .Values "deploymentName" | default .Chart.Name -}}
{{- end -}}

{{/* HPA replaces spec.replicas only when autoscaling is on globally and for the service. */}}
{{- define "harness-common.hpaEnabled" -}}
{{- if and .Values.global.autoscaling.enabled .Values.autoscaling.enabled }}true{{ end -}}
{{- end -}}

{{/*
A DR standby that has not been activated must not take traffic (concurrent writes to the
shared databases), so it renders no Ingress at all.
*/}}
{{- define "harness-common.ingressEnabled" -}}
{{- $dr := .Values.global.dr -}}
{{- if and .Values.global.ingress.enabled (not (and $dr.createCluster (not $dr.activateCluster))) }}true{{ end -}}
{{- end -}}

{{- define "harness-common.service" -}}
{{- $name := include "harness-common.serviceName" . -}}
{{- $meta := dict "root" . "name" $name -}}
{{ include "harness-common.service.configMap" $meta }}
---
{{ include "harness-common.service.deployment" $meta }}
---
{{ include "harness-common.service.svc" $meta }}
{{- if include "harness-common.hpaEnabled" . }}
---
{{ include "harness-common.service.hpa" $meta }}
{{- end }}
{{- if .Values.global.pdb.create }}
---
{{ include "harness-common.service.pdb" $meta }}
{{- end }}
{{- if and (include "harness-common.ingressEnabled" .) (get (get .Values "ingress" | default dict) "paths") }}
---
{{ include "harness-common.service.ingress" $meta }}
{{- end }}
{{- end -}}

{{/* Connection strings and JVM heap (MEMORY, verbatim: "2048m", or bare MiB like "1024"). */}}
{{- define "harness-common.service.configMap" -}}
{{- $v := .root.Values -}}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "harness-common.metadata" . | nindent 2 }}
{{- $data := "" }}
{{- range $key, $value := get $v "config" | default dict }}
{{- $data = printf "%s\n%s: %s" $data $key ($value | toString | quote) }}
{{- end }}
{{- with get (get $v "java" | default dict) "memory" }}
{{- $data = printf "%s\nMEMORY: %s" $data (. | toString | quote) }}
{{- end }}
{{- $data = printf "%s%s" $data (include "harness-common.db.config" .) }}
{{- if trim $data }}
data:
  {{- $data | trim | nindent 2 }}
{{- else }}
data: {}
{{- end }}
{{- end -}}

{{- define "harness-common.service.deployment" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $workload := include "harness-common.workloadName" $root -}}
{{- $ports := $v.ports -}}
{{- /* credentials first: Kubernetes expands $(VAR) only from variables defined earlier */ -}}
{{- $env := printf "%s%s" (include "harness-common.db.credentialEnv" .) (include "harness-common.db.envConnections" .) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "harness-common.metadata" (merge (dict "objName" $workload) .) | nindent 2 }}
spec:
  {{- if not (include "harness-common.hpaEnabled" $root) }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "harness-common.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "harness-common.labels" . | nindent 8 }}
      annotations:
        # roll the pods when their connection strings or heap change
        checksum/config: {{ include "harness-common.service.configMap" . | sha256sum }}
    spec:
      securityContext:
        {{- include "harness-common.podSecurityContext" 65534 | nindent 8 }}
      {{- include "harness-common.scheduling" (dict "root" $root "name" .name "values" $v) | nindent 6 }}
      containers:
        - name: {{ $workload }}
          image: {{ include "harness-common.image" (dict "root" $root "image" $v.image) }}
          imagePullPolicy: {{ $v.image.pullPolicy | default "IfNotPresent" }}
          securityContext:
            {{- include "harness-common.containerSecurityContext" . | nindent 12 }}
          ports:
            - name: http
              containerPort: {{ $ports.http }}
              protocol: TCP
            {{- with get $ports "grpc" }}
            - name: grpc
              containerPort: {{ . }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ .name }}
          {{- with trim $env }}
          env:
            {{- . | nindent 12 }}
          {{- end }}
          resources:
            {{- include "harness-common.resources" (dict "what" .name "resources" $v.resources) | nindent 12 }}
          readinessProbe:
            {{- include "harness-common.probe" (dict "probe" $v.probes "port" "http" "delay" (get $v.probes "initialDelaySeconds" | default 30) "failures" 3) | nindent 12 }}
          livenessProbe:
            # starts a minute after readiness so slow JVM start-ups are not killed
            {{- include "harness-common.probe" (dict "probe" $v.probes "port" "http" "delay" (add (get $v.probes "initialDelaySeconds" | default 30) 60) "failures" 5) | nindent 12 }}
{{- end -}}

{{- define "harness-common.service.svc" -}}
{{- $ports := .root.Values.ports -}}
{{- $list := list (dict "name" "http" "port" $ports.http "targetPort" "http") -}}
{{- with get $ports "grpc" }}{{ $list = append $list (dict "name" "grpc" "port" . "targetPort" "grpc") }}{{ end -}}
{{ include "harness-common.k8sService" (merge (dict "ports" $list) .) }}
{{- end -}}

{{- define "harness-common.service.hpa" -}}
{{- $as := .root.Values.autoscaling -}}
{{- /* No min <= max guard here: the conformance suite reports it on the rendered HPA. */ -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "harness-common.metadata" . | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "harness-common.workloadName" .root }}
  minReplicas: {{ $as.minReplicas }}
  maxReplicas: {{ $as.maxReplicas }}
  metrics:
    {{- range $resource, $target := dict "cpu" (get $as "targetCPU") "memory" (get $as "targetMemory") }}
    {{- if $target }}
    - type: Resource
      resource:
        name: {{ $resource }}
        target:
          type: Utilization
          averageUtilization: {{ $target }}
    {{- end }}
    {{- end }}
{{- end -}}

{{- define "harness-common.service.pdb" -}}
{{- $min := .root.Values.global.pdb.minAvailable -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "harness-common.metadata" . | nindent 2 }}
spec:
  {{- /* a percentage must stay a string, a count an integer */}}
  minAvailable: {{ if kindIs "string" $min }}{{ $min | quote }}{{ else }}{{ $min }}{{ end }}
  selector:
    matchLabels:
      {{- include "harness-common.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "harness-common.service.ingress" -}}
{{- $g := .root.Values.global.ingress -}}
{{- $ing := .root.Values.ingress -}}
{{- $annotations := merge (dict) (get $ing "annotations" | default dict) (get (get $g "objects" | default dict) "annotations" | default dict) -}}
{{- $hosts := $g.hosts | default (list "") -}}
{{- $port := .root.Values.ports.http -}}
{{- $svc := .name -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  {{- include "harness-common.metadata" . | nindent 2 }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  ingressClassName: {{ $g.className }}
  {{- if and $g.tls.enabled (compact $hosts) }}
  tls:
    - hosts:
        {{- toYaml (compact $hosts) | nindent 8 }}
      secretName: {{ $g.tls.secretName }}
  {{- end }}
  rules:
    {{- range $host := $hosts }}
    - {{- with $host }}
      host: {{ . | quote }}
      {{- end }}
      http:
        paths:
          {{- range $ing.paths }}
          - path: {{ .path }}
            pathType: {{ .pathType | default "Prefix" }}
            backend:
              service:
                name: {{ $svc }}
                port:
                  number: {{ $port }}
          {{- end }}
    {{- end }}
{{- end -}}
