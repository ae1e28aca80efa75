"""The living summary comment: the walkthrough and its estimates (pure), and the comment edited in place."""
