"""The daemon: one owner thread with an inbox, control socket, systemd notify, logging, wiring."""
