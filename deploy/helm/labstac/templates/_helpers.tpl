{{/* Names and labels. */}}
{{- define "labstac.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "labstac.fullname" -}}
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

{{- define "labstac.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "labstac.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "labstac.selectorLabels" -}}
app.kubernetes.io/name: {{ include "labstac.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component: (dict "root" $ "component" "api"). */}}
{{- define "labstac.componentLabels" -}}
{{ include "labstac.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "labstac.componentSelector" -}}
{{ include "labstac.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "labstac.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "labstac.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "labstac.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* ------------------------------------------------------------------ secrets */}}

{{/* The variables that are secrets: never in a ConfigMap, an argument or `env`. */}}
{{- define "labstac.secretVariables" -}}
LABSTAC_GITLAB_TOKEN LABSTAC_WEBHOOK_SECRETS LABSTAC_OPENSEARCH_PASSWORD LABSTAC_OAUTH_CLIENT_SECRET LABSTAC_MLFLOW_TOKEN LABSTAC_METRICS_TOKEN LABSTAC_REDIS_URL
{{- end -}}

{{- define "labstac.secretsDir" -}}/run/secrets/labstac{{- end -}}

{{/* The chart's own Secret: the non-empty secrets.values, when no existingSecret. */}}
{{- define "labstac.chartSecretData" -}}
{{- $data := dict -}}
{{- if not .Values.secrets.existingSecret -}}
{{- range $key, $value := .Values.secrets.values -}}
{{- if $value -}}
{{- $_ := set $data $key $value -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/* The Secret mounted as LABSTAC_SECRETS_DIR: the existing one, or the chart's (if any). */}}
{{- define "labstac.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if (include "labstac.chartSecretData" . | fromYaml) -}}
{{- include "labstac.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "labstac.redisUrlFromSecret" -}}
{{- if or .Values.redis.urlFromSecret (and (not .Values.secrets.existingSecret) .Values.secrets.values.LABSTAC_REDIS_URL) -}}true{{- end -}}
{{- end -}}

{{/* Checks that stop a rendering with a message that says what to fix. */}}
{{- define "labstac.validate" -}}
{{- $_ := required "gitlab.url is required: the GitLab instance labstac indexes (e.g. --set gitlab.url=https://gitlab.example.com)" .Values.gitlab.url -}}
{{- if not .Values.opensearch.urls -}}
{{- fail "opensearch.urls needs at least one address of the search engine" -}}
{{- end -}}
{{- if .Values.secrets.existingSecret -}}
{{- range $name, $value := .Values.secrets.values -}}
{{- if $value -}}
{{- fail (printf "secrets.values.%s is set with secrets.existingSecret: put it in that Secret instead" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $secretNames := splitList " " (include "labstac.secretVariables" .) -}}
{{- range $name, $value := .Values.env -}}
{{- if has $name $secretNames -}}
{{- fail (printf "env.%s is a secret: set it in secrets.existingSecret or secrets.values, never in env" $name) -}}
{{- end -}}
{{- if not (hasPrefix "LABSTAC_" $name) -}}
{{- fail (printf "env.%s: only LABSTAC_* settings belong in env (use extraEnv for others)" $name) -}}
{{- end -}}
{{- end -}}
{{- range $extra := .Values.secrets.extra -}}
{{- range $extra.items -}}
{{- if index $.Values.secrets.values .variable -}}
{{- fail (printf "%s comes from both secrets.values and secrets.extra (%s): one Secret only" .variable $extra.secretName) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.opensearch.caCerts.secretName .Values.opensearch.caCerts.configMapName -}}
{{- fail "opensearch.caCerts: set secretName or configMapName, not both" -}}
{{- end -}}
{{- if and .Values.categories.content .Values.categories.existingConfigMap -}}
{{- fail "categories: set content or existingConfigMap, not both" -}}
{{- end -}}
{{- end -}}

{{/* ------------------------------------------------------------------ settings */}}

{{/* labstac's non-secret settings, name: value: the ConfigMap's data, and the migrate
hook Job's env (it runs before the ConfigMap exists). */}}
{{- define "labstac.settings" -}}
{{- include "labstac.validate" . -}}
{{- $s := dict -}}
{{- $_ := set $s "LABSTAC_GITLAB_URL" .Values.gitlab.url -}}
{{- $_ = set $s "LABSTAC_OPENSEARCH_URL" (join "," .Values.opensearch.urls) -}}
{{- $_ = set $s "LABSTAC_OPENSEARCH_SNIFF" (toString .Values.opensearch.sniff) -}}
{{- if .Values.opensearch.username -}}
{{- $_ = set $s "LABSTAC_OPENSEARCH_USERNAME" .Values.opensearch.username -}}
{{- end -}}
{{- $_ = set $s "LABSTAC_OPENSEARCH_VERIFY_CERTS" (toString .Values.opensearch.verifyCerts) -}}
{{- if or .Values.opensearch.caCerts.secretName .Values.opensearch.caCerts.configMapName -}}
{{- $_ = set $s "LABSTAC_OPENSEARCH_CA_CERTS" (printf "/etc/labstac/certs/%s" .Values.opensearch.caCerts.key) -}}
{{- end -}}
{{- $_ = set $s "LABSTAC_INDEX_PREFIX" .Values.opensearch.index.prefix -}}
{{- $_ = set $s "LABSTAC_INDEX_SHARDS" (toString .Values.opensearch.index.shards) -}}
{{- $_ = set $s "LABSTAC_INDEX_REPLICAS" (toString .Values.opensearch.index.replicas) -}}
{{- if not (include "labstac.redisUrlFromSecret" .) -}}
{{- $_ = set $s "LABSTAC_REDIS_URL" .Values.redis.url -}}
{{- end -}}
{{- $publicUrl := .Values.publicUrl -}}
{{- if and (not $publicUrl) .Values.ingress.enabled .Values.ingress.hosts -}}
{{- $host := (first .Values.ingress.hosts).host -}}
{{- $scheme := "http" -}}
{{- range .Values.ingress.tls -}}
{{- if has $host (default list .hosts) -}}{{- $scheme = "https" -}}{{- end -}}
{{- end -}}
{{- $publicUrl = printf "%s://%s" $scheme $host -}}
{{- end -}}
{{- if $publicUrl -}}
{{- $_ = set $s "LABSTAC_PUBLIC_URL" $publicUrl -}}
{{- end -}}
{{- if .Values.forwardedAllowIps -}}
{{- $_ = set $s "LABSTAC_FORWARDED_ALLOW_IPS" (join "," .Values.forwardedAllowIps) -}}
{{- else if .Values.ingress.enabled -}}
{{- $_ = set $s "LABSTAC_FORWARDED_ALLOW_IPS" "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7" -}}
{{- end -}}
{{- if .Values.corsOrigins -}}
{{- $_ = set $s "LABSTAC_CORS_ORIGINS" (join "," .Values.corsOrigins) -}}
{{- end -}}
{{- $_ = set $s "LABSTAC_LOG_LEVEL" .Values.log.level -}}
{{- $_ = set $s "LABSTAC_LOG_FORMAT" .Values.log.format -}}
{{- if .Values.oauth.clientId -}}
{{- $_ = set $s "LABSTAC_OAUTH_CLIENT_ID" .Values.oauth.clientId -}}
{{- end -}}
{{- if .Values.mlflow.url -}}
{{- $_ = set $s "LABSTAC_MLFLOW_URL" .Values.mlflow.url -}}
{{- $_ = set $s "LABSTAC_MLFLOW_TYPE" .Values.mlflow.type -}}
{{- end -}}
{{- if or .Values.categories.content .Values.categories.existingConfigMap -}}
{{- $_ = set $s "LABSTAC_CATEGORIES_FILE" (printf "/etc/labstac/categories/%s" .Values.categories.key) -}}
{{- end -}}
{{- $_ = set $s "LABSTAC_HOST" "0.0.0.0" -}}
{{- $_ = set $s "LABSTAC_PORT" "8000" -}}
{{- $_ = set $s "LABSTAC_STATE_DIR" "/var/lib/labstac/state" -}}
{{- range $name, $value := .Values.env -}}
{{- $_ = set $s $name (toString $value) -}}
{{- end -}}
{{- toYaml $s -}}
{{- end -}}

{{/* ------------------------------------------------------------------ pods */}}

{{/* The spec shared by every labstac pod: (dict "root" $ "component" "api"
"secretSources" <projected sources or nil: the default ones>). */}}
{{- define "labstac.podCommon" -}}
{{- $root := .root -}}
serviceAccountName: {{ include "labstac.serviceAccountName" $root }}
# No pod talks to the Kubernetes API.
automountServiceAccountToken: false
# Kubernetes would otherwise put LABSTAC_PORT=tcp://... (and more) in the environment of
# every pod when a Service named "labstac" exists in the namespace: a broken setting.
enableServiceLinks: false
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* The volumes of every labstac pod: (dict "root" $ "secretSources" list "hook" bool). */}}
{{- define "labstac.volumes" -}}
{{- $root := .root -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ $root.Values.tmpSizeLimit }}
- name: state
  emptyDir: {}
{{- if .secretSources }}
- name: secrets
  projected:
    # 0440: the files belong to root and the pod's fsGroup, which reads them.
    defaultMode: 288
    sources:
      {{- toYaml .secretSources | nindent 6 }}
{{- end }}
{{- with $root.Values.opensearch.caCerts }}
{{- if .secretName }}
- name: opensearch-ca
  secret:
    secretName: {{ .secretName }}
    items:
      - key: {{ .key }}
        path: {{ .key }}
{{- else if .configMapName }}
- name: opensearch-ca
  configMap:
    name: {{ .configMapName }}
    items:
      - key: {{ .key }}
        path: {{ .key }}
{{- end }}
{{- end }}
{{- if and (not .hook) (or $root.Values.categories.content $root.Values.categories.existingConfigMap) }}
- name: categories
  configMap:
    name: {{ default (printf "%s-categories" (include "labstac.fullname" $root)) $root.Values.categories.existingConfigMap }}
{{- end }}
{{- end -}}

{{/* The projected sources of the secrets folder for the long-running pods. */}}
{{- define "labstac.secretSources" -}}
{{- $sources := list -}}
{{- with (include "labstac.secretName" .) -}}
{{- $sources = append $sources (dict "secret" (dict "name" .)) -}}
{{- end -}}
{{- range .Values.secrets.extra -}}
{{- $items := list -}}
{{- range .items -}}
{{- $items = append $items (dict "key" .key "path" .variable) -}}
{{- end -}}
{{- $sources = append $sources (dict "secret" (dict "name" .secretName "items" $items)) -}}
{{- end -}}
{{- toYaml (dict "sources" $sources) -}}
{{- end -}}

{{/* The container fields every labstac container shares: (dict "root" $ "resources" {...}
"settingsFromConfigMap" bool "hasSecrets" bool "env" [EnvVar] "hook" bool). Without the
ConfigMap (the migrate hook) the settings are written into env, less the categories (the
chart's categories ConfigMap may not exist yet) and Redis: migrate uses neither. */}}
{{- define "labstac.containerCommon" -}}
{{- $root := .root -}}
image: {{ include "labstac.image" $root }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml $root.Values.containerSecurityContext | nindent 2 }}
resources:
  {{- toYaml .resources | nindent 2 }}
{{- if .settingsFromConfigMap }}
envFrom:
  - configMapRef:
      name: {{ include "labstac.fullname" $root }}
{{- end }}
{{- if or .env .hasSecrets (not .settingsFromConfigMap) $root.Values.extraEnv }}
env:
  {{- if .hasSecrets }}
  # Secrets are files there, one per variable (set only where that folder is mounted).
  - name: LABSTAC_SECRETS_DIR
    value: {{ include "labstac.secretsDir" $root }}
  {{- end }}
  {{- if not .settingsFromConfigMap }}
  {{- range $name, $value := omit (include "labstac.settings" $root | fromYaml) "LABSTAC_CATEGORIES_FILE" "LABSTAC_REDIS_URL" }}
  - name: {{ $name }}
    value: {{ $value | quote }}
  {{- end }}
  {{- end }}
  {{- with .env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with $root.Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: state
    mountPath: /var/lib/labstac/state
  {{- if .hasSecrets }}
  - name: secrets
    mountPath: {{ include "labstac.secretsDir" $root }}
    readOnly: true
  {{- end }}
  {{- if or $root.Values.opensearch.caCerts.secretName $root.Values.opensearch.caCerts.configMapName }}
  - name: opensearch-ca
    mountPath: /etc/labstac/certs
    readOnly: true
  {{- end }}
  {{- if and (not .hook) (or $root.Values.categories.content $root.Values.categories.existingConfigMap) }}
  - name: categories
    mountPath: /etc/labstac/categories
    readOnly: true
  {{- end }}
{{- end -}}

{{/* topologySpreadConstraints with the component's labels where none are given. */}}
{{- define "labstac.spread" -}}
{{- $selector := include "labstac.componentSelector" (dict "root" .root "component" .component) | fromYaml -}}
{{- $out := list -}}
{{- range .constraints -}}
{{- $c := deepCopy . -}}
{{- if not (hasKey $c "labelSelector") -}}
{{- $_ := set $c "labelSelector" (dict "matchLabels" $selector) -}}
{{- end -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Pod annotations: the user's, plus checksums that roll the pods when the chart's
ConfigMap or Secret changes (an existingSecret's change needs `kubectl rollout restart`:
settings are read once, at start). */}}
{{- define "labstac.podAnnotations" -}}
checksum/config: {{ include "labstac.settings" . | sha256sum }}
checksum/secret: {{ include "labstac.chartSecretData" . | sha256sum }}
{{- with .Values.categories.content }}
checksum/categories: {{ . | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
