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

{{/* Environment shared by every component (plain settings; secrets come as files). */}}
{{- define "argoai.env" -}}
- name: ARGOAI_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: ARGOAI_NATS_URL
  value: {{ required "nats.url is required (NATS with JetStream, from the official NATS chart)" .Values.nats.url | quote }}
- name: ARGOAI_NATS_PREFIX
  value: {{ .Values.nats.prefix | quote }}
{{- end -}}

{{- define "argoai.redisEnv" -}}
{{- if .Values.redis.existingSecret }}
- name: ARGOAI_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
{{- else }}
- name: ARGOAI_REDIS_URL
  value: {{ required "redis.url (or redis.existingSecret) is required" .Values.redis.url | quote }}
{{- end }}
- name: ARGOAI_REDIS_KEY_PREFIX
  value: {{ .Values.redis.keyPrefix | quote }}
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
