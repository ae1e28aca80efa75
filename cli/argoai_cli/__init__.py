"""The ``argoai`` command line: one subcommand per component, the all-in-one ``dev`` mode and ``review``."""
