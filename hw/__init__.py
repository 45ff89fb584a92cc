"""Hardware drivers for a charger: relay, inputs, meters, card readers, and simulated twins."""

# A bottom layer: knows nothing of OCPP and never imports `cpagent` (tests/hw/test_layering.py).
