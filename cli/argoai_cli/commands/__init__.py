"""One module per ``argoai`` subcommand; each imports its component only when run, so ``--help`` is fast."""
