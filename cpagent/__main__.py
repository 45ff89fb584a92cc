"""Run the command line as `python -m cpagent`."""

from cpagent.cli import main

raise SystemExit(main())
