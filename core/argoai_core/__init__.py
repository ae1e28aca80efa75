"""ArgoAI's shared core: settings, versioned message models, the error tree, logging and telemetry.

Nothing here imports a component (gateway, reviewer, operator, cli); only ``argoai_core.adapters``
imports client libraries such as nats-py.
"""
