"""Tests for cpagent.core."""
