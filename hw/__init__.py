"""Hardware drivers for a charger: relay, inputs, meters, card readers, and simulated twins.

Knows nothing of OCPP and never imports `cpagent`.
"""
