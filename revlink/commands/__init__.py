"""Subcommands of ``revlink``, one module per area; ``revlink.cli`` assembles them."""
