"""``python -m argoai_cli``: the same as the ``argoai`` command."""

from argoai_cli.main import main

main()
