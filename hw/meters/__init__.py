"""Energy meters: SDM register maps, the Modbus RTU driver, a poller and simulated twins."""
