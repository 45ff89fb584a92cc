"""Sans-I/O OCPP-J core."""
