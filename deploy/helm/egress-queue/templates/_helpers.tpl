{{/* Names, labels and the values every template derives from the service config. */}}

{{- define "egress-queue.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "egress-queue.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "egress-queue.labels" -}}
{{ include "egress-queue.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The API's Service name, port and URL inside the cluster (KEDA's trigger and template_base use it). */}}
{{- define "egress-queue.apiName" -}}{{ include "egress-queue.fullname" . }}-api{{- end -}}
{{- define "egress-queue.apiUrl" -}}
http://{{ include "egress-queue.apiName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.api.service.port }}
{{- end -}}

{{- define "egress-queue.secretName" -}}
{{- .Values.secret.existingSecret | default (printf "%s-keys" (include "egress-queue.fullname" .)) -}}
{{- end -}}

{{- define "egress-queue.redisName" -}}{{ include "egress-queue.fullname" . }}-redis{{- end -}}

{{/* The in-chart Redis runs unless an external URL or Sentinel (or an existing Secret, which then holds REDIS_URL) is given. */}}
{{- define "egress-queue.internalRedis" -}}
{{- if and .Values.redis.internal.enabled (not .Values.redis.external.url) (not .Values.redis.sentinel.masterName) -}}true{{- end -}}
{{- end -}}

{{- define "egress-queue.recordingsClaim" -}}
{{- .Values.recordings.existingClaim | default (printf "%s-recordings" (include "egress-queue.fullname" .)) -}}
{{- end -}}

{{- define "egress-queue.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "egress-queue.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "egress-queue.image" -}}
{{- $image := index .root.Values.image .which -}}
{{ $image.repository }}:{{ $image.tag | default .root.Chart.AppVersion }}
{{- end -}}

{{/* The service config as mounted: values.config with the keys that depend on the cluster on top. */}}
{{- define "egress-queue.config" -}}
{{- $fixed := dict
  "host" "0.0.0.0"
  "port" 8080
  "tmp_dir" "/recordings/.in-progress"
  "template_base" (printf "%s/templates/" (include "egress-queue.apiUrl" .))
  "storage" (dict "local" (dict "directory" "/recordings"))
-}}
{{- if .Values.livekitUrl }}{{ $_ := set $fixed "ws_url" .Values.livekitUrl }}{{ end -}}
{{- with .Values.redis.sentinel }}{{ if .masterName }}
{{- $sentinel := dict "sentinel_master_name" .masterName "sentinel_addresses" .addresses -}}
{{- if .username }}{{ $_ := set $sentinel "sentinel_username" .username }}{{ end -}}
{{- $_ := set $fixed "redis" $sentinel -}}
{{- end }}{{ end -}}
{{- toYaml (mustMergeOverwrite (deepCopy .Values.config) $fixed) -}}
{{- end -}}

{{/* A pool's recordings (or uploads, deliveries) per replica: the service's concurrency default unless set. */}}
{{- define "egress-queue.concurrency" -}}
{{- $defaults := dict "room-composite" 2 "track-composite" 4 "track" 8 "upload" 4 "webhook" 8 -}}
{{- index (.root.Values.config.concurrency | default dict) .pool | default (index $defaults .pool) -}}
{{- end -}}

{{/* Seconds a worker may take to drain: shutdown_grace (service default 600) and the finish after it. */}}
{{- define "egress-queue.workerTerminationGrace" -}}
{{- add (.Values.config.shutdown_grace | default 600) .Values.drainFinishSeconds -}}
{{- end -}}

{{/* Environment every container gets: keys from the Secret, the config file, and Redis. */}}
{{- define "egress-queue.env" -}}
- name: EGRESS_CONFIG_FILE
  value: /etc/egress-queue/config.yaml
- name: HOME
  value: /home/egress
{{- if include "egress-queue.internalRedis" . }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "egress-queue.secretName" . }}
      key: REDIS_PASSWORD
- name: REDIS_URL
  value: redis://:$(REDIS_PASSWORD)@{{ include "egress-queue.redisName" . }}:6379
{{- end }}
{{- with .Values.redis.sentinel }}{{ if .masterName }}
{{- $secret := .existingSecret | default (include "egress-queue.secretName" $) }}
{{- range $name, $key := dict "REDIS_PASSWORD" .passwordKey "REDIS_SENTINEL_PASSWORD" .sentinelPasswordKey }}
{{- if $key }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end }}{{ end }}
{{- end -}}

{{- define "egress-queue.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "egress-queue.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Pod annotations that roll the pods when the config or the chart's Secret changes. */}}
{{- define "egress-queue.checksums" -}}
checksum/config: {{ include "egress-queue.config" . | sha256sum }}
{{- if not .Values.secret.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end -}}
