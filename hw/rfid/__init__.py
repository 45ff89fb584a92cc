"""RFID card readers: the RDM6300 frame parser and serial driver, and a simulated reader."""
