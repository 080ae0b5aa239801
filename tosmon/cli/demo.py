"""`tosmon demo`: the first thing a newcomer runs; works offline."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
from rich.text import Text

from tosmon.check import check
from tosmon.cli.base import handle_errors, main
from tosmon.cli.console import make_console, render_run
from tosmon.demo import demo_site, demo_watchlist
from tosmon.errors import ExitCode
from tosmon.store import Store
from tosmon.watchlist import load_watchlist


@main.command("demo")
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo's watchlist and store in this folder instead of a temporary one.",
)
@handle_errors
def demo_command(keep: Path | None) -> None:
    """Watch a fictional music platform offline while its terms gain an AI-training clause."""
    console = make_console()
    with tempfile.TemporaryDirectory(prefix="tosmon-demo-") as temporary, demo_site() as site:
        folder = keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        watchlist_path = folder / "watchlist.yaml"
        watchlist_path.write_text(demo_watchlist(site.url), encoding="utf-8")
        config = load_watchlist(watchlist_path)
        store = Store(folder / "snapshots").open()

        console.print(Text.assemble(("Night 1", "bold"), f": checking Tunehaven's terms at {site.url}"))
        render_run(console, check(config.documents, store))
        console.print(
            Text.assemble(("\nNight 2", "bold"), ": the terms were quietly updated. Checking again…")
        )
        site.version = 1
        run = check(config.documents, store)
        render_run(console, run)
        if keep:
            console.print(f"\nExplore it: tosmon history --watchlist {watchlist_path}", style="dim")
        else:
            console.print(
                "\nRun `tosmon demo --keep DIR` to keep the demo's store and explore it.", style="dim"
            )
    sys.exit(ExitCode.OK if run.flags else ExitCode.CHANGED)
