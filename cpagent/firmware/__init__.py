"""Firmware Management I/O: diagnostics bundles, FTP/HTTP(S) transfers, the install command."""
