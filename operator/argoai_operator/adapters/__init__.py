"""The operator's adapters: the only operator modules that talk to NATS and to the Kubernetes API directly."""
