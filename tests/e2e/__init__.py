"""End-to-end tests: the real daemon process against the public `ocpp` central system."""
