"""Subcommands of ``everscape``; each module: ``HELP``, ``add_arguments``, ``run``."""
