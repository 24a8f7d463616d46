"""Schema validation: built-in kinds against the Kubernetes JSON schemas, KEDA kinds against
the openAPIV3Schema of KEDA's own CRDs."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from infra.deploycheck.constants import KEDA_CRDS, KUBERNETES_VERSION


@cache
def _crd_schema(path: Path, version: str) -> dict[str, Any]:
    crd = yaml.safe_load(path.read_text())
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            schema: dict[str, Any] = v["schema"]["openAPIV3Schema"]
            return schema
    raise LookupError(f"{path.name} has no version {version}")


def validate(obj: dict[str, Any], keda_crds: Path) -> list[str]:
    """Error messages for one object ([] when valid)."""
    kind, api = obj.get("kind", ""), obj.get("apiVersion", "")
    if api.startswith("keda.sh/"):
        if kind not in KEDA_CRDS:
            return [f"no KEDA schema for {kind}"]
        schema = _crd_schema(keda_crds / KEDA_CRDS[kind], api.split("/", 1)[1])
        validator = jsonschema.Draft7Validator(schema)
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}"
            for e in validator.iter_errors(obj)
        ]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'/'.join(map(str, exc.path)) or '.'}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no Kubernetes {KUBERNETES_VERSION} schema for {api} {kind}"]
    return []
