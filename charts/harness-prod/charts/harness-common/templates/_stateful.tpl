{{/*
Building blocks for the in-cluster databases (platform.bootstrap.database): each database
template only states what is specific to it (image, args, ports, volumes) and gets
metadata, pod hardening, scheduling, probes and claims from here.
*/}}

{{/*
A database container. (dict "root" $ "name" <container> "image" <image values>
  "resources" <resources> "ports" (list (dict "name" "port")) "probePort" <port name>
  optional: "args" (list) "command" (list) "env" <env YAML string> "mounts" (list (dict "name" "path")))
The readiness probe only opens the port: it says "accepting connections", which is what the
Services in front of the databases need; the liveness probe checks the same, more patiently.
*/}}
{{- define "harness-common.db.container" -}}
- name: {{ .name }}
  image: {{ include "harness-common.image" (dict "root" .root "image" .image) }}
  imagePullPolicy: {{ get .image "pullPolicy" | default "IfNotPresent" }}
  {{- with get . "command" }}
  command:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with get . "args" }}
  args:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "harness-common.containerSecurityContext" . | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      containerPort: {{ .port }}
      protocol: TCP
    {{- end }}
  {{- with get . "env" }}
  env:
    {{- . | trim | nindent 4 }}
  {{- end }}
  resources:
    {{- include "harness-common.resources" (dict "what" .name "resources" .resources) | nindent 4 }}
  readinessProbe:
    tcpSocket:
      port: {{ .probePort }}
    initialDelaySeconds: 10
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 6
  livenessProbe:
    # restarts a database that stopped accepting connections; generous, so recovery is not cut short
    tcpSocket:
      port: {{ .probePort }}
    initialDelaySeconds: 60
    periodSeconds: 20
    timeoutSeconds: 5
    failureThreshold: 6
  {{- with get . "mounts" }}
  volumeMounts:
    {{- range . }}
    - name: {{ .name }}
      mountPath: {{ .path }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/*
Pod template of a database workload. (dict "root" $ "name" <app label> "values" <db values>
  "uid" <run-as uid> "containers" <YAML of containers> optional "volumes" <YAML list>)
*/}}
{{- define "harness-common.db.podTemplate" -}}
metadata:
  labels:
    {{- include "harness-common.labels" . | nindent 4 }}
  {{- with get .values "podAnnotations" }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  securityContext:
    {{- include "harness-common.podSecurityContext" .uid | nindent 4 }}
  {{- include "harness-common.scheduling" . | nindent 2 }}
  containers:
    {{- .containers | trim | nindent 4 }}
  {{- with get . "volumes" }}
  volumes:
    {{- . | trim | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
A PersistentVolumeClaim spec. Claims carry the database's app label too, so a Velero
label selector picks up the volumes along with the pods.
*/}}
{{- define "harness-common.db.claimSpec" -}}
accessModes: ["ReadWriteOnce"]
{{- with .root.Values.global.storageClass }}
storageClassName: {{ . }}
{{- end }}
resources:
  requests:
    storage: {{ .size | quote }}
{{- end -}}

{{/*
A database StatefulSet. (dict "root" $ "name" <app label> "objName" <StatefulSet name>
  "serviceName" <governing Service> "replicas" <n> "values" <db values> "uid" <uid>
  "containers" <YAML> "claims" (list (dict "name" "size")))
*/}}
{{- define "harness-common.db.statefulset" -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  {{- include "harness-common.metadata" . | nindent 2 }}
spec:
  serviceName: {{ .serviceName }}
  replicas: {{ .replicas }}
  podManagementPolicy: Parallel
  selector:
    matchLabels:
      {{- include "harness-common.selectorLabels" . | nindent 6 }}
  template:
    {{- include "harness-common.db.podTemplate" . | nindent 4 }}
  volumeClaimTemplates:
    {{- range .claims }}
    - metadata:
        name: {{ .name }}
        labels:
          {{- include "harness-common.selectorLabels" $ | nindent 10 }}
      spec:
        {{- include "harness-common.db.claimSpec" (dict "root" $.root "size" .size) | nindent 8 }}
    {{- end }}
{{- end -}}

{{/*
A Secret with generated credentials. (dict "root" $ "name" <app label> "objName" <Secret name>
  "fixed" <dict key -> literal> "random" (list <keys>))
Random values are 24 alphanumerics; an existing Secret's values are kept on upgrade
(lookup returns nothing under helm template / lint, so renders stay self-contained).
*/}}
{{- define "harness-common.db.secret" -}}
{{- $existing := (lookup "v1" "Secret" .root.Release.Namespace .objName).data | default dict -}}
apiVersion: v1
kind: Secret
metadata:
  {{- include "harness-common.metadata" . | nindent 2 }}
type: Opaque
data:
  {{- range $key, $value := get . "fixed" | default dict }}
  {{ $key }}: {{ $value | b64enc | quote }}
  {{- end }}
  {{- range $key := get . "random" | default list }}
  {{ $key }}: {{ get $existing $key | default (randAlphaNum 24 | b64enc) | quote }}
  {{- end }}
{{- end -}}
