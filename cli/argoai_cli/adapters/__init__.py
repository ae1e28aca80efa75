"""The CLI's own adapters: short probes of the NATS and Redis servers ``argoai dev`` is about to use."""
