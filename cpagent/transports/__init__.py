"""Transports: move OCPP-J text frames between the core and a central system."""
