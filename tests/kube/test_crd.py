"""The ReviewPolicy CRD: generated from the model, the same everywhere, structural, agreeing with pydantic."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from argoai_core.models.policy import ReviewPolicy
from kube.crdcheck import validate_custom_resource

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "reviewpolicies.argoai.dev.yaml"
CHART_CRD_FILE = ROOT / "charts" / "argoai" / "crds" / "reviewpolicies.argoai.dev.yaml"


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_crd", ROOT / "scripts" / "gen_crd.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_crd"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CRD_FILE.read_text())
    return loaded


def walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(walk(value))
    return found


def test_crd_file_matches_the_model() -> None:
    """The committed CRD is exactly what the generator makes from the model now (run `make crds`)."""
    assert CRD_FILE.read_text() == load_generator().render_crd()


def test_chart_ships_the_same_crd() -> None:
    """The Helm chart's CRD is byte-for-byte the generated one; --check agrees."""
    assert CHART_CRD_FILE.read_bytes() == CRD_FILE.read_bytes()
    assert load_generator().main(["--check"]) == 0


def test_crd_is_a_valid_structural_crd(crd: dict[str, Any]) -> None:
    """The CRD validates as apiextensions/v1 and its schema is structural (no $ref, anyOf, untyped nodes)."""
    kubernetes_validate.validate(crd, "1.30.0", strict=True)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for node in walk(schema["properties"]["spec"]) + walk(schema["properties"]["status"]):
        if "properties" in node and isinstance(node["properties"], dict) and "type" in node:
            assert node["type"] == "object"
        for banned in (
            "$ref",
            "$defs",
            "anyOf",
            "oneOf",
            "allOf",
            "additionalProperties",
            "title",
            "default",
        ):
            assert banned not in node
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Scope",
        "Model",
        "Ready",
        "Revision",
        "Age",
    ]
    assert crd["spec"]["names"]["shortNames"] == ["rvp"]
    assert crd["spec"]["scope"] == "Namespaced"


def test_crd_carries_bounds_enums_patterns_and_descriptions(crd: dict[str, Any]) -> None:
    """Model constraints reach the CRD: bounds, enums, patterns, nullable optionals, descriptions."""
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["maxComments"]["minimum"] == 0
    assert spec["maxComments"]["maximum"] == 100
    assert spec["minSeverity"]["enum"] == ["critical", "major", "minor", "nit"]
    assert spec["model"]["nullable"] is True
    assert spec["scope"]["properties"]["repos"]["items"]["pattern"].startswith("^")
    assert spec["events"]["x-kubernetes-list-type"] == "set"
    assert all(spec[name].get("description") for name in spec)


def policy(spec: dict[str, Any], name: str = "p") -> dict[str, Any]:
    return {
        "apiVersion": "argoai.dev/v1alpha1",
        "kind": "ReviewPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def samples() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((ROOT / "examples").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    ]


def test_samples_are_accepted_by_crd_and_model(crd: dict[str, Any]) -> None:
    """Every sample in examples/ passes the CRD schema and CEL rules, and the pydantic model."""
    docs = samples()
    assert len(docs) >= 3
    for doc in docs:
        assert validate_custom_resource(doc, crd) == [], doc["metadata"]["name"]
        ReviewPolicy.model_validate(doc)


INVALID = [
    ({"maxComments": 101}, "maxComments"),
    ({"minSeverity": "blocker"}, "minSeverity"),
    ({"scope": {"repos": ["not-a-repo"]}}, "repos"),
    ({"scope": {"orgs": ["acme corp"]}}, "orgs"),
    ({"events": ["closed"]}, "events"),
    ({"maxFiles": 0}, "maxFiles"),
    ({"tokenBudgetPerDay": 10}, "tokenBudgetPerDay"),
    ({"unknownField": True}, "unknownField"),
    ({"model": "gpt-5"}, "provider"),
    ({"scope": {"orgs": ["acme"], "repos": ["acme/api"]}}, "not both"),
    ({"events": ["opened", "opened"]}, "events"),
    ({"pathInstructions": [{"path": "a", "instructions": "x"}, {"path": "a", "instructions": "y"}]}, "path"),
]


@pytest.mark.parametrize(("spec", "field"), INVALID)
def test_invalid_policies_are_refused_by_both(crd: dict[str, Any], spec: dict[str, Any], field: str) -> None:
    """The CRD (schema + CEL + list types) and the pydantic model both refuse each invalid spec."""
    problems = validate_custom_resource(policy(spec), crd)
    assert problems, spec
    with pytest.raises(ValidationError) as info:
        ReviewPolicy.model_validate(policy(spec))
    assert field in str(info.value) or field in " ".join(problems)


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"model": None},
        {"provider": "openai", "model": "gpt-4.1"},
        {"scope": {"orgs": ["acme"], "repos": []}},
        {"pathInstructions": [{"path": "a", "instructions": "x"}, {"path": "b", "instructions": "y"}]},
    ],
)
def test_valid_edge_cases_are_accepted_by_both(crd: dict[str, Any], spec: dict[str, Any]) -> None:
    """Edge cases the cross-field rules must allow pass both the CRD and the model."""
    assert validate_custom_resource(policy(spec), crd) == []
    ReviewPolicy.model_validate(policy(spec))
