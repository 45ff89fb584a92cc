"""Returning freed heap memory to the OS after the schema compiler ran."""

from __future__ import annotations

import platform

from cpagent.daemon import memory


def test_trim_works_where_the_c_library_is_glibc() -> None:
    assert memory.trim() is (platform.libc_ver()[0] == "glibc")
