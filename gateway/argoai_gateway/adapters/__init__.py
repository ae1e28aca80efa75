"""Adapters of the gateway: the only modules that import client libraries such as nats."""
