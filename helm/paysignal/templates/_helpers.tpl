{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "paysignal.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name for every object of the release. */}}
{{- define "paysignal.fullname" -}}
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

{{- define "paysignal.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "paysignal.selectorLabels" -}}
app.kubernetes.io/name: {{ include "paysignal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "paysignal.labels" -}}
helm.sh/chart: {{ include "paysignal.chart" . }}
{{ include "paysignal.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: paysignal
{{- end }}

{{- define "paysignal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "paysignal.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "paysignal.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Whether the in-process alert engine runs: "true" or "false".
"auto" turns it on only for a single replica without autoscaling. Several replicas share the Kafka
partitions, so each engine would count only its share of the events; Prometheus, which scrapes every
replica, evaluates the compiled rules (PrometheusRule) instead.
*/}}
{{- define "paysignal.inProcessAlerting" -}}
{{- $mode := .Values.alerting.inProcess -}}
{{- $single := and (le (int .Values.replicaCount) 1) (not .Values.autoscaling.enabled) -}}
{{- if eq $mode "enabled" -}}
{{- if not $single -}}
{{- fail "alerting.inProcess=enabled needs replicaCount <= 1 and autoscaling.enabled=false: every replica sees only its share of the Kafka partitions, so in-process counts would be partial. Use alerting.inProcess=auto (or disabled) with prometheusRule.enabled=true." -}}
{{- end -}}
true
{{- else if eq $mode "disabled" -}}
false
{{- else -}}
{{- ternary "true" "false" $single -}}
{{- end -}}
{{- end }}

{{/* The compiled rule groups from files/prometheusrule.yaml (written by scripts/helm-rules.ts). */}}
{{- define "paysignal.ruleGroups" -}}
{{- $pr := .Files.Get "files/prometheusrule.yaml" | fromYaml -}}
{{- if hasKey $pr "Error" -}}
{{- fail (printf "files/prometheusrule.yaml is not valid YAML (%s); run node scripts/helm-rules.ts" $pr.Error) -}}
{{- end -}}
{{- $spec := $pr.spec | default dict -}}
{{- toYaml ($spec.groups | default list) -}}
{{- end }}
