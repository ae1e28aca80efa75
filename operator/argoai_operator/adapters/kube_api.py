"""Probing the Kubernetes API with the operator's own credentials: reachable, credentials accepted, CRD there.

Kopf retries failed API requests by itself but tells nothing about the API's health as a whole; this probe
asks the API server for the ReviewPolicy group's discovery document (readable by every authenticated
user), which answers three questions at once: does the server answer, are the credentials accepted, and is
the CRD installed. With peering it also checks that Kopf's peering CRD is there: without it Kopf pauses,
silently, until it appears.
"""

from __future__ import annotations

import httpx
import kopf

from argoai_core.errors import UnavailableError
from argoai_operator.login import KubeLogin

GROUP_VERSION = "argoai.dev/v1alpha1"
PLURAL = "reviewpolicies"
PEERING_GROUP_VERSION = "kopf.dev/v1"


class KubeApiProbe:
    """One GET of ``/apis/argoai.dev/v1alpha1`` per probe (and of ``/apis/kopf.dev/v1`` with peering), with
    the credentials read afresh each time. ``peering`` is the peering resource's plural, if any."""

    def __init__(self, login: KubeLogin, *, timeout: float = 3.0, peering: str | None = None) -> None:
        self._login = login
        self._timeout = timeout
        self._peering = peering
        self._info: kopf.ConnectionInfo | None = None
        self._client: httpx.AsyncClient | None = None

    async def _session(self) -> httpx.AsyncClient:
        info = self._login.connection_info()
        if self._client is None or info != self._info:  # e.g. a rotated service account token
            await self.close()
            self._client = httpx.AsyncClient(
                base_url=info.server,
                headers=info.as_http_headers(),
                verify=info.as_ssl_context(),
                proxy=info.proxy_url,
                trust_env=info.trust_env,
                timeout=self._timeout,
            )
            self._info = info
        return self._client

    async def probe(self) -> None:
        """Raise UnavailableError saying what is wrong, or return when the API serves ReviewPolicies."""
        client = await self._session()
        if not await self._serves(client, GROUP_VERSION, PLURAL):
            raise UnavailableError(f"the ReviewPolicy CRD ({PLURAL}.argoai.dev) is not installed")
        if self._peering and not await self._serves(client, PEERING_GROUP_VERSION, self._peering):
            raise UnavailableError(
                f"the Kopf peering CRD ({self._peering}.kopf.dev) is not installed: with peering, Kopf "
                "waits for it and handles nothing (install it, or run with --standalone)"
            )

    async def _serves(self, client: httpx.AsyncClient, group_version: str, plural: str) -> bool:
        """Whether discovery lists ``plural`` in ``group_version``; UnavailableError when it cannot tell."""
        try:
            response = await client.get(f"/apis/{group_version}")
        except httpx.TimeoutException:
            raise UnavailableError(f"no answer within {self._timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise UnavailableError(f"{type(exc).__name__}: {exc}") from None
        if response.status_code == 401:
            raise UnavailableError(f"401 Unauthorized: the credentials from {self._login.source} are refused")
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise UnavailableError(f"HTTP {response.status_code} for /apis/{group_version}")
        return plural in {resource.get("name") for resource in response.json().get("resources", [])}

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
