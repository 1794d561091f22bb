{{/* Names ---------------------------------------------------------------------------- */}}
{{- define "inkshadow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "inkshadow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "inkshadow.component" (dict "root" $ "component" "api") -> fullname-api */}}
{{- define "inkshadow.component" -}}
{{- printf "%s-%s" (include "inkshadow.fullname" .root) .component -}}
{{- end -}}

{{- define "inkshadow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inkshadow.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "inkshadow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "inkshadow.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: inkshadow
{{- end -}}

{{/* Images --------------------------------------------------------------------------- */}}
{{- define "inkshadow.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* The api and worker image: the CUDA variant when they run the in-process engine on GPUs */}}
{{- define "inkshadow.engineImage" -}}
{{- if and (eq .Values.inference.engine "inkshadow") .Values.image.cuda.enabled -}}
{{- printf "%s:%s" (default .Values.image.repository .Values.image.cuda.repository) (default (printf "%s-cuda" .Chart.AppVersion) .Values.image.cuda.tag) -}}
{{- else -}}
{{- include "inkshadow.image" . -}}
{{- end -}}
{{- end -}}

{{/* Hosts and URLs ------------------------------------------------------------------- */}}
{{- define "inkshadow.clusterDomain" -}}
{{- printf "%s.svc.%s" .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{- define "inkshadow.vllmUrl" -}}
{{- printf "http://%s.%s:%d" (include "inkshadow.component" (dict "root" . "component" "vllm")) (include "inkshadow.clusterDomain" .) (int .Values.inference.vllm.port) -}}
{{- end -}}

{{- define "inkshadow.gatewayUrl" -}}
{{- printf "http://%s.%s:%d" (include "inkshadow.component" (dict "root" . "component" "gateway")) (include "inkshadow.clusterDomain" .) (int .Values.gateway.port) -}}
{{- end -}}

{{- define "inkshadow.postgresHost" -}}
{{- printf "%s.%s" (include "inkshadow.component" (dict "root" . "component" "postgresql")) (include "inkshadow.clusterDomain" .) -}}
{{- end -}}

{{- define "inkshadow.redisHost" -}}
{{- printf "%s.%s" (include "inkshadow.component" (dict "root" . "component" "redis")) (include "inkshadow.clusterDomain" .) -}}
{{- end -}}

{{/* Secret names --------------------------------------------------------------------- */}}
{{- define "inkshadow.postgresSecret" -}}
{{- default (include "inkshadow.component" (dict "root" . "component" "postgresql")) .Values.postgresql.auth.existingSecret -}}
{{- end -}}

{{- define "inkshadow.redisSecret" -}}
{{- default (include "inkshadow.component" (dict "root" . "component" "redis")) .Values.redis.auth.existingSecret -}}
{{- end -}}

{{- define "inkshadow.authSecret" -}}
{{- default (include "inkshadow.component" (dict "root" . "component" "auth")) .Values.auth.existingSecret -}}
{{- end -}}

{{/* A password kept across upgrades: the value given, else the one already in the cluster,
     else a new random one. Args: root, secret, key, value. */}}
{{- define "inkshadow.password" -}}
{{- if .value -}}
{{- .value -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret -}}
{{- if and $existing (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Whether a component runs the in-process engine ------------------------------------ */}}
{{- define "inkshadow.apiEngine" -}}
{{- if eq .Values.inference.engine "inkshadow" -}}transformers{{- else -}}remote{{- end -}}
{{- end -}}

{{- define "inkshadow.upstreamUrl" -}}
{{- if eq .Values.inference.engine "vllm" -}}
{{- include "inkshadow.vllmUrl" . -}}
{{- else if eq .Values.inference.engine "external" -}}
{{- required "inference.external.url is required when inference.engine=external" .Values.inference.external.url -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by api and worker (the app settings) -------------------------- */}}
{{- define "inkshadow.appEnv" -}}
{{- $root := . -}}
- name: INKSHADOW_HOST
  value: "0.0.0.0"
- name: INKSHADOW_ENGINE
  value: {{ include "inkshadow.apiEngine" . | quote }}
- name: INKSHADOW_MODEL
  value: {{ include "inkshadow.modelRef" . | quote }}
{{- with .Values.model.servedName }}
- name: INKSHADOW_SERVED_MODEL_NAME
  value: {{ . | quote }}
{{- end }}
{{- if ne .Values.inference.engine "inkshadow" }}
- name: INKSHADOW_UPSTREAM_URL
  value: {{ include "inkshadow.upstreamUrl" . | quote }}
- name: INKSHADOW_UPSTREAM_MODEL
  value: {{ default (default .Values.model.name .Values.model.path) .Values.model.servedName | quote }}
{{- end }}
- name: INKSHADOW_DRAIN_GRACE_S
  value: {{ .Values.drainGraceSeconds | quote }}
- name: INKSHADOW_DATA_DIR
  value: /data
- name: INKSHADOW_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: HF_HOME
  value: {{ printf "%s/hf" .Values.model.storage.mountPath | quote }}
{{- if .Values.model.offline }}
- name: HF_HUB_OFFLINE
  value: "1"
{{- end }}
{{- with .Values.model.hfTokenSecret.name }}
- name: HF_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $root.Values.model.hfTokenSecret.key }}
{{- end }}
{{- with .Values.blobs.store }}
- name: INKSHADOW_BLOB_STORE
  value: {{ . | quote }}
{{- end }}
{{- with .Values.blobs.s3EndpointUrl }}
- name: INKSHADOW_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.blobs.credentialsSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: AWS_SECRET_ACCESS_KEY
{{- end }}
{{ include "inkshadow.databaseEnv" . }}
{{ include "inkshadow.redisEnv" . }}
{{ include "inkshadow.authEnv" . }}
{{- range $k, $v := .Values.extraEnv }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "inkshadow.modelRef" -}}
{{- if .Values.model.tiny.enabled -}}
{{- printf "%s/tiny" .Values.model.storage.mountPath -}}
{{- else if .Values.model.path -}}
{{- .Values.model.path -}}
{{- else -}}
{{- .Values.model.name -}}
{{- end -}}
{{- end -}}

{{- define "inkshadow.databaseEnv" -}}
{{- if .Values.postgresql.enabled -}}
- name: INKSHADOW_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "inkshadow.postgresSecret" . }}
      key: password
- name: INKSHADOW_DATABASE_URL
  value: {{ printf "postgresql+psycopg://%s:$(INKSHADOW_PG_PASSWORD)@%s:5432/%s" .Values.postgresql.auth.username (include "inkshadow.postgresHost" .) .Values.postgresql.auth.database | quote }}
{{- else if .Values.externalDatabase.existingSecret -}}
- name: INKSHADOW_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalDatabase.existingSecret }}
      key: {{ .Values.externalDatabase.existingSecretKey }}
{{- else if .Values.externalDatabase.url -}}
- name: INKSHADOW_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "inkshadow.component" (dict "root" . "component" "database") }}
      key: url
{{- else -}}
# no PostgreSQL: a SQLite file under /data (one replica of api and worker sharing /data)
{{- end -}}
{{- end -}}

