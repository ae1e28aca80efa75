"""The Tiltfile: parsed and linted as Starlark, then evaluated against recording stand-ins of Tilt's API.

There is no Tilt binary or cluster here, so this proves the file is valid Starlark with no lint findings,
that it calls Tilt the way the docs describe, and that the Helm values it passes render the real chart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python as helm
import starlark as sl
import yaml

ROOT = Path(__file__).resolve().parents[2]
TILTFILE = ROOT / "Tiltfile"
TILT_CALLS = ["allow_k8s_contexts", "docker_build", "k8s_yaml", "helm", "k8s_resource", "blob", "read_file"]


def evaluate(env: dict[str, str]) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, args, kwargs))
            return args[0] if name == "blob" else f"<{name}>"

        return call

    module = sl.Module()
    for name in TILT_CALLS:
        module.add_callable(name, recorder(name))
    module.add_callable("_getenv", lambda key, default="": env.get(key, default))
    module.add_callable("encode_json", json.dumps)

    def load(module_id: str) -> sl.FrozenModule:
        raise AssertionError(f"the Tiltfile loads no extension, not {module_id}")

    # Tilt's `os` module, built in Starlark from a recorded getenv.
    prelude = "os = struct(getenv = _getenv)\n"
    ast = sl.parse("Tiltfile", prelude + TILTFILE.read_text(), sl.Dialect.extended())
    sl.eval(module, ast, sl.Globals.extended_by([sl.LibraryExtension.StructType]), sl.FileLoader(load))
    return calls


def named(calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]], name: str) -> list[tuple[Any, ...]]:
    return [(args, kwargs) for call, args, kwargs in calls if call == name]


def test_tiltfile_parses_without_lint_findings() -> None:
    """The Tiltfile is valid Starlark and the linter finds nothing."""
    ast = sl.parse("Tiltfile", TILTFILE.read_text(), sl.Dialect.extended())
    assert [f"{lint.short_name}: {lint.problem}" for lint in ast.lint()] == []
    assert [load.module_id for load in ast.loads()] == []


def test_tiltfile_builds_installs_and_forwards() -> None:
    """It builds the image, installs the chart (own NATS, Redis), forwards the gateway, applies a policy."""
    calls = evaluate({"ARGOAI_GITHUB_APP_ID": "7", "ARGOAI_GITHUB_PRIVATE_KEY_FILE": "/keys/app.pem"})
    ((build_args, build_kwargs),) = named(calls, "docker_build")
    assert build_args[:2] == ("argoai", ".")
    assert build_kwargs["dockerfile"] == "Dockerfile"
    values = chart_values(calls)
    assert "nats" not in values or "url" not in values["nats"]
    assert "url" not in values["redis"]
    resources = {
        args[0] if args else kwargs["new_name"]: kwargs for args, kwargs in named(calls, "k8s_resource")
    }
    assert resources["argoai-gateway"]["port_forwards"] == ["8080:8080"]
    assert resources["argoai-reviewer"]["resource_deps"] == ["argoai-nats", "argoai-redis"]
    assert resources["sample-policy"]["objects"] == ["default:reviewpolicy"]
    assert "examples/reviewpolicy-default.yaml" in [args[0] for args, _ in named(calls, "k8s_yaml")]
    assert (ROOT / "examples" / "reviewpolicy-default.yaml").exists()


def merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict):
            merge(into.setdefault(key, {}), value)
        else:
            into[key] = value


def chart_values(calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> dict[str, Any]:
    """The chart values of the Tiltfile's helm() call, parsed from --set strings the way Helm does."""
    ((args, kwargs),) = named(calls, "helm")
    assert args == ("charts/argoai",)
    values: dict[str, Any] = {}
    for item in kwargs["set"]:
        merge(values, helm.parse_set_string(item))
    return values


def rendered_workloads(values: dict[str, Any]) -> set[str]:
    rendered = helm.Chart.load(str(ROOT / "charts" / "argoai")).render(
        values, name="argoai", namespace="argoai"
    )
    docs = [
        doc
        for path, text in rendered.items()
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return {doc["metadata"]["name"] for doc in docs if doc["kind"] in ("Deployment", "StatefulSet")}


def test_tiltfile_values_render_the_chart() -> None:
    """The --set values the Tiltfile passes render the real chart, and the resources it names exist there."""
    calls = evaluate(
        {
            "ARGOAI_GITHUB_APP_ID": "7",
            "ARGOAI_GITHUB_PRIVATE_KEY_FILE": "/keys/app.pem",
            "ARGOAI_LLM_PROVIDER": "openai",
            "ARGOAI_LLM_MODEL": "gpt-4.1-mini",
            "ARGOAI_LLM_API_KEY": "k",
        }
    )
    values = chart_values(calls)
    assert values["github"]["privateKeySecret"]["name"] == "argoai-github-app"
    workloads = {args[0] for args, _ in named(calls, "k8s_resource") if args}
    assert workloads == rendered_workloads(values)
    secrets = [
        yaml.safe_load(args[0]) for args, _ in named(calls, "k8s_yaml") if "kind: Secret" in str(args[0])
    ]
    assert {s["metadata"]["name"] for s in secrets} == {"argoai-webhook", "argoai-github-app", "argoai-llm"}


def test_tiltfile_without_the_app_runs_what_can_start() -> None:
    """Without App settings the chart still renders: gateway, operator and NATS, no reviewer and no Redis."""
    calls = evaluate({})
    values = chart_values(calls)
    assert values["reviewer"]["enabled"] is False
    workloads = {args[0] for args, _ in named(calls, "k8s_resource") if args}
    assert workloads == rendered_workloads(values) == {"argoai-nats", "argoai-gateway", "argoai-operator"}
