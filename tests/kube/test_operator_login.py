"""Where the operator finds its Kubernetes credentials: the pod's service account first, else a kubeconfig.

The lookup reads the process environment (KUBECONFIG, HOME, KUBERNETES_SERVICE_*), which each test sets with
monkeypatch; the service account directory is a temporary one standing in for the kubelet's mount.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from argoai_core.errors import ConfigError
from argoai_operator.login import find_login
from kube.kube_emulator import write_kubeconfig


@pytest.fixture
def no_kube_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No KUBECONFIG, an empty HOME, no in-cluster service variables; returns the HOME."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    return home


def service_account(directory: Path, token: str = "sa-token-1") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(token + "\n")
    (directory / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (directory / "namespace").write_text("argoai\n")
    return directory


def test_service_account_in_a_pod(no_kube_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """In a pod: the token, CA and namespace of the mount, the server from KUBERNETES_SERVICE_HOST/PORT."""
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    directory = service_account(tmp_path / "sa")
    login = find_login(service_account=directory)
    info = login.connection_info()
    assert login.source == f"service account token {directory / 'token'}"
    assert info.server == "https://10.96.0.1:443"
    assert info.token == "sa-token-1"
    assert info.ca_path == str(directory / "ca.crt")
    assert info.default_namespace == "argoai"


def test_service_account_wins_over_a_kubeconfig(
    no_kube_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A pod that also has KUBECONFIG set uses its service account (as client-go does)."""
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:1")))
    login = find_login(service_account=service_account(tmp_path / "sa"))
    assert login.source.startswith("service account token")
    assert login.server == "https://kubernetes.default.svc"  # no KUBERNETES_SERVICE_* set


def test_ipv6_service_host_is_bracketed(
    no_kube_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An IPv6 cluster's KUBERNETES_SERVICE_HOST makes a valid URL."""
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    assert find_login(service_account=service_account(tmp_path / "sa")).server == "https://[fd00::1]:6443"


def test_rotated_token_is_read_again(no_kube_env: Path, tmp_path: Path) -> None:
    """Each login reads the token file again: a token the kubelet rotated is used from then on."""
    directory = service_account(tmp_path / "sa")
    login = find_login(service_account=directory)
    (directory / "token").write_text("sa-token-2\n")
    assert login.connection_info().token == "sa-token-2"


def test_empty_token_is_a_config_error(no_kube_env: Path, tmp_path: Path) -> None:
    """An empty token file is refused at start, naming the file."""
    directory = service_account(tmp_path / "sa", token="")
    with pytest.raises(ConfigError, match=r"service account token .*/sa/token is empty"):
        find_login(service_account=directory)


def test_kubeconfig_from_the_variable(
    no_kube_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Outside a pod, KUBECONFIG's current context gives the server and the token."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "https://api.example.test:6443")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    login = find_login(service_account=tmp_path / "no-sa")
    assert login.source == f"kubeconfig KUBECONFIG ({kubeconfig})"
    info = login.connection_info()
    assert (info.server, info.token) == ("https://api.example.test:6443", "emulator-token")


def test_default_kubeconfig_in_home(no_kube_env: Path, tmp_path: Path) -> None:
    """Without KUBECONFIG, ~/.kube/config is used."""
    (no_kube_env / ".kube").mkdir()
    write_kubeconfig(no_kube_env / ".kube" / "config", "https://home.example.test")
    login = find_login(service_account=tmp_path / "no-sa")
    assert login.source == f"kubeconfig {no_kube_env / '.kube' / 'config'}"
    assert login.server == "https://home.example.test"


def test_nothing_found_names_every_place_looked(no_kube_env: Path, tmp_path: Path) -> None:
    """No service account, no KUBECONFIG, no ~/.kube/config: one message naming all three."""
    with pytest.raises(ConfigError) as info:
        find_login(service_account=tmp_path / "no-sa")
    message = str(info.value)
    assert message.startswith("no Kubernetes API credentials found")
    assert str(tmp_path / "no-sa" / "token") in message
    assert "KUBECONFIG is not set" in message
    assert str(no_kube_env / ".kube" / "config") in message


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"apiVersion": "v1", "clusters": []}, "Current context is not set"),
        (
            {"current-context": "a", "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}]},
            "names a cluster, user or context 'c' that is not defined",
        ),
        (
            {
                "current-context": "a",
                "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
                "clusters": [{"name": "c", "cluster": {}}],
                "users": [{"name": "u", "user": {}}],
            },
            "the current context's cluster has no server",
        ),
        (["not", "a", "mapping"], "not a valid kubeconfig"),
    ],
)
def test_broken_kubeconfig_is_one_config_error(
    document: object, expected: str, no_kube_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A kubeconfig Kopf cannot use is refused at start with what is wrong, not with Kopf's traceback."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    monkeypatch.setenv("KUBECONFIG", str(path))
    with pytest.raises(ConfigError, match=expected) as info:
        find_login(service_account=tmp_path / "no-sa")
    assert str(info.value).startswith(f"KUBECONFIG ({path}): ")