{{- define "inkshadow.redisEnv" -}}
{{- if .Values.redis.enabled -}}
- name: INKSHADOW_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "inkshadow.redisSecret" . }}
      key: password
- name: INKSHADOW_REDIS_URL
  value: {{ printf "redis://:$(INKSHADOW_REDIS_PASSWORD)@%s:6379/0" (include "inkshadow.redisHost" .) | quote }}
{{- else if .Values.externalRedis.existingSecret -}}
- name: INKSHADOW_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalRedis.existingSecret }}
      key: {{ .Values.externalRedis.existingSecretKey }}
{{- else if .Values.externalRedis.url -}}
- name: INKSHADOW_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "inkshadow.component" (dict "root" . "component" "redis-url") }}
      key: url
{{- else -}}
# no Redis: in-memory cache and sessions in each replica
{{- end -}}
{{- end -}}

{{- define "inkshadow.authEnv" -}}
{{- if .Values.auth.keysFile.enabled -}}
- name: INKSHADOW_API_KEYS_FILE
  value: /etc/inkshadow/keys/{{ .Values.auth.keysFile.key }}
{{- else if or .Values.auth.apiKeys .Values.auth.existingSecret -}}
- name: INKSHADOW_API_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "inkshadow.authSecret" . }}
      key: {{ .Values.auth.existingSecretKey }}
{{- else -}}
# no API keys: every route is open (put the gateway behind your own auth)
{{- end -}}
{{- end -}}

