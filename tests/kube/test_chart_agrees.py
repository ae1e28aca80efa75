"""The chart and the processes agree: every container's arguments parse with the real ``argoai`` command, and
every ``ARGOAI_*`` variable the chart sets is a setting some component reads."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from argoai_cli.main import app
from kube.chartrender import render, values

PACKAGES = ("argoai_core", "argoai_gateway", "argoai_reviewer", "argoai_operator", "argoai_cli")
VALUE_FILES = ("minimal", "evaluation", "full", "namespaced")


def argoai_containers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(object name, container) for every container running the ArgoAI image (its args start a command)."""
    for doc in docs:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template", {}
        ).get("spec")
        if not pod:
            continue
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            if "argoai" in container.get("image", "") and "/argoai:" in container["image"]:
                yield doc["metadata"]["name"], container


def known_settings() -> set[str]:
    """Every environment variable a pydantic-settings class of ArgoAI reads."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if not info.name.endswith(".__main__"):  # running it would start the command line
                importlib.import_module(info.name)
    names: set[str] = set()
    stack = list(BaseSettings.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        prefix = str(cls.model_config.get("env_prefix", ""))
        if prefix.startswith("ARGOAI_"):
            names |= {f"{prefix}{field}".upper() for field in cls.model_fields}
    return names


@pytest.mark.parametrize("name", VALUE_FILES)
def test_every_container_command_parses(name: str) -> None:
    """The args of each ArgoAI container name a real subcommand and only options it accepts."""
    seen = 0
    for owner, container in argoai_containers(render(values(name))):
        args = [str(arg) for arg in container.get("args", [])]
        # click parses every argument (an unknown option or a missing value is an error) before the eager
        # --help prints the usage and exits 0.
        result = CliRunner().invoke(app, [*args, "--help"])
        assert result.exit_code == 0, f"{owner}: argoai {' '.join(args)}: {result.output}"
        seen += 1
    assert seen >= 3


@pytest.mark.parametrize("name", VALUE_FILES)
def test_every_argoai_variable_the_chart_sets_is_a_setting(name: str) -> None:
    """No ARGOAI_* variable in the chart is silently ignored by the process it is given to."""
    settings = known_settings()
    unknown = {
        (owner, env["name"])
        for owner, container in argoai_containers(render(values(name)))
        for env in container.get("env", [])
        if env["name"].startswith("ARGOAI_") and env["name"] not in settings
    }
    assert unknown == set()
