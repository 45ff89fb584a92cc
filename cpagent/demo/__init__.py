"""`cpagent demo`: one charging session between the bench CSMS and a simulated chargepoint."""

from cpagent.demo.command import register, run

__all__ = ["register", "run"]
