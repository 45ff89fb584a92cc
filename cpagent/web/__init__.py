"""The local read-only web page: live connector view, session history with plots, /metrics."""

from cpagent.web.access import WebConfigError
from cpagent.web.data import SessionsSource, StatusSource
from cpagent.web.server import WebServer

__all__ = ["SessionsSource", "StatusSource", "WebConfigError", "WebServer"]
