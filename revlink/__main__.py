"""``python -m revlink`` runs the ``revlink`` command."""

from revlink.cli import main

main()