{{- define "inkshadow.authVolume" -}}
{{- if .Values.auth.keysFile.enabled }}
- name: api-keys
  secret:
    secretName: {{ include "inkshadow.authSecret" . }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "inkshadow.authMount" -}}
{{- if .Values.auth.keysFile.enabled }}
- name: api-keys
  mountPath: /etc/inkshadow/keys
  readOnly: true
{{- end }}
{{- end -}}

{{/* Security contexts ---------------------------------------------------------------- */}}
{{- define "inkshadow.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsUser }}
fsGroup: {{ .Values.securityContext.runAsUser }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "inkshadow.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Model volume ---------------------------------------------------------------------- */}}
{{- define "inkshadow.modelVolume" -}}
- name: models
{{- $s := .Values.model.storage }}
{{- if eq $s.type "pvc" }}
  persistentVolumeClaim:
    claimName: {{ default (include "inkshadow.component" (dict "root" . "component" "models")) $s.pvc.existingClaim }}
    readOnly: {{ $s.readOnly }}
{{- else if eq $s.type "nfs" }}
  nfs:
    server: {{ required "model.storage.nfs.server is required for NFS model storage" $s.nfs.server }}
    path: {{ $s.nfs.path }}
    readOnly: {{ $s.readOnly }}
{{- else }}
  emptyDir:
    sizeLimit: {{ $s.emptyDir.sizeLimit }}
{{- end }}
{{- end -}}

{{- define "inkshadow.dataVolume" -}}
- name: data
{{- if .Values.data.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ default (include "inkshadow.component" (dict "root" . "component" "data")) .Values.data.persistence.existingClaim }}
{{- else }}
  emptyDir:
    sizeLimit: {{ .Values.data.emptyDirSizeLimit }}
{{- end }}
{{- end -}}

{{/* Scheduling block from a component's values --------------------------------------- */}}
{{- define "inkshadow.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/* Init containers that wait for the database and migrate it (advisory-locked, so
     concurrent pods are safe), and build the tiny model when asked ---------------------- */}}
{{- define "inkshadow.initContainers" -}}
{{- $root := .root -}}
{{- if and $root.Values.migrations.enabled .migrate }}
- name: db-upgrade
  image: {{ include "inkshadow.engineImage" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args: ["db", "upgrade"]
  env:
    {{- include "inkshadow.appEnv" $root | nindent 4 }}
  securityContext:
    {{- include "inkshadow.containerSecurityContext" $root | nindent 4 }}
  resources:
    {{- toYaml $root.Values.migrations.resources | nindent 4 }}
  volumeMounts:
    - name: data
      mountPath: /data
    - name: tmp
      mountPath: /tmp
    - name: home
      mountPath: /home/inkshadow
{{- end }}
{{- if and $root.Values.model.tiny.enabled .inProcess }}
- name: tiny-model
  image: {{ include "inkshadow.engineImage" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  command: ["sh", "-c"]
  args:
    - test -f {{ include "inkshadow.modelRef" $root }}/config.json || inkshadow model tiny --family {{ $root.Values.model.tiny.family }} {{ include "inkshadow.modelRef" $root }}
  env:
    - name: HF_HUB_OFFLINE
      value: "1"
  securityContext:
    {{- include "inkshadow.containerSecurityContext" $root | nindent 4 }}
  resources:
    {{- toYaml $root.Values.migrations.resources | nindent 4 }}
  volumeMounts:
    - name: models
      mountPath: {{ $root.Values.model.storage.mountPath }}
    - name: tmp
      mountPath: /tmp
    - name: home
      mountPath: /home/inkshadow
{{- end }}
{{- end -}}

{{/* NetworkPolicy peers */}}
{{- define "inkshadow.np.from" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/instance: {{ .root.Release.Name }}
      app.kubernetes.io/component: {{ .component }}
{{- end -}}
{{- define "inkshadow.np.monitoring" -}}
- namespaceSelector:
    {{- toYaml .Values.networkPolicy.monitoringNamespaceSelector | nindent 4 }}
{{- end -}}

{{/* Whether KEDA's PostgreSQL trigger is on (keda.yaml renders it, networkpolicy.yaml lets
     the KEDA operator reach the bundled database): "true" or "" */}}
{{- define "inkshadow.kedaPostgresTrigger" -}}
{{- $db := or .Values.postgresql.enabled .Values.externalDatabase.url .Values.externalDatabase.existingSecret -}}
{{- if and .Values.keda.enabled .Values.worker.enabled .Values.keda.worker.postgresql.enabled $db -}}true{{- end -}}
{{- end -}}

{{/* Render-time checks the schema cannot express (included by templates/checks.yaml) ----- */}}
{{- define "inkshadow.checks" -}}
{{- include "inkshadow.checkBlobStore" . -}}
{{- end -}}

{{/* api and worker always run in separate pods, and jobs read the media a client uploaded
     (or the api fetched) from the blob store by hash: with the worker tier on, that store
     must be one both see, S3 or the /data volume as a PVC both mount. */}}
{{- define "inkshadow.checkBlobStore" -}}
{{- if .Values.worker.enabled -}}
{{- $store := trim .Values.blobs.store -}}
{{- $p := .Values.data.persistence -}}
{{- $hint := "set data.persistence.enabled=true (a ReadWriteMany PVC both mount at /data; ReadWriteOnce only on a one-node cluster; or data.persistence.existingClaim) or blobs.store=s3://bucket/prefix (with blobs.s3EndpointUrl and blobs.credentialsSecret as needed), or worker.enabled=false" -}}
{{- if hasPrefix "s3://" $store -}}
{{- if not (regexMatch "^s3://[^/]+" $store) -}}
{{- fail (printf "blobs.store %q: an S3 blob store looks like s3://bucket/prefix" $store) -}}
{{- end -}}
{{- else if not $p.enabled -}}
{{- fail (printf "worker.enabled=true needs a blob store the api and worker pods share (they are separate pods, and jobs read uploaded and fetched videos from it), but /data is a per-pod emptyDir (data.persistence.enabled=false) and blobs.store is not s3://: %s" $hint) -}}
{{- else if and $store (ne $store "/data") (not (hasPrefix "/data/" $store)) -}}
{{- fail (printf "blobs.store %q is a folder outside the shared /data volume, so the worker pods cannot read what the api stores there: use a folder under /data, leave blobs.store empty (/data/blobs) or use s3://bucket/prefix" $store) -}}
{{- else if and (not $p.existingClaim) (not (or (has "ReadWriteMany" $p.accessModes) (has "ReadWriteOnce" $p.accessModes))) -}}
{{- fail (printf "data.persistence.accessModes %v cannot be mounted read-write by the api and worker pods together: use [ReadWriteMany] (or [ReadWriteOnce] on a one-node cluster), or an s3:// blob store" $p.accessModes) -}}
{{- end -}}
{{- end -}}
{{- end -}}
