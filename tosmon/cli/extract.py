"""`tosmon extract`: what tosmon would record from a page, to try it before watching it.

A local file, a live page (fetched as `check` would, saying whether the browser was needed) or a
watched document's latest stored raw snapshot, extracted with its rules. Nothing is recorded.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import click

from tosmon.check import try_stored
from tosmon.cli.base import fail, handle_errors, main, store_options, store_path
from tosmon.cli.diff import read_text, remove_option, selector_option
from tosmon.errors import ExitCode, FetchError
from tosmon.extract.html import selector_problem
from tosmon.fetch.http import FetchSettings
from tosmon.models import Document
from tosmon.outputs.report import safe_text
from tosmon.store.files import Store
from tosmon.trial import try_document
from tosmon.watchlist import FETCHERS, load_watchlist

URL = re.compile(r"https?://[^\s/?#]+", re.IGNORECASE)


@main.command("extract")
@click.argument("source", metavar="FILE|URL|DOCUMENT")
@selector_option
@remove_option
@click.option(
    "--fetcher",
    type=click.Choice(FETCHERS),
    help="How to fetch a URL: http, browser, or auto (plain HTTP, the browser if the page needs it) [default: auto].",
)
@store_options
@handle_errors
def extract_command(
    source: str,
    select: tuple[str, ...],
    remove: tuple[str, ...],
    fetcher: str | None,
    watchlist: Path,
    snapshots: Path | None,
) -> None:
    """Print the text tosmon would record, without recording anything: to tune selectors.

    FILE is a local page. URL is fetched as `tosmon check` would (stderr says whether the browser
    was needed). DOCUMENT ("Service/Document type") is a watched document: its latest stored raw
    snapshot, extracted with the watchlist's rules (or --select/--remove, to try others). A health
    problem (an error page, a bot challenge, no text) is said on stderr, with exit code 3.

    \b
    Examples:
      tosmon extract saved-terms.html --select '#content' --remove .cookie-banner
      tosmon extract https://soundcloud.com/terms-of-use --select main
    """
    for css in (*select, *remove):
        problem = selector_problem(css)
        if problem:
            fail(f"invalid CSS selector {css!r}: {problem}", ExitCode.USAGE)
    if re.match(r"https?:", source, re.IGNORECASE):
        if not URL.match(source):
            fail(f"{source!r}: expected an http(s) URL with a host", ExitCode.USAGE)
        _extract_url(source, select, remove, fetcher or "auto")
        return
    if fetcher is not None:
        fail("--fetcher applies to a URL, not to a local file or a stored document", ExitCode.USAGE)
    if Path(source).exists() or not watchlist.is_file():
        click.echo(safe_text(read_text(Path(source), select, remove)), nl=False)
        return
    _extract_stored(source, select, remove, watchlist, snapshots)


def _extract_url(url: str, select: tuple[str, ...], remove: tuple[str, ...], fetcher: str) -> None:
    document = Document(urlsplit(url).hostname or url, "page", url, select, remove, fetcher=fetcher)  # type: ignore[arg-type]
    try:
        trial = try_document(document, FetchSettings())
    except FetchError as error:
        fail(f"{url}: {error.reason}", ExitCode.DOCUMENT_FAILED)
    if trial.plain is not None:
        how = f"rendered in the browser: plain HTTP gave no document ({trial.plain})"
    else:
        how = "fetched in the browser" if trial.rendered else "fetched over plain HTTP"
    click.echo(how, err=True)
    _print(trial.text, trial.problem)


def _extract_stored(
    document_id: str,
    select: tuple[str, ...],
    remove: tuple[str, ...],
    watchlist: Path,
    snapshots: Path | None,
) -> None:
    config = load_watchlist(watchlist)
    try:
        document = config.find(document_id)
    except KeyError:
        fail(
            f"{document_id}: no such file, URL or document of {watchlist} "
            "(documents are named 'Service/Document type')",
            ExitCode.USAGE,
        )
    if select or remove:
        document = replace(
            document,
            select=select or document.select,
            remove=remove or document.remove,
            parts=tuple(
                replace(part, select=select or part.select, remove=remove or part.remove)
                for part in document.parts
            ),
        )
    root = store_path(watchlist, snapshots)
    trial = try_stored(Store(root), document) if root.is_dir() else None
    if trial is None:
        fail(
            f"{document.id}: no page of it is stored in {root} yet: run `tosmon check` first", ExitCode.USAGE
        )
    for meta in trial.snapshots:
        click.echo(f"from {meta['file']} (fetched {meta['fetched_at']})", err=True)
    _print(trial.text, trial.problem.reason if trial.problem else None)


def _print(text: str, problem: str | None) -> None:
    click.echo(safe_text(text), nl=False)
    if problem is not None:
        click.echo(
            f"problem: {problem}: tosmon check would keep the page as evidence, not record it",
            err=True,
        )
        sys.exit(ExitCode.DOCUMENT_FAILED)
