{{/*
Names and labels (Helm's conventions).
*/}}
{{- define "narwhal.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "narwhal.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "narwhal.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "narwhal.selectorLabels" -}}
app.kubernetes.io/name: {{ include "narwhal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "narwhal.commonLabels" -}}
helm.sh/chart: {{ include "narwhal.chart" . }}
{{ include "narwhal.selectorLabels" . }}
app.kubernetes.io/version: {{ (default .Chart.AppVersion .Values.image.tag) | toString | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "narwhal.labels" -}}
{{ include "narwhal.commonLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/* The admin Service (health, readiness, metrics): its own component label so a ServiceMonitor selects only it. */}}
{{- define "narwhal.adminLabels" -}}
{{ include "narwhal.commonLabels" . }}
app.kubernetes.io/component: admin
{{- end }}

{{- define "narwhal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "narwhal.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "narwhal.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{/*
Rollout timing: the ONE place where the numbers are derived.
*/}}

{{/* Seconds narwhal itself waits after SIGTERM (0 when a preStop sleep does it). */}}
{{- define "narwhal.narwhalShutdownDelay" -}}
{{- if eq .Values.narwhal.shutdownDelayMode "preStop" }}0{{ else }}{{ int .Values.narwhal.shutdownDelay }}{{ end }}
{{- end }}

{{/* Minimum grace period: shutdown delay + graceful timeout + margin. */}}
{{- define "narwhal.minGracePeriod" -}}
{{- add (int .Values.narwhal.shutdownDelay) (int .Values.narwhal.gracefulTimeout) (int .Values.terminationGracePeriodMarginSeconds) }}
{{- end }}

{{/* terminationGracePeriodSeconds: computed, or an explicit value that is long enough. */}}
{{- define "narwhal.terminationGracePeriodSeconds" -}}
{{- $min := include "narwhal.minGracePeriod" . | int }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- $min }}
{{- else }}
{{- $set := int .Values.terminationGracePeriodSeconds }}
{{- if lt $set $min }}
{{- fail (printf "terminationGracePeriodSeconds=%d is too short: it must be >= narwhal.shutdownDelay (%d) + narwhal.gracefulTimeout (%d) + terminationGracePeriodMarginSeconds (%d) = %d, or Kubernetes kills pods with requests in flight" $set (int .Values.narwhal.shutdownDelay) (int .Values.narwhal.gracefulTimeout) (int .Values.terminationGracePeriodMarginSeconds) $min) }}
{{- end }}
{{- $set }}
{{- end }}
{{- end }}

{{/*
Checks on values that the JSON schema cannot express. Included by the Deployment.
*/}}
{{- define "narwhal.validate" -}}
{{- $detect := mul (int .Values.readinessProbe.periodSeconds) (int .Values.readinessProbe.failureThreshold) }}
{{- if lt (int .Values.narwhal.shutdownDelay) $detect }}
{{- fail (printf "narwhal.shutdownDelay=%d is too short: it must be >= readinessProbe.periodSeconds * readinessProbe.failureThreshold = %d, so the pod leaves the endpoints before its listener closes" (int .Values.narwhal.shutdownDelay) $detect) }}
{{- end }}
{{- if and (eq (toString .Values.narwhal.workers) "auto") (not (dig "limits" "cpu" "" .Values.resources)) }}
{{- fail "narwhal.workers=auto needs resources.limits.cpu (the pool is sized from the CPU limit; without one it would be the node's CPU count): set a CPU limit, or set narwhal.workers to an integer" }}
{{- end }}
{{- if eq (int .Values.narwhal.port) (int .Values.narwhal.adminPort) }}
{{- fail "narwhal.port and narwhal.adminPort must differ" }}
{{- end }}
{{- if and (eq .Values.narwhal.shutdownDelayMode "preStop") (not (semverCompare ">=1.30-0" .Capabilities.KubeVersion.Version)) }}
{{- fail (printf "narwhal.shutdownDelayMode=preStop needs lifecycle.preStop.sleep (Kubernetes >= 1.30), the target is %s: use shutdownDelayMode=narwhal" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- range $key := list "bind" "admin_bind" "shutdown_delay" "graceful_timeout" }}
{{- if hasKey $.Values.narwhal.extraConfig $key }}
{{- fail (printf "narwhal.extraConfig.%s is refused: it is derived from the chart's values (narwhal.port, narwhal.adminPort, narwhal.shutdownDelay, narwhal.gracefulTimeout) so probes and the grace period stay consistent" $key) }}
{{- end }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if has .name (list "NARWHAL_BIND" "NARWHAL_ADMIN_BIND" "NARWHAL_SHUTDOWN_DELAY" "NARWHAL_GRACEFUL_TIMEOUT" "NARWHAL_CONFIG") }}
{{- fail (printf "extraEnv %s is refused: it would override a value the chart derives (set it through narwhal.* values instead)" .name) }}
{{- end }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (kindIs "invalid" .Values.podDisruptionBudget.minAvailable) (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable) }}
{{- fail "podDisruptionBudget: set one of minAvailable or maxUnavailable" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "autoscaling.maxReplicas must be >= autoscaling.minReplicas" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable) (not (kindIs "string" .Values.podDisruptionBudget.minAvailable)) }}
{{- $replicas := ternary .Values.autoscaling.minReplicas .Values.replicaCount .Values.autoscaling.enabled | int }}
{{- if ge (int .Values.podDisruptionBudget.minAvailable) $replicas }}
{{- fail (printf "podDisruptionBudget.minAvailable=%d must be below the replica count (%d), or node drains are blocked" (int .Values.podDisruptionBudget.minAvailable) $replicas) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
narwhal.config.json: narwhal's own settings, snake_case keys.
*/}}
{{- define "narwhal.configJson" -}}
{{- $n := .Values.narwhal }}
{{- $cfg := dict
  "bind" (list (printf "0.0.0.0:%d" (int $n.port)))
  "admin_bind" (printf "0.0.0.0:%d" (int $n.adminPort))
  "workers" $n.workers
  "timeout" (int $n.timeout)
  "graceful_timeout" (int $n.gracefulTimeout)
  "shutdown_delay" (include "narwhal.narwhalShutdownDelay" . | int)
  "keep_alive" (int $n.keepAlive)
  "max_requests" (int $n.maxRequests)
  "max_requests_jitter" (int $n.maxRequestsJitter)
  "log_level" $n.logLevel
  "forwarded_allow_ips" $n.trustedProxies
}}
{{- if $n.maxWorkerMemory }}
{{- $_ := set $cfg "max_worker_memory" $n.maxWorkerMemory }}
{{- end }}
{{- if $n.workerHeapMb }}
{{- $_ := set $cfg "worker_heap_mb" (int $n.workerHeapMb) }}
{{- end }}
{{- $cfg = mergeOverwrite $cfg (deepCopy $n.extraConfig) }}
{{- toPrettyJson $cfg }}
{{- end }}
