"""`tosmon rename`: give a document a new name and take its history with it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main, store_options, store_path, wait_option
from tosmon.errors import ExitCode, StoreError
from tosmon.models import Document
from tosmon.store.files import Store
from tosmon.store.history import find_document
from tosmon.watchlist import load_watchlist
from tosmon.watchlist_edit import editing, renamed_watchlist, write_watchlist


@main.command("rename")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@store_options
@wait_option()
@handle_errors
def rename_command(old: str, new: str, watchlist: Path, snapshots: Path | None, wait: float) -> None:
    """Rename a document, taking its history with it.

    OLD ('Service/Document type') becomes NEW in the watchlist and in the store.
    Its whole history (snapshots, versions, fetch state) moves with it, so the next check carries on
    from its latest version instead of starting again. NEW is 'Service/Document type', or only a
    document type to stay in OLD's service. The watchlist entry keeps its settings and comments.
    Refused if NEW is already watched or has a history. Renamed by hand in the watchlist already?
    Run it all the same: it moves the history.

    \b
    Example:
      tosmon rename "SoundCloud/Terms" "SoundCloud/Terms of Service"
    """
    with editing(watchlist):  # no `tosmon add` slips an edit in between reading and writing
        rename(old, new, watchlist, snapshots, wait)


def rename(old: str, new: str, watchlist: Path, snapshots: Path | None, wait: float) -> None:
    config = load_watchlist(watchlist) if watchlist.exists() else None
    watched = list(config.documents) if config else []
    root = store_path(watchlist, snapshots)
    store = Store(root).open() if (root / "tosmon-store.json").exists() else None
    stored = store.documents() if store else []
    source = find_document(watched + [d for d in stored if d.id not in {w.id for w in watched}], old)
    target = replace(
        source, **dict(zip(("service", "name"), split(new, source, watched + stored), strict=True))
    )
    if target.id == source.id:
        fail(f"{old!r} already has that name", ExitCode.USAGE)
    in_watchlist = any(d.id == source.id for d in watched)
    if any(d.id == target.id for d in watched) and in_watchlist:
        fail(f"{target.id} is already in {watchlist}: choose another name", ExitCode.USAGE)
    moving = store is not None and store.known(source)
    if moving and store.known(target) and store.folder(target) != store.folder(source):
        fail(
            f"{target.id} already has a history in {root}; rename that one first, or choose another name",
            ExitCode.USAGE,
        )
    text = (
        renamed_watchlist(watchlist, (source.service, source.name), (target.service, target.name))
        if in_watchlist
        else None
    )
    if moving:
        assert store is not None
        with store.lock(wait=wait):
            before = [v.name for v in store.versions(source)]
            folder = store.rename(source, target)
            try:
                after = [v.name for v in store.versions(target)]
                if after != before:
                    raise StoreError(f"{folder}: {len(after)} versions after the move, {len(before)} before")
                if text is not None:
                    write_watchlist(watchlist, text)
            except BaseException:
                store.rename(target, source)
                raise
        versions = f"{len(before)} version{'' if len(before) == 1 else 's'}"
        click.echo(f"moved the history of {source.id} ({versions}) to {target.id}: {folder}")
    elif text is not None:
        write_watchlist(watchlist, text)
    if text is not None:
        click.echo(f"renamed {source.id} to {target.id} in {watchlist}")
    elif not moving:
        fail(f"{source.id} is neither in {watchlist} nor in {root}: nothing to rename", ExitCode.USAGE)


def split(name: str, source: Document, known: list[Document]) -> tuple[str, str]:
    """(service, document type) of NEW: 'Service/Type' (the longest known service that fits), or a
    bare type in OLD's service."""
    services = sorted({d.service for d in known} | {source.service}, key=len, reverse=True)
    for service in services:
        if name.startswith(service + "/") and name[len(service) + 1 :]:
            return service, name[len(service) + 1 :]
    if "/" in name:
        service, _, kind = name.partition("/")
        if service and kind:
            return service, kind
        fail(f"NEW {name!r}: expected 'Service/Document type' or a document type", ExitCode.USAGE)
    return source.service, name
