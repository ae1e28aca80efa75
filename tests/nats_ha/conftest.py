"""Fixtures of the NATS cluster tests: a real 3-node JetStream cluster on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from support.nats_cluster import NatsCluster, nats_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """A 3-node cluster shared by the tests of a module (each uses its own prefix; none kills a node)."""
    with nats_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """A 3-node cluster for one test, which may kill its nodes."""
    with nats_cluster(tmp_path_factory.mktemp("own-cluster")) as running:
        yield running


@pytest.fixture
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """A cluster of only 2 servers: too few for 3 replicas."""
    with nats_cluster(tmp_path_factory.mktemp("pair"), size=2) as running:
        yield running


@pytest.fixture
def prefix() -> str:
    """A stream prefix unique to this test."""
    return f"R{uuid.uuid4().hex[:10].upper()}"
