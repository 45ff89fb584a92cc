"""Run the bench central system as `python -m cpagent.csms` (same arguments as `cpagent csms`)."""

from cpagent.csms.command import main

raise SystemExit(main())
