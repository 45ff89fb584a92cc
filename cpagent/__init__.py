"""cpagent: a chargepoint agent daemon linking an OCPP-J core to charger hardware."""

__version__ = "0.1.0"
