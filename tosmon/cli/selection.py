"""Which documents a command works on: those named on the command line, minus those that look renamed."""

from __future__ import annotations

import difflib
import shlex
from pathlib import Path

import click

from tosmon.cli.base import fail
from tosmon.errors import ExitCode
from tosmon.models import Document
from tosmon.store.files import Store
from tosmon.store.history import find_document


def chosen(
    documents: tuple[Document, ...], names: tuple[str, ...], services: tuple[str, ...], watchlist: Path
) -> tuple[Document, ...]:
    """The documents named on the command line, in watchlist order; all of them when none is named."""
    if not names and not services:
        return documents
    known = {d.service for d in documents}
    for service in services:
        if service not in known:
            close = difflib.get_close_matches(service, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            fail(f"unknown service {service!r} in {watchlist}{hint}", ExitCode.USAGE)
    wanted = set()
    for name in names:
        variants = {d.id for d in documents if d.variant and f"{d.service}/{d.name}" == name}
        if variants and not any(d.id == name for d in documents):  # all of them, to compare them
            wanted |= variants
            continue
        if name in known and not any(d.id == name for d in documents):
            fail(
                f"{name!r} is a service: use --service {shlex.quote(name)}, or name a document",
                ExitCode.USAGE,
            )
        wanted.add(find_document(list(documents), name).id)
    return tuple(d for d in documents if d.id in wanted or d.service in services)


def skip_renamed(
    documents: tuple[Document, ...], watched: tuple[Document, ...], store: Store
) -> tuple[tuple[Document, ...], bool]:
    """`documents` without those that look renamed, each with a warning on stderr; and whether any was."""
    renamed = renamed_documents(documents, watched, store)
    for document, stored in renamed.items():
        click.echo(
            f"warning: {document.id!r} has the URL of stored {stored.id!r}: did you rename it? "
            f"`tosmon rename {shlex.quote(stored.id)} {shlex.quote(document.id)}` moves its history; "
            f"not checked until then (to start a new history instead, move {store.folder(stored)} out of the store)",
            err=True,
        )
    return tuple(d for d in documents if d not in renamed), bool(renamed)


def renamed_documents(
    documents: tuple[Document, ...], watched: tuple[Document, ...], store: Store
) -> dict[Document, Document]:
    """The documents without a history whose URL is that of a stored document no longer watched:
    most likely renamed in the watchlist, which would start their history again."""
    new = [d for d in documents if not store.known(d)]
    if not new:
        return {}
    ids = {d.id for d in watched}
    orphans = {d.url: d for d in store.documents() if d.id not in ids}
    # a document given variants (or another variant) keeps its stored history where it is: no rename
    return {
        d: orphans[d.url]
        for d in new
        if d.url in orphans and (orphans[d.url].service, orphans[d.url].name) != (d.service, d.name)
    }
