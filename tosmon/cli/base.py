"""The command group, the options commands share, and the translation of errors to exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from tosmon import __version__
from tosmon.errors import ConfigError, ExitCode, LockedError, NotifyError, StoreError, TosmonError

EXIT_CODES_HELP = "\n".join(
    f"  {code.value}  {code.name.lower().replace('_', ' ')}: {doc}"
    for code, doc in (
        (ExitCode.OK, "nothing changed / the texts are equal"),
        (ExitCode.CHANGED, "a document is new or changed / the texts differ"),
        (ExitCode.FLAGGED, "a new clause was flagged"),
        (ExitCode.DOCUMENT_FAILED, "some documents failed; the others were checked"),
        (ExitCode.CONFIG, "invalid watchlist; nothing was fetched"),
        (ExitCode.USAGE, "wrong arguments or unreadable input file"),
        (ExitCode.STORE, "the snapshot store is damaged or not writable"),
        (ExitCode.LOCKED, "another run holds the store"),
        (ExitCode.NOTIFY, "a report or notification could not be sent (kept in the outbox)"),
    )
)


class TosmonGroup(click.Group):
    """click's own usage errors exit 2, which is tosmon's FLAGGED: map them to USAGE instead."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as error:
            error.show()
            sys.exit(ExitCode.USAGE)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(ExitCode.USAGE)
        sys.exit(result if isinstance(result, int) else ExitCode.OK)


@click.group(
    cls=TosmonGroup,
    epilog="\b\nExit codes:\n" + EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="tosmon")
def main() -> None:
    """Watch the terms of service of online platforms and flag new AI, training and licensing clauses."""


def fail(message: str, code: ExitCode) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn tosmon's exceptions into one clean stderr line each and the documented exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as error:
            for problem in error.problems:
                click.echo(str(problem), err=True)
            sys.exit(ExitCode.CONFIG)
        except LockedError as error:
            fail(str(error), ExitCode.LOCKED)
        except StoreError as error:
            fail(str(error), ExitCode.STORE)
        except NotifyError as error:
            fail(str(error), ExitCode.NOTIFY)
        except TosmonError as error:
            fail(str(error), ExitCode.USAGE)

    return wrapper


watchlist_option = click.option(
    "--watchlist",
    "watchlist",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("watchlist.yaml"),
    show_default=True,
    help="The watchlist file.",
)


def store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--watchlist and --snapshots, shared by every command that reads the store."""
    command = click.option(
        "--snapshots",
        "snapshots",
        type=click.Path(path_type=Path, file_okay=False),
        help="The snapshot store [default: snapshots/ beside the watchlist].",
    )(command)
    return watchlist_option(command)


def wait_option(
    default: float = 10.0, text: str = "Seconds to wait for another run holding the store."
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--wait: how long a command that writes to the store waits for another run holding it."""
    return click.option("--wait", type=float, default=default, show_default=True, help=text)


def store_path(watchlist: Path, snapshots: Path | None) -> Path:
    return snapshots if snapshots is not None else watchlist.parent / "snapshots"
