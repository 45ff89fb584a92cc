"""Bench central system: a small OCPP 1.6 CSMS built on cpagent.core in the central role."""
