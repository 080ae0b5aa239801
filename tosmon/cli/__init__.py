"""The `tosmon` command line: parses options, calls the core, renders results, maps errors to exit codes.

Each command lives in its own module and registers itself on `main`.
"""

from __future__ import annotations

from tosmon.cli import (  # noqa: F401  (registers the commands)
    add,
    backfill,
    check,
    demo,
    diff,
    email,
    extract,
    history,
    listing,
    notify,
    ota,
    reextract,
    rename,
    report,
    schedule,
    verify,
)
from tosmon.cli.base import main

__all__ = ["main"]
