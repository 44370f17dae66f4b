{{/* Names and labels. */}}
{{- define "coordha.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "coordha.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "coordha.labels" -}}
{{ include "coordha.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/*
One coordinator: a Deployment, a Service and, with more than one replica, a PodDisruptionBudget.
Called as
  include "coordha.coordinator" (dict "root" $ "role" "rootcoord" "envPrefix" "ROOT_COORD"
                                      "c" .Values.rootCoordinator)
after the caller's replicas/activeStandby guard. `c` is the coordinator's block of values.yaml.
Every setting reaches coordha as an environment variable (Milvus's env rule, DESIGN.md §8).
*/}}
{{- define "coordha.coordinator" -}}
{{- $root := .root -}}
{{- $c := .c -}}
{{- $name := printf "%s-%s" (include "coordha.fullname" $root) .role -}}
{{- $metricsPort := int $root.Values.metrics.port -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "coordha.labels" . | nindent 4 }}
spec:
  replicas: {{ int $c.replicas }}
  {{- if $c.activeStandby.enabled }}
  # A new pod comes up as a ready standby before an old one stops; an old active resigns on
  # SIGTERM and a standby takes over at once.
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  {{- else }}
  # Exclusive: a surge pod would be a second replica, which refuses to start.
  strategy:
    type: Recreate
  {{- end }}
  selector:
    matchLabels:
      {{- include "coordha.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "coordha.selectorLabels" . | nindent 8 }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $metricsPort | quote }}
        prometheus.io/path: /metrics
    spec:
      # Kubernetes would add {SERVICE}_PORT=tcp://IP:PORT and similar variables for every Service
      # in the namespace; some can match coordha's names (a Service "metrics" gives METRICS_PORT).
      # coordha skips tcp:// values, but the environment should hold only what this chart sets.
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      # SIGTERM: drain, resign, revoke (about 5 s); a second signal forces exit.
      terminationGracePeriodSeconds: 30
      containers:
        - name: {{ .role }}
          image: {{ printf "%s:%s" $root.Values.image.repository $root.Values.image.tag | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: ["run", {{ .role | quote }}]
          ports:
            - name: grpc
              containerPort: {{ int $c.port }}
            - name: metrics
              containerPort: {{ $metricsPort }}
          env:
            - name: ETCD_ENDPOINTS
              value: {{ join "," $root.Values.etcd.endpoints | quote }}
            - name: ETCD_ROOT_PATH
              value: {{ $root.Values.etcd.rootPath | quote }}
            {{- if $root.Values.etcd.auth.enabled }}
            - name: ETCD_AUTH_ENABLED
              value: "true"
            - name: ETCD_AUTH_USER_NAME
              value: {{ $root.Values.etcd.auth.userName | quote }}
            - name: ETCD_AUTH_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $root.Values.etcd.auth.existingSecret }}
                  key: {{ $root.Values.etcd.auth.existingSecretKey }}
            {{- end }}
            - name: COMMON_SESSION_TTL
              value: {{ $root.Values.session.ttl | quote }}
            - name: COMMON_SESSION_SERVE_GRANT
              value: {{ $root.Values.session.serveGrant | quote }}
            - name: COMMON_SESSION_SUSPECT_AFTER
              value: {{ $root.Values.session.suspectAfter | quote }}
            - name: COMMON_SESSION_MIN_ACTIVE_TIME
              value: {{ $root.Values.session.minActiveTime | quote }}
            - name: LOG_LEVEL
              value: {{ $root.Values.log.level | quote }}
            - name: METRICS_PORT
              value: {{ $metricsPort | quote }}
            # Each replica publishes its own pod IP in its etcd session: clients reach the active
            # directly, found through etcd.
            - name: {{ .envPrefix }}_ADDRESS
              valueFrom:
                fieldRef:
                  fieldPath: status.podIP
            - name: {{ .envPrefix }}_PORT
              value: {{ $c.port | quote }}
            - name: {{ .envPrefix }}_ENABLE_ACTIVE_STANDBY
              value: {{ $c.activeStandby.enabled | quote }}
            {{- with $c.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          # Ready: the serving active or a registered standby, so rollouts and the disruption
          # budget count standbys. /active (200 only on the active) is for external load balancers.
          readinessProbe:
            httpGet:
              path: /readyz
              port: metrics
            periodSeconds: 5
            failureThreshold: 3
          livenessProbe:
            httpGet:
              path: /healthz
              port: metrics
            initialDelaySeconds: 10
            periodSeconds: 10
            failureThreshold: 3
          {{- with $c.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $root.Values.extraVolumeMounts }}
          volumeMounts:
            {{- toYaml . | nindent 12 }}
          {{- end }}
      {{- with $root.Values.extraVolumes }}
      volumes:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      affinity:
        {{- if $c.affinity }}
        {{- toYaml $c.affinity | nindent 8 }}
        {{- else }}
        # Replicas of one coordinator on different nodes, when the cluster has them.
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "coordha.selectorLabels" . | nindent 20 }}
        {{- end }}
---
# Selects every replica, active and standbys: for DNS and scraping. A plain Service cannot select
# only the active (standbys are ready by design); clients find the active through etcd, and an
# external load balancer can health-check /active on the metrics port.
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "coordha.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "coordha.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ int $c.port }}
      targetPort: grpc
    - name: metrics
      port: {{ $metricsPort }}
      targetPort: metrics
{{- if gt (int $c.replicas) 1 }}
---
# Voluntary disruptions (drains) take one replica at a time.
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- include "coordha.labels" . | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "coordha.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}
