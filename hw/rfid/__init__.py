"""RFID card readers: RDM6300 (125 kHz) and PN532 (13.56 MHz) drivers, their twins, a sim reader."""
