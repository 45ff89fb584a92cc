"""The name `cpagent/cli.py` imports for the `csms` subcommand; the parser lives in command.py."""

from cpagent.csms.command import register

__all__ = ["register"]
