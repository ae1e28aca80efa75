"""Comment commands: their grammar (pure), who may give them (trust), and carrying one out (the runner).

The runner may use the rest of the conversation stage (record, state, replies, check runs, feedback); the
grammar and trust modules use only ``ports`` and each other.
"""
