"""`tosmon add`: fetch a page once, show what would be recorded, and add it to the watchlist."""

from __future__ import annotations

import re
from pathlib import Path

import click

from tosmon.cli.base import fail, handle_errors, main, watchlist_option
from tosmon.errors import ExitCode, FetchError
from tosmon.extract.html import selector_problem
from tosmon.health import count_words
from tosmon.outputs.report import safe_text
from tosmon.trial import Trial, try_document
from tosmon.watchlist import FETCHERS, load_watchlist
from tosmon.watchlist_edit import add_documents, with_documents

FIRST_LINES = 5
LINE_WIDTH = 100


@main.command("add")
@click.argument("url")
@click.option("--service", required=True, metavar="NAME", help="The service, e.g. 'SoundCloud'.")
@click.option("--document", required=True, metavar="TYPE", help="The document type, e.g. 'Terms of Service'.")
@click.option("--select", multiple=True, metavar="CSS", help="CSS selector of the legal text (repeatable).")
@click.option("--remove", multiple=True, metavar="CSS", help="CSS selector of parts to drop (repeatable).")
@click.option(
    "--fetcher",
    type=click.Choice(FETCHERS),
    help="auto (the default: plain HTTP, the browser when the page needs it), http or browser (always render).",
)
@click.option("--dry-run", is_flag=True, help="Fetch and show, but do not change the watchlist.")
@click.option("--force", is_flag=True, help="Add the page even when it does not look like a legal document.")
@watchlist_option
@handle_errors
def add_command(
    url: str,
    service: str,
    document: str,
    select: tuple[str, ...],
    remove: tuple[str, ...],
    fetcher: str | None,
    dry_run: bool,
    force: bool,
    watchlist: Path,
) -> None:
    """Add a page to the watchlist, after fetching it once.

    URL becomes the --document of the --service.
    The page goes through the same fetch, extraction and health checks as `tosmon check`, and what
    would be recorded is shown (size, clause count, first lines); then the entry is appended to
    the watchlist (created if missing), its comments and layout kept. Nothing is recorded in the
    store: the next check records the first version. Nothing asks a question, so it runs in scripts:
    a page that cannot be fetched, or does not look like a document, is not added (exit 3) unless
    --force; --dry-run only shows.

    \b
    Example:
      tosmon add https://soundcloud.com/terms-of-use --service SoundCloud --document "Terms of Service"
    """
    if not re.match(r"https?://[^\s/?#]+", url, re.IGNORECASE):
        fail(f"URL {url!r}: expected an http(s) URL such as https://example.com/terms", ExitCode.USAGE)
    for option, css in [("--select", c) for c in select] + [("--remove", c) for c in remove]:
        problem = selector_problem(css)
        if problem:
            fail(f"{option} {css!r}: invalid CSS selector: {problem}", ExitCode.USAGE)
    name = f"{service}/{document}"
    if watchlist.exists() and any(d.id == name for d in load_watchlist(watchlist).documents):
        fail(
            f"{name} is already in {watchlist}: choose another --document, "
            "or rename the one there (`tosmon rename`)",
            ExitCode.USAGE,
        )
    settings: dict[str, object] = {"url": url}
    for key, values in (("select", select), ("remove", remove)):
        if values:
            settings[key] = values[0] if len(values) == 1 else list(values)
    if fetcher:
        settings["fetcher"] = fetcher
    entry = {service: {document: settings}}
    _, planned = with_documents(watchlist, entry)  # the document as the watchlist will read it
    try:
        trial = try_document(planned.find(name), planned.fetch)
    except FetchError as error:
        hint = "" if fetcher == "browser" else ", or try --fetcher browser"
        fail(f"{name}: {error.reason}: not added (check the URL{hint})", ExitCode.DOCUMENT_FAILED)
    show(trial)
    if trial.problem and not force:
        browser = "" if trial.document.fetcher == "browser" else ", try --fetcher browser"
        fail(
            f"{name}: {trial.problem}: not added (fix --select/--remove, which `tosmon extract` helps "
            f"to tune{browser}, or add it anyway with --force)",
            ExitCode.DOCUMENT_FAILED,
        )
    if dry_run:
        click.echo(f"not added to {watchlist} (--dry-run)", err=True)
        return
    add_documents(watchlist, entry)
    click.echo(f"added {name} to {watchlist}; the next `tosmon check` records its first version", err=True)


def show(trial: Trial) -> None:
    """What a check would record: where it came from, how much text, and how it starts."""
    snapshot, document = trial.snapshot, trial.document
    click.echo(f"{safe_text(document.id)}: {safe_text(document.url)} ({document.fetcher})")
    fetched = f"  fetched: HTTP {snapshot.status}, {snapshot.content_type or 'no content type'}, {len(snapshot.body):,} bytes"
    if snapshot.final_url != document.url:
        fetched += f", from {safe_text(snapshot.final_url)}"
    click.echo(fetched)
    if trial.plain is not None:
        click.echo(f"  rendered in the browser: plain HTTP gave no document ({safe_text(trial.plain)})")
    words = count_words(trial.text)
    clause = "clause" if trial.clauses == 1 else "clauses"
    click.echo(f"  text: {words:,} word{'' if words == 1 else 's'}, {trial.clauses:,} {clause}")
    lines = [line.strip() for line in trial.text.splitlines() if line.strip()][:FIRST_LINES]
    for line in lines:
        shown = line if len(line) <= LINE_WIDTH else line[: LINE_WIDTH - 1] + "…"
        click.echo(f"  | {safe_text(shown)}")
    if trial.problem:
        click.echo(f"  problem: {trial.problem}")
