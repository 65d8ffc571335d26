{{/* Names and labels. */}}
{{- define "braid.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "braid.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "braid.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "braid.selectorLabels" -}}
app.kubernetes.io/name: {{ include "braid.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "braid.labels" -}}
helm.sh/chart: {{ include "braid.chart" . }}
{{ include "braid.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: node-agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "braid.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "braid.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The admin endpoint. config.admin.listen is the one place its address is set; the probes, the
container port and the scrape annotations are derived from it. The probes need it, so "off" is
refused here rather than producing pods that never become ready.
*/}}
{{- define "braid.adminListen" -}}
{{- $listen := dig "admin" "listen" "127.0.0.1:9464" .Values.config | toString -}}
{{- if eq $listen "off" -}}
{{- fail "config.admin.listen is \"off\": the chart's liveness and readiness probes need the admin endpoint (/healthz, /readyz); set an address such as 0.0.0.0:9464 or 127.0.0.1:9464" -}}
{{- end -}}
{{- $listen -}}
{{- end -}}

{{- define "braid.adminPort" -}}
{{- regexFind "[0-9]+$" (include "braid.adminListen" .) -}}
{{- end -}}

{{/* The host part without IPv6 brackets: 0.0.0.0, ::, 127.0.0.1, 10.0.0.5, ... */}}
{{- define "braid.adminHost" -}}
{{- regexReplaceAll ":[0-9]+$" (include "braid.adminListen" .) "" | trimPrefix "[" | trimSuffix "]" -}}
{{- end -}}

{{/* "true" when admin listens on every address: the probes then use the pod IP (= node IP). */}}
{{- define "braid.adminWildcard" -}}
{{- $host := include "braid.adminHost" . -}}
{{- if or (eq $host "0.0.0.0") (eq $host "::") -}}true{{- end -}}
{{- end -}}

{{/* "true" when admin is reachable only from the node itself. */}}
{{- define "braid.adminLoopback" -}}
{{- $host := include "braid.adminHost" . -}}
{{- if or (hasPrefix "127." $host) (eq $host "::1") -}}true{{- end -}}
{{- end -}}

{{/* httpGet target of a probe; `host` only when admin is bound to one address. */}}
{{- define "braid.probeTarget" -}}
{{- if not (include "braid.adminWildcard" .) }}
host: {{ include "braid.adminHost" . | quote }}
{{- end }}
port: {{ include "braid.adminPort" . | int }}
scheme: HTTP
{{- end -}}

{{/* URL of the admin endpoint from inside the pod (the preStop hook): loopback for a wildcard. */}}
{{- define "braid.localAdminURL" -}}
{{- $host := include "braid.adminHost" . -}}
{{- if include "braid.adminWildcard" . -}}{{- $host = "127.0.0.1" -}}{{- end -}}
{{- if contains ":" $host -}}{{- $host = printf "[%s]" $host -}}{{- end -}}
http://{{ $host }}:{{ include "braid.adminPort" . }}
{{- end -}}

{{/*
config.timeouts.drain in whole seconds, rounded up. Durations are a whole number and one unit
(ms, s, m, h), which values.schema.json has checked; 30s is braid's default.
*/}}
{{- define "braid.drainSeconds" -}}
{{- $d := dig "timeouts" "drain" "30s" .Values.config | toString -}}
{{- $n := regexFind "^[0-9]+" $d | int64 -}}
{{- $unit := trimPrefix (regexFind "^[0-9]+" $d) $d -}}
{{- if eq $unit "ms" -}}{{ div (add $n 999) 1000 }}
{{- else if eq $unit "s" -}}{{ $n }}
{{- else if eq $unit "m" -}}{{ mul $n 60 }}
{{- else if eq $unit "h" -}}{{ mul $n 3600 }}
{{- else -}}{{ fail (printf "config.timeouts.drain %q is not a duration such as 30s" $d) }}
{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds: the drain plus 15s for braid's cleanup unless set; a value that
would SIGKILL braid mid-drain is refused.
*/}}
{{- define "braid.gracePeriod" -}}
{{- $drain := include "braid.drainSeconds" . | int64 -}}
{{- $set := .Values.terminationGracePeriodSeconds | int64 -}}
{{- if eq $set 0 -}}{{ add $drain 15 }}
{{- else if le $set $drain -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be more than config.timeouts.drain (%ds), or the kubelet kills braid while it drains; set 0 to derive it" $set $drain) -}}
{{- else -}}{{ $set }}
{{- end -}}
{{- end -}}

{{/* "true" when the pod is set up for the dpdk transport. */}}
{{- define "braid.dpdk" -}}
{{- if eq (dig "transport" "kernel" .Values.config | toString) "dpdk" -}}true{{- end -}}
{{- end -}}

{{/*
Capabilities: NET_ADMIN (MPTCP path manager over netlink, SO_MARK, nftables), NET_RAW
(IP_TRANSPARENT), NET_BIND_SERVICE (listeners below 1024); for dpdk IPC_LOCK (locked DMA
memory) and, for drivers that need physical addresses, SYS_ADMIN and SYS_RAWIO.
*/}}
{{- define "braid.capabilities" -}}
{{- $caps := list "NET_ADMIN" "NET_RAW" "NET_BIND_SERVICE" -}}
{{- if include "braid.dpdk" . -}}
{{- $caps = append $caps "IPC_LOCK" -}}
{{- if .Values.dpdk.physicalAddresses -}}{{- $caps = concat $caps (list "SYS_ADMIN" "SYS_RAWIO") -}}{{- end -}}
{{- end -}}
{{- toJson $caps -}}
{{- end -}}
