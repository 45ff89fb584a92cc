"""EVSE controllers: the control pilot (IEC 61851-1) behind one interface, with twins."""
