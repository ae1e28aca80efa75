"""Redeliver: the ``argoai redeliver`` job that recovers failed webhook deliveries (GitHub never does).

Owns its Protocols (the App's delivery log, its durable state, its run lock); adapters implement them.
"""
