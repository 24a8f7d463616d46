"""Policy over rendered manifests: what a platform team rejects before it reaches a cluster.

Each rule returns findings naming the object and what is wrong; an empty list is a pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from infra.deploycheck.constants import SHUTDOWN_MARGIN_S

Obj = dict[str, Any]

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
# Names of settings that hold credentials: never a literal value in a manifest.
SECRET_NAME = re.compile(
    r"(PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIALS?)$|^DATABASE_URL$"
)
# user:password@ in a URL.
URL_CREDENTIALS = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
# Commands that would install packages or fetch models while a pod starts.
RUNTIME_INSTALL = re.compile(
    r"\b(pip3?|npm|apt-get|apt|apk|dnf|yum|conda|curl|wget)\b\s+(install|add|get|download|-)"
    r"|huggingface-cli\s+download|shared\.inference\.provision|services\.emoji\.assets"
)


@dataclass(frozen=True)
class Finding:
    rule: str
    ref: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.ref}: {self.message}"


def ref(obj: Obj) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def pod_spec(obj: Obj) -> Obj | None:
    kind = obj.get("kind")
    if kind == "CronJob":
        spec: Obj = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    if kind in WORKLOAD_KINDS:
        spec = obj["spec"]["template"]["spec"]
        return spec
    return None


def containers(spec: Obj) -> Iterator[tuple[str, Obj]]:
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            yield key, c


def config_maps(objs: Iterable[Obj]) -> dict[str, dict[str, str]]:
    return {
        o["metadata"]["name"]: dict(o.get("data") or {})
        for o in objs
        if o.get("kind") == "ConfigMap"
    }


def container_env(c: Obj, maps: dict[str, dict[str, str]]) -> dict[str, str]:
    """The literal environment a container sees (envFrom ConfigMaps, then env values)."""
    env: dict[str, str] = {}
    for source in c.get("envFrom") or []:
        name = (source.get("configMapRef") or {}).get("name")
        if name:
            env.update(maps.get(name, {}))
    for item in c.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
    return env


def check_images(objs: list[Obj]) -> list[Finding]:
    out = []
    for obj in objs:
        spec = pod_spec(obj)
        for _, c in containers(spec) if spec else ():
            image = str(c.get("image", ""))
            name = image.rsplit("/", 1)[-1]
            if "@sha256:" in image:
                continue
            if ":" not in name:
                out.append(
                    Finding("image-tag", ref(obj), f"{c['name']}: image {image!r} has no tag")
                )
            elif name.endswith(":latest"):
                out.append(
                    Finding("image-tag", ref(obj), f"{c['name']}: image {image!r} is :latest")
                )
    return out


def check_probes(objs: list[Obj]) -> list[Finding]:
    out = []
    for obj in objs:
        if obj.get("kind") not in {"Deployment", "StatefulSet", "DaemonSet"}:
            continue
        for c in pod_spec(obj)["containers"]:  # type: ignore[index]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if not c.get(probe):
                    out.append(Finding("probes", ref(obj), f"{c['name']}: no {probe}"))
    return out


def check_resources(objs: list[Obj]) -> list[Finding]:
    out = []
    for obj in objs:
        spec = pod_spec(obj)
        for _, c in containers(spec) if spec else ():
            res = c.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            missing = [k for k in ("cpu", "memory") if k not in req]
            missing += ["limits.memory"] if "memory" not in lim else []
            if missing:
                out.append(
                    Finding("resources", ref(obj), f"{c['name']}: missing {', '.join(missing)}")
                )
    return out


def check_security(objs: list[Obj]) -> list[Finding]:
    out = []
    for obj in objs:
        spec = pod_spec(obj)
        if spec is None:
            continue
        pod_sc = spec.get("securityContext") or {}
        for _, c in containers(spec):
            sc = c.get("securityContext") or {}
            problems = []
            if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
                problems.append("runAsNonRoot is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append("allowPrivilegeEscalation is not false")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append("readOnlyRootFilesystem is not true")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append("capabilities do not drop ALL")
            if sc.get("privileged"):
                problems.append("privileged")
            if problems:
                out.append(
                    Finding("security-context", ref(obj), f"{c['name']}: {'; '.join(problems)}")
                )
    return out


def check_secrets(objs: list[Obj]) -> list[Finding]:
    out = []
    for obj in objs:
        if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")):
            out.append(Finding("committed-secret", ref(obj), "a Secret with values is committed"))
        if obj.get("kind") == "ConfigMap":
            for key, value in (obj.get("data") or {}).items():
                if SECRET_NAME.search(key) or URL_CREDENTIALS.search(str(value)):
                    out.append(Finding("committed-secret", ref(obj), f"{key} holds a credential"))
        spec = pod_spec(obj)
        for _, c in containers(spec) if spec else ():
            for item in c.get("env") or []:
                value = str(item.get("value", ""))
                if "value" in item and (
                    SECRET_NAME.search(item["name"]) or URL_CREDENTIALS.search(value)
                ):
                    out.append(
                        Finding(
                            "committed-secret",
                            ref(obj),
                            f"{c['name']}: {item['name']} is a literal",
                        )
                    )
    return out


def check_runtime_installs(objs: list[Obj]) -> list[Finding]:
    out = []
    maps = config_maps(objs)
    for obj in objs:
        spec = pod_spec(obj)
        for _, c in containers(spec) if spec else ():
            command = " ".join(map(str, [*(c.get("command") or []), *(c.get("args") or [])]))
            if RUNTIME_INSTALL.search(command):
                out.append(Finding("runtime-install", ref(obj), f"{c['name']}: runs {command!r}"))
            flag = container_env(c, maps).get("INFERENCE_AUTO_INSTALL", "").strip().lower()
            if flag not in ("false", "0", "no", "off"):
                out.append(
                    Finding(
                        "runtime-install",
                        ref(obj),
                        f"{c['name']}: INFERENCE_AUTO_INSTALL is not false",
                    )
                )
    return out


def check_termination(objs: list[Obj]) -> list[Finding]:
    out = []
    maps = config_maps(objs)
    for obj in objs:
        if obj.get("kind") != "Deployment":
            continue
        spec = pod_spec(obj)
        assert spec is not None
        grace = float(spec.get("terminationGracePeriodSeconds", 30))
        for c in spec["containers"]:
            drain = float(container_env(c, maps).get("CAIRN_SHUTDOWN_GRACE_S", "20"))
            if grace <= drain + SHUTDOWN_MARGIN_S:
                out.append(
                    Finding(
                        "termination",
                        ref(obj),
                        f"terminationGracePeriodSeconds {grace:g} is not above the drain "
                        f"(CAIRN_SHUTDOWN_GRACE_S {drain:g} + {SHUTDOWN_MARGIN_S})",
                    )
                )
    return out


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def check_availability(objs: list[Obj]) -> list[Finding]:
    """Each Deployment: a PodDisruptionBudget, topology spread and a Kafka-lag ScaledObject."""
    out = []
    maps = config_maps(objs)
    pdbs = [o for o in objs if o.get("kind") == "PodDisruptionBudget"]
    scaled = {
        o["spec"]["scaleTargetRef"]["name"]: o for o in objs if o.get("kind") == "ScaledObject"
    }
    for obj in objs:
        if obj.get("kind") != "Deployment":
            continue
        labels = obj["spec"]["template"]["metadata"].get("labels") or {}
        if not any(_selects(p["spec"].get("selector") or {}, labels) for p in pdbs):
            out.append(Finding("availability", ref(obj), "no PodDisruptionBudget selects its pods"))
        if not obj["spec"]["template"]["spec"].get("topologySpreadConstraints"):
            out.append(Finding("availability", ref(obj), "no topologySpreadConstraints"))
        so = scaled.get(obj["metadata"]["name"])
        if so is None:
            out.append(Finding("autoscaling", ref(obj), "no ScaledObject"))
            continue
        env = container_env(obj["spec"]["template"]["spec"]["containers"][0], maps)
        out += _check_kafka_trigger(so, env)
    return out


def _check_kafka_trigger(so: Obj, env: dict[str, str]) -> list[Finding]:
    out = []
    triggers = [t for t in so["spec"].get("triggers") or [] if t.get("type") == "kafka"]
    if not triggers:
        return [Finding("autoscaling", ref(so), "no kafka trigger")]
    for t in triggers:
        meta = t.get("metadata") or {}
        if not (meta.get("bootstrapServers") or meta.get("bootstrapServersFromEnv")):
            out.append(Finding("autoscaling", ref(so), "kafka trigger without bootstrapServers"))
        for key in ("consumerGroup", "topic", "lagThreshold", "activationLagThreshold"):
            if not meta.get(key):
                out.append(Finding("autoscaling", ref(so), f"kafka trigger without {key}"))
    partitions = int(env.get("KAFKA_TOPIC_PARTITIONS", "6"))
    if int(so["spec"].get("maxReplicaCount", 100)) > partitions:
        out.append(
            Finding(
                "autoscaling",
                ref(so),
                f"maxReplicaCount {so['spec'].get('maxReplicaCount', 100)} is above the "
                f"partition count {partitions}: the extra consumers would own no partition",
            )
        )
    return out


RULES = (
    check_images,
    check_probes,
    check_resources,
    check_security,
    check_secrets,
    check_runtime_installs,
    check_termination,
    check_availability,
)


def check(objs: list[Obj]) -> list[Finding]:
    return [f for rule in RULES for f in rule(objs)]
