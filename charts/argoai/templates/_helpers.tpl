{{/* Names, labels and the pieces every workload shares. */}}

{{- define "argoai.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "argoai.fullname" -}}
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

{{/* Name of one component's objects: (dict "root" $ "component" "gateway") */}}
{{- define "argoai.component" -}}
{{- printf "%s-%s" (include "argoai.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "argoai.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "argoai.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: argoai
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "argoai.selectorLabels" -}}
app.kubernetes.io/name: {{ include "argoai.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "argoai.componentLabels" -}}
{{ include "argoai.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "argoai.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Whether the chart runs its own NATS / Redis (nothing external configured). */}}
{{- define "argoai.natsEmbedded" -}}
{{- if not .Values.nats.url }}true{{ end -}}
{{- end -}}

{{/* Redis only serves the reviewer and the redelivery job. */}}
{{- define "argoai.redisEmbedded" -}}
{{- if and (not .Values.redis.url) (not .Values.redis.existingSecret) (or .Values.reviewer.enabled .Values.redeliver.enabled) }}true{{ end -}}
{{- end -}}

{{- define "argoai.natsUrl" -}}
{{- if .Values.nats.url -}}
{{- .Values.nats.url -}}
{{- else -}}
{{- printf "nats://%s-nats.%s.svc:4222" (include "argoai.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* The single-node in-chart NATS can only hold streams of one replica. */}}
{{- define "argoai.natsReplicas" -}}
{{- if include "argoai.natsEmbedded" . }}1{{ else }}{{ .Values.nats.replicas }}{{ end -}}
{{- end -}}

{{- define "argoai.natsMonitoringEndpoint" -}}
{{- $keda := .Values.reviewer.autoscaling.keda -}}
{{- if $keda.natsMonitoringEndpoint -}}
{{- $keda.natsMonitoringEndpoint -}}
{{- else if include "argoai.natsEmbedded" . -}}
{{- printf "%s-nats.%s.svc:8222" (include "argoai.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{- define "argoai.redisPasswordSecret" -}}
{{- default (printf "%s-redis" (include "argoai.fullname" .)) .Values.redis.embedded.passwordSecret.name -}}
{{- end -}}

{{/* Environment shared by every component (plain settings; secrets come as files or secretKeyRefs). */}}
{{- define "argoai.env" -}}
- name: ARGOAI_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: ARGOAI_NATS_URL
  value: {{ include "argoai.natsUrl" . | quote }}
- name: ARGOAI_NATS_PREFIX
  value: {{ .Values.nats.prefix | quote }}
- name: ARGOAI_NATS_REPLICAS
  value: {{ include "argoai.natsReplicas" . | quote }}
{{- end -}}

{{/* The audit history stream's retention: the same on every component that declares the stream. */}}
{{- define "argoai.historyEnv" -}}
- name: ARGOAI_HISTORY_MAX_AGE_DAYS
  value: {{ .Values.history.maxAgeDays | quote }}
- name: ARGOAI_HISTORY_MAX_BYTES
  value: {{ .Values.history.maxBytes | int64 | quote }}
{{- end -}}

{{/* Redis: an external URL (plain, or whole from a Secret), or the in-chart Redis with its password. */}}
{{- define "argoai.redisEnv" -}}
{{- if .Values.redis.existingSecret }}
- name: ARGOAI_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
{{- else if .Values.redis.url }}
- name: ARGOAI_REDIS_URL
  value: {{ .Values.redis.url | quote }}
{{- else }}
# Not an ArgoAI setting: only the source of $(REDIS_PASSWORD) below, which the kubelet expands, so the password
# never appears in the manifest.
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "argoai.redisPasswordSecret" . }}
      key: {{ .Values.redis.embedded.passwordSecret.key }}
- name: ARGOAI_REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s-redis.%s.svc:6379/0" (include "argoai.fullname" .) .Release.Namespace | quote }}
{{- end }}
- name: ARGOAI_REDIS_KEY_PREFIX
  value: {{ .Values.redis.keyPrefix | quote }}
{{- end -}}

{{/* Every combination of values that would render pods unable to start stops the install here, naming the
value to set. Included once, from checks.yaml. */}}
{{- define "argoai.checks" -}}
{{- $v := .Values -}}
{{- if $v.reviewer.enabled -}}
{{- if not $v.github.appId -}}
{{- fail "github.appId is required: the reviewer acts as your GitHub App (its App ID), or set reviewer.enabled=false" -}}
{{- end -}}
{{- if not $v.github.privateKeySecret.name -}}
{{- fail "github.privateKeySecret.name is required: the reviewer needs a Secret holding the App's private key (key private-key.pem), or set reviewer.enabled=false" -}}
{{- end -}}
{{- if and $v.llm.provider (not $v.llm.model) -}}
{{- fail "llm.model is required with llm.provider (the model name; on Azure OpenAI the deployment name)" -}}
{{- end -}}
{{- if and (eq $v.llm.provider "anthropic") (not $v.llm.apiKeySecret.name) -}}
{{- fail "llm.apiKeySecret.name is required with llm.provider=anthropic (a Secret holding the API key)" -}}
{{- end -}}
{{- if and (eq $v.llm.provider "openai") (not $v.llm.apiKeySecret.name) (not $v.llm.baseUrl) -}}
{{- fail "llm.apiKeySecret.name is required for api.openai.com (or set llm.baseUrl to a server that needs no key)" -}}
{{- end -}}
{{- if and $v.fallbackLlm.provider (not $v.fallbackLlm.model) -}}
{{- fail "fallbackLlm.model is required with fallbackLlm.provider" -}}
{{- end -}}
{{- if and $v.fallbackLlm.provider (not $v.llm.provider) -}}
{{- fail "fallbackLlm needs llm: the fallback reviews only while the configured llm is down" -}}
{{- end -}}
{{- if and $v.llm.apiVersion (or (not $v.llm.baseUrl) (not $v.llm.apiKeySecret.name)) -}}
{{- fail "llm.apiVersion selects Azure OpenAI: llm.baseUrl (the resource endpoint) and llm.apiKeySecret.name are required with it" -}}
{{- end -}}
{{- $scale := $v.reviewer.autoscaling -}}
{{- if and (ne $scale.mode "none") (gt (int $scale.minReplicas) (int $scale.maxReplicas)) -}}
{{- fail (printf "reviewer.autoscaling.minReplicas (%d) exceeds reviewer.autoscaling.maxReplicas (%d)" (int $scale.minReplicas) (int $scale.maxReplicas)) -}}
{{- end -}}
{{- if and (eq $scale.mode "hpa") (not (dig "requests" "cpu" "" $v.reviewer.resources)) -}}
{{- fail "reviewer.resources.requests.cpu is required with reviewer.autoscaling.mode=hpa: the HPA measures CPU use as a share of the request" -}}
{{- end -}}
{{- if and (eq $scale.mode "keda") (not (include "argoai.natsMonitoringEndpoint" .)) -}}
{{- fail "reviewer.autoscaling.keda.natsMonitoringEndpoint is required with reviewer.autoscaling.mode=keda and an external NATS (nats.url): the NATS monitoring host:port KEDA reads queue lag from, e.g. nats-headless.nats.svc.cluster.local:8222" -}}
{{- end -}}
{{- end -}}
{{- if and $v.gateway.enabled (not $v.github.webhookSecret.name) -}}
{{- fail "github.webhookSecret.name is required: the gateway refuses unsigned deliveries (a Secret holding the webhook secret, key webhook-secret)" -}}
{{- end -}}
{{- if and $v.redeliver.enabled (or (not $v.github.appId) (not $v.github.privateKeySecret.name)) -}}
{{- fail "redeliver.enabled needs the GitHub App: set github.appId and github.privateKeySecret.name" -}}
{{- end -}}
{{- if and (include "argoai.natsEmbedded" .) (ne (int $v.nats.replicas) 1) -}}
{{- fail "nats.replicas=3 needs a NATS cluster of at least 3 nodes (set nats.url): the in-chart NATS is a single node" -}}
{{- end -}}
{{- if and $v.operator.enabled $v.operator.standalone (gt (int $v.operator.replicas) 1) -}}
{{- fail "operator.replicas > 1 needs peering: set operator.standalone=false" -}}
{{- end -}}
{{- end -}}

{{- define "argoai.githubEnv" -}}
- name: ARGOAI_GITHUB_API_URL
  value: {{ .Values.github.apiUrl | quote }}
{{- with .Values.github.appId }}
- name: ARGOAI_GITHUB_APP_ID
  value: {{ . | quote }}
{{- end }}
{{- if .Values.github.privateKeySecret.name }}
- name: ARGOAI_GITHUB_PRIVATE_KEY_FILE
  value: /var/run/secrets/argoai/github-app/{{ .Values.github.privateKeySecret.key }}
{{- end }}
{{- end -}}

{{- define "argoai.llmEnv" -}}
{{- with .Values.llm.provider }}
- name: ARGOAI_LLM_PROVIDER
  value: {{ . | quote }}
{{- end }}
{{- with .Values.llm.model }}
- name: ARGOAI_LLM_MODEL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.llm.baseUrl }}
- name: ARGOAI_LLM_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.llm.apiVersion }}
- name: ARGOAI_LLM_API_VERSION
  value: {{ . | quote }}
{{- end }}
- name: ARGOAI_LLM_INPUT_PRICE_PER_MTOK
  value: {{ .Values.llm.inputPricePerMtok | quote }}
- name: ARGOAI_LLM_OUTPUT_PRICE_PER_MTOK
  value: {{ .Values.llm.outputPricePerMtok | quote }}
{{- if .Values.llm.apiKeySecret.name }}
- name: ARGOAI_LLM_API_KEY_FILE
  value: /var/run/secrets/argoai/llm/{{ .Values.llm.apiKeySecret.key }}
{{- end }}
{{- with .Values.fallbackLlm }}
{{- if .provider }}
- name: ARGOAI_FALLBACK_LLM_PROVIDER
  value: {{ .provider | quote }}
- name: ARGOAI_FALLBACK_LLM_MODEL
  value: {{ .model | quote }}
{{- with .baseUrl }}
- name: ARGOAI_FALLBACK_LLM_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- with .apiVersion }}
- name: ARGOAI_FALLBACK_LLM_API_VERSION
  value: {{ . | quote }}
{{- end }}
{{- if .apiKeySecret.name }}
- name: ARGOAI_FALLBACK_LLM_API_KEY_FILE
  value: /var/run/secrets/argoai/llm-fallback/{{ .apiKeySecret.key }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Secret volumes: (dict "name" "github-app" "secret" .Values.github.privateKeySecret) */}}
{{- define "argoai.secretVolume" -}}
{{- if .secret.name }}
- name: {{ .name }}
  secret:
    secretName: {{ .secret.name }}
    defaultMode: 0440
    items:
      - key: {{ .secret.key }}
        path: {{ .secret.key }}
{{- end }}
{{- end -}}

{{- define "argoai.secretMount" -}}
{{- if .secret.name }}
- name: {{ .name }}
  mountPath: /var/run/secrets/argoai/{{ .name }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "argoai.podSecurity" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
