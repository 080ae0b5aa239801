"""Messages in plain language: what the system or a library says, turned into words a reader acts on."""

from __future__ import annotations

import errno
import socket

import pytest

from tosmon.extract.text import plural
from tosmon.fetch.http import plain_os_error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "cannot resolve host name tunehaven.example: no such host (a typo, or no DNS?)",
        ),
        (
            socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
            "cannot resolve host name tunehaven.example: DNS did not answer (no network?)",
        ),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "the network is unreachable (no network?)"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "connection refused"),
        (OSError(errno.EACCES, "Permission denied"), "Permission denied"),
    ],
    ids=["no such host", "no DNS answer", "no network", "refused", "other"],
)
def test_network_errors_are_said_in_plain_words(error: OSError, expected: str) -> None:
    assert plain_os_error(error, "tunehaven.example") == expected
    assert "[Errno" not in plain_os_error(error)


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "0 words"), (1, "1 word"), (2, "2 words"), (12_345, "12,345 words")]
)
def test_counts_agree_with_their_noun(count: int, expected: str) -> None:
    assert plural(count, "word") == expected
