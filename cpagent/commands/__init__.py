"""The foundation's subcommands; each module has `register(subparsers)` (see cpagent/cli.py)."""
