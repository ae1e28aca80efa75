"""ArgoAI webhook gateway: verifies GitHub webhook deliveries and stores them durably in NATS JetStream."""
