"""Where the operator finds its Kubernetes API credentials: the pod's service account, else a kubeconfig.

Kopf adds login handlers only to ``kopf.SmartOperatorRegistry`` (and only for the sources present when that
registry is built); the operator's registry is a plain ``kopf.OperatorRegistry``, so it registers its own
(``handlers.build_registry``), backed by a :class:`KubeLogin` found once at start-up by :func:`find_login`:

1. **in a pod**: the service account token (``/var/run/secrets/kubernetes.io/serviceaccount/token``, with its
   ``ca.crt`` and ``namespace``), and the API server from ``KUBERNETES_SERVICE_HOST``/``_PORT`` as client-go
   does (``https://kubernetes.default.svc`` when they are unset, as Kopf does);
2. **else a kubeconfig**: ``KUBECONFIG`` (one file or a ``:``-separated list), else ``~/.kube/config``, read
   by Kopf's own ``kopf.login_with_kubeconfig`` (its current context; token, client certificate or basic
   auth).

Looking once before Kopf starts turns missing or broken credentials into one configuration-error line
instead of Kopf's ``LoginError`` traceback. Kopf calls the login again whenever the API answers 401, and
each call re-reads the files: a service account token rotated by the kubelet is picked up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import kopf
import yaml

from argoai_core.errors import ConfigError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = "~/.kube/config"
# Kopf's own priorities for these two sources (higher is preferred).
IN_CLUSTER_PRIORITY = 20

Reader = Callable[[bool], kopf.ConnectionInfo]


@dataclass(frozen=True)
class KubeLogin:
    """Credentials for the Kubernetes API: where they come from, and how to read them (again)."""

    source: str
    server: str
    read: Reader

    def connection_info(self, *, trust_env: bool = False) -> kopf.ConnectionInfo:
        """Read the credentials now (Kopf's login handler and the API probe call this)."""
        return self.read(trust_env)

    @classmethod
    def fixed(cls, info: kopf.ConnectionInfo, *, source: str = "given credentials") -> KubeLogin:
        """Always these credentials (for tests and embedding)."""
        return cls(source=source, server=info.server, read=lambda _: info)


def find_login(*, service_account: Path = SERVICE_ACCOUNT_DIR) -> KubeLogin:
    """The pod's service account when present, else the kubeconfig; ConfigError naming what was looked for.

    Reads ``KUBECONFIG``, ``HOME`` and ``KUBERNETES_SERVICE_*`` from the process environment.
    """
    token = service_account / "token"
    if token.exists():
        login = _in_cluster(service_account)
        login.connection_info()  # fail now, in one line, if the token cannot be read
        return login
    kubeconfig = os.environ.get("KUBECONFIG", "")
    default = Path(os.path.expanduser(DEFAULT_KUBECONFIG))
    if kubeconfig.strip(os.pathsep + " ") or default.exists():
        return _from_kubeconfig(kubeconfig, default)
    raise ConfigError(
        "no Kubernetes API credentials found: not in a pod (no service account token at "
        f"{token}), KUBECONFIG is not set, and {DEFAULT_KUBECONFIG} ({default}) does not exist"
    )


def _in_cluster(directory: Path) -> KubeLogin:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if host and port:
        server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    else:
        server = "https://kubernetes.default.svc"
    token_path, ca_path, ns_path = directory / "token", directory / "ca.crt", directory / "namespace"

    def read(trust_env: bool) -> kopf.ConnectionInfo:
        try:
            token = token_path.read_text(encoding="utf-8").strip()
            namespace = ns_path.read_text(encoding="utf-8").strip() if ns_path.exists() else None
        except OSError as exc:
            raise ConfigError(
                f"service account token {token_path}: cannot read it: {exc.strerror or exc}"
            ) from None
        if not token:
            raise ConfigError(f"service account token {token_path} is empty")
        return kopf.ConnectionInfo(
            server=server,
            ca_path=str(ca_path) if ca_path.exists() else None,
            token=token,
            default_namespace=namespace or None,
            trust_env=trust_env,
            priority=IN_CLUSTER_PRIORITY,
        )

    return KubeLogin(source=f"service account token {token_path}", server=server, read=read)


def _from_kubeconfig(kubeconfig: str, default: Path) -> KubeLogin:
    where = f"KUBECONFIG ({kubeconfig})" if kubeconfig.strip(os.pathsep + " ") else f"{default}"

    def read(trust_env: bool) -> kopf.ConnectionInfo:
        settings = kopf.OperatorSettings()
        settings.networking.trust_env = trust_env
        try:
            info = kopf.login_with_kubeconfig(settings=settings)
        except OSError as exc:
            name = exc.filename or kubeconfig
            raise ConfigError(f"{where}: cannot read {name}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not valid YAML: {_one_line(exc)}") from None
        except kopf.LoginError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except KeyError as exc:
            raise ConfigError(
                f"{where}: the current context names a cluster, user or context {exc} that is not defined"
            ) from None
        except (AttributeError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: not a valid kubeconfig: {_one_line(exc)}") from None
        if info is None or not info.server:
            raise ConfigError(f"{where}: the current context's cluster has no server")
        return info

    info = read(False)
    return KubeLogin(source=f"kubeconfig {where}", server=info.server, read=read)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
