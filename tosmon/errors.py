"""The exceptions tosmon raises, and the exit codes the command line maps them to.

    TosmonError
     ├── ConfigError      the watchlist is wrong (carries every problem found, with its place)
     ├── FetchError       a document could not be fetched (one document, never the whole run)
     ├── ExtractError     a page gave no usable text
     ├── StoreError       the snapshot store is unreadable, damaged or locked
     │    └── LockedError another run holds the store
     └── NotifyError      a report could not be delivered

Third-party exceptions are translated where they occur; no other module imports httpx's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every command; documented in the README and in `tosmon --help`."""

    OK = 0  # nothing changed (check), texts are equal (diff)
    CHANGED = 1  # a document changed or was new (check); the texts differ (diff)
    FLAGGED = 2  # at least one new clause was flagged (check)
    DOCUMENT_FAILED = 3  # some documents could not be checked; the others were
    CONFIG = 4  # the watchlist is invalid: nothing was fetched
    USAGE = 5  # wrong command-line arguments or an unreadable input file
    STORE = 6  # the snapshot store is damaged or cannot be written
    LOCKED = 7  # another tosmon run holds the store
    NOTIFY = 8  # the e-mailed report or a notification could not be sent (it waits in the outbox)
    OUTPUT = 9  # the output could not be written (disk full, -o FILE not writable)
    INTERNAL = 70  # a bug in tosmon: an unexpected error (EX_SOFTWARE of sysexits.h)
    INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT, as a shell reports it)
    PIPE_CLOSED = 141  # the reader of the output went away (`| head`): 128 + SIGPIPE, as a shell reports it


class TosmonError(Exception):
    """Base of every error tosmon reports to its user."""


@dataclass(frozen=True)
class Problem:
    """One problem in a configuration file, with the place it was found (line 0: the whole file)."""

    file: str
    line: int
    column: int
    where: str
    what: str

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        place = f"{self.line}:{self.column}:" if self.line else ""  # line 0: the file as a whole
        return f"{self.file}:{place} {where}{self.what}"


class ConfigError(TosmonError):
    """The watchlist is invalid; `problems` lists every problem at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class FetchError(TosmonError):
    """A document could not be fetched; `transient` failures are worth retrying; `status` is the HTTP one."""

    def __init__(
        self,
        reason: str,
        *,
        transient: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        self.status = status
        super().__init__(reason)


class ExtractError(TosmonError):
    """A fetched page gave no usable legal text."""


class StoreError(TosmonError):
    """The snapshot store cannot be read or written."""


class LockedError(StoreError):
    """Another tosmon run holds the store's lock."""


class NotifyError(TosmonError):
    """A report could not be delivered."""
