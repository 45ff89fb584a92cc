"""Validators generated from cpagent/core/schemas/v16/ by tools/gen_validators.py."""
