"""The process settings the gateway makes at start: open files up to the hard limit, and
large blocks given back to the system."""

from __future__ import annotations

import platform
import resource

from swan.adapters.descriptors import raise_descriptor_limit
from swan.adapters.memory import give_large_blocks_back


def test_the_open_file_limit_goes_up_to_the_hard_one():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and soft > 16:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft // 2, hard))
        limit = raise_descriptor_limit()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit
        assert limit == (hard if hard != resource.RLIM_INFINITY else limit)
        assert raise_descriptor_limit() == limit  # already there: nothing to do
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_large_blocks_are_given_back_where_glibc_allows():
    glibc = platform.libc_ver()[0] == "glibc"
    assert give_large_blocks_back() is glibc  # mallopt answers 1 when it took the setting
