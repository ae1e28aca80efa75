"""Validate custom resources as the API server would: the CRD's OpenAPI schema, list types and CEL rules."""

from __future__ import annotations

import copy
from typing import Any

import celpy
import jsonschema


def to_jsonschema(node: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI v3 (Kubernetes flavour) → JSON Schema; unknown fields are errors (kubectl strict mode)."""
    out = {
        k: copy.deepcopy(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"
    }
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in node:
        out["properties"] = {name: to_jsonschema(sub) for name, sub in node["properties"].items()}
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if "items" in node:
        out["items"] = to_jsonschema(node["items"])
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if node.get(flag) is True:
            out[flag] = node[bound]
            del out[bound]
    return out


def _walk(schema: dict[str, Any], value: Any, path: str, problems: list[str], env: celpy.Environment) -> None:
    if value is None:
        return
    for rule in schema.get("x-kubernetes-validations", []):
        program = env.program(env.compile(rule["rule"]))
        if not program.evaluate({"self": celpy.json_to_cel(value)}):
            problems.append(f"{path}: {rule['message']}")
    list_type = schema.get("x-kubernetes-list-type")
    if isinstance(value, list) and list_type in ("set", "map"):
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen = [tuple(item.get(k) for k in keys) if list_type == "map" else item for item in value]
        if len(seen) != len(set(seen)):
            problems.append(f"{path}: duplicate entries in a list of type {list_type}")
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                _walk(sub, value[name], f"{path}.{name}", problems, env)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _walk(schema["items"], item, f"{path}[{index}]", problems, env)


def validate_custom_resource(obj: dict[str, Any], crd: dict[str, Any]) -> list[str]:
    """Every problem the API server would report for ``obj`` against ``crd`` (empty: accepted)."""
    group = crd["spec"]["group"]
    versions = {f"{group}/{v['name']}": v for v in crd["spec"]["versions"]}
    version = versions.get(obj.get("apiVersion", ""))
    if version is None or obj.get("kind") != crd["spec"]["names"]["kind"]:
        return [f"{obj.get('apiVersion')}/{obj.get('kind')} is not served by {crd['metadata']['name']}"]
    schema = version["schema"]["openAPIV3Schema"]
    root = to_jsonschema(schema)
    # The API server always accepts the object's identity, whether or not the CRD's schema lists it.
    for field, kind in (("apiVersion", "string"), ("kind", "string"), ("metadata", "object")):
        root.setdefault("properties", {}).setdefault(field, {"type": kind})
    validator = jsonschema.Draft7Validator(root)
    problems = [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(obj)
    ]
    if not problems:  # CEL runs only on schema-valid objects
        _walk(schema, obj, "", problems, celpy.Environment())
    return problems
