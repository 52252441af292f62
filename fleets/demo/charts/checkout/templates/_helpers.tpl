{{/* Labels shared by every object of the release. */}}
{{- define "checkout.labels" -}}
app.kubernetes.io/name: checkout
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
{{- end }}
