"""`tosmon demo`: the first thing a newcomer runs; works offline."""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from rich.text import Text

from tosmon.check import check
from tosmon.cli.base import fail, handle_errors, main
from tosmon.cli.console import make_console, new_document_details, quoted, render_run
from tosmon.demo import PATH, PORT, demo_site, demo_watchlist
from tosmon.errors import ExitCode
from tosmon.store.files import Store, write_atomic
from tosmon.watchlist import load_watchlist


@main.command("demo")
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo's watchlist, store and pages in this folder, to explore them afterwards.",
)
@handle_errors
def demo_command(keep: Path | None) -> None:
    """Watch a fictional music platform offline while its terms gain an AI-training clause.

    Two nightly checks, a day apart, of terms served from this machine: the second one flags the
    new clause. Nothing is sent over the network.

    \b
    Example:
      tosmon demo --keep tosmon-demo
    """
    if keep is not None and (keep / "snapshots").exists():
        fail(f"{keep} already holds a demo store; give --keep a new folder", ExitCode.USAGE)
    console = make_console()
    night_two = datetime.now(UTC).replace(microsecond=0)
    night_one = night_two - timedelta(days=1)
    with (
        tempfile.TemporaryDirectory(prefix="tosmon-demo-") as temporary,
        demo_site(PORT if keep else 0) as site,
    ):
        folder = keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        watchlist_path = folder / "watchlist.yaml"
        watchlist_path.write_text(demo_watchlist(site.url, site.port if keep else None), encoding="utf-8")
        config = load_watchlist(watchlist_path)
        store = Store(folder / "snapshots").open()
        describe = new_document_details(store)

        console.print(
            Text.assemble(
                ("Night 1", "bold"), f", {night_one:%a %d %b}: checking Tunehaven's terms at {site.url}"
            )
        )
        render_run(console, check(config.documents, store, now=lambda: night_one), describe_new=describe)
        console.print(
            Text.assemble(
                ("\nNight 2", "bold"),
                f", {night_two:%a %d %b}: the terms were quietly updated. Checking again…",
            )
        )
        site.version = 1
        run = check(config.documents, store, now=lambda: night_two)
        render_run(console, run, describe_new=describe)
        if keep:
            write_atomic(folder / "pages" / PATH.lstrip("/"), site.pages[site.version])
    diff = f"tosmon diff {quoted(config.documents[0].id)}"
    if keep:
        steps = [
            (f"cd {quoted(str(keep))}", ""),
            ("tosmon history", "the two versions and their flags"),
            (diff, "what changed overnight"),
            ("tosmon site site", "a web page of it all: open site/index.html"),
        ]
        width = max(len(command) for command, _ in steps)
        lines = [f"  {command:<{width}}  # {why}" if why else f"  {command}" for command, why in steps]
        console.print("\nKept in " + str(keep) + ". Explore it there:\n" + "\n".join(lines), style="dim")
    else:
        console.print(
            "\nExplore it: `tosmon demo --keep DIR` keeps the store; then, in DIR, try `tosmon history`,\n"
            f"`{diff}` and `tosmon site site`.",
            style="dim",
        )
    sys.exit(ExitCode.OK if run.flags else ExitCode.CHANGED)
