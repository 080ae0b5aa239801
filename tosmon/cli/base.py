"""The command group, the options commands share, and the translation of errors to exit codes."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from tosmon import __version__
from tosmon.errors import ConfigError, ExitCode, LockedError, NotifyError, StoreError, TosmonError
from tosmon.store.files import write_atomic

EXIT_CODES = {
    ExitCode.OK: "nothing changed / the texts are equal",
    ExitCode.CHANGED: "a document is new or changed / the texts differ",
    ExitCode.FLAGGED: "a new clause was flagged",
    ExitCode.DOCUMENT_FAILED: "some documents failed; the others were checked",
    ExitCode.CONFIG: "invalid watchlist; nothing was fetched",
    ExitCode.USAGE: "wrong arguments or unreadable input file",
    ExitCode.STORE: "the snapshot store is damaged or not writable",
    ExitCode.LOCKED: "another run holds the store",
    ExitCode.NOTIFY: "a report or notification could not be sent (kept in the outbox)",
    ExitCode.OUTPUT: "the output could not be written (disk full?)",
    ExitCode.INTERNAL: "a bug in tosmon (--debug shows the traceback)",
    ExitCode.INTERRUPTED: "stopped by Ctrl-C",
    ExitCode.PIPE_CLOSED: "the reader of the output went away (| head)",
}
EXIT_CODES_HELP = "\n".join(
    f"  {code.value:<3} {code.name.lower().replace('_', ' ')}: {text}" for code, text in EXIT_CODES.items()
)


# `tosmon --help` lists the commands in these groups, in this order (as the README does); a command in
# none of them is listed under "Other commands".
COMMAND_SECTIONS = {
    "Checking": ("check", "demo", "schedule", "verify"),
    "Managing the watchlist": ("add", "list", "rename"),
    "Looking at a page or two files": ("extract", "diff"),
    "History": ("history", "show", "backfill", "import-ota-versions", "reextract", "import-ota"),
    "Sharing what was found": ("report", "feed", "export", "site", "email", "notify"),
}


def summary(command: click.Command) -> str:
    """A command's first sentence, whole."""
    return command.get_short_help_str(limit=10_000)


class TosmonGroup(click.Group):
    """Every way a command can end maps to one documented exit code.

    click's own usage errors exit 2, which is tosmon's FLAGGED: they exit USAGE instead. An
    unexpected exception is a bug: one line and INTERNAL, not Python's 1 (CHANGED), so cron and
    systemd never take a crash for a result. A closed stdout (`tosmon history | head -1`) ends
    quietly with PIPE_CLOSED, as a shell would report a program killed by SIGPIPE.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """`--debug` anywhere on the line (`tosmon check --debug`), as people type it after a failure."""
        if "--debug" in args and "--" not in args[: args.index("--debug")]:
            args = ["--debug", *(a for a in args if a != "--debug")]
        return super().parse_args(ctx, args)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
            sys.stdout.flush()  # so that a failed write is reported here, not by the interpreter at exit
        except click.ClickException as error:
            error.show()
            sys.exit(ExitCode.USAGE)
        except click.Abort:
            click.echo("Interrupted.", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except OSError as error:
            if not _output_error(error):
                raise
            sys.exit(_output_failed(error))
        sys.exit(result if isinstance(result, int) else ExitCode.OK)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands in the README's groups, each with its whole first sentence (click cuts at 45
        characters, mid-sentence)."""
        commands = {name: self.get_command(ctx, name) for name in self.list_commands(ctx)}
        listed = {name for names in COMMAND_SECTIONS.values() for name in names}
        sections = [*COMMAND_SECTIONS.items(), ("Other commands", tuple(sorted(set(commands) - listed)))]
        width = max(map(len, commands), default=0)  # one column for every section
        for title, names in sections:
            rows = [
                (name.ljust(width), summary(command))
                for name in names
                if (command := commands.get(name)) is not None and not command.hidden
            ]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OSError as error:
            if _output_error(error):
                sys.exit(_output_failed(error))
            _internal_error(ctx, error)
        except Exception as error:
            _internal_error(ctx, error)


# What a failed write to stdout raises; a file tosmon writes itself names the file (`filename`), and
# network errors are translated where they occur: such an error reaching the top is the output's.
OUTPUT_ERRORS = {errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def _output_error(error: OSError) -> bool:
    return error.errno in OUTPUT_ERRORS and error.filename is None


def _output_failed(error: OSError) -> ExitCode:
    """Say once why the output stopped (nothing when its reader left), and keep the interpreter from
    trying again at exit: what is still buffered goes to /dev/null."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    if error.errno == errno.EPIPE:
        return ExitCode.PIPE_CLOSED
    click.echo(f"Error: cannot write the output: {error.strerror or error}", err=True)
    return ExitCode.OUTPUT


def _internal_error(ctx: click.Context, error: Exception) -> NoReturn:
    if ctx.params.get("debug"):
        traceback.print_exception(error)
    message = " ".join(str(error).split())
    hint = "" if ctx.params.get("debug") else " (TOSMON_DEBUG=1 or tosmon --debug shows the traceback)"
    click.echo(
        f"internal error: {type(error).__name__}{': ' + message if message else ''}; please report it{hint}",
        err=True,
    )
    sys.exit(ExitCode.INTERNAL)


@click.group(
    cls=TosmonGroup,
    epilog="\b\nExit codes:\n" + EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="tosmon")
@click.option(
    "--debug",
    is_flag=True,
    envvar="TOSMON_DEBUG",
    help="On an internal error, print the traceback too (also: TOSMON_DEBUG=1).",
)
def main(debug: bool) -> None:
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


def after_run_options(when: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--no-notify and --site, shared by the commands that check (`check`, `schedule`); `when` ends the help."""

    def add(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--site",
            "site",
            type=click.Path(path_type=Path, file_okay=False),
            help=f"Rebuild the static site (`tosmon site`) in this directory {when}.",
        )(command)
        return click.option(
            "--no-notify",
            is_flag=True,
            help="Do not send to the watchlist's `notify:` channels (sent by default when it lists any).",
        )(command)

    return add


def wait_option(
    default: float = 10.0, text: str = "Seconds to wait for another run holding the store."
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--wait: how long a command that writes to the store waits for another run holding it."""
    return click.option("--wait", type=float, default=default, show_default=True, help=text)


def store_path(watchlist: Path, snapshots: Path | None) -> Path:
    return snapshots if snapshots is not None else watchlist.parent / "snapshots"


def write_output(path: Path, data: bytes) -> None:
    """A command's `-o FILE`: a regular file is replaced whole (never half written); a symbolic link
    keeps pointing where it did; a device or a pipe (/dev/stdout, a FIFO) is written into, never
    replaced by a file. Raise TosmonError, in one line, when it cannot be written."""
    if not path.exists() or path.is_file():  # both follow a symbolic link
        try:
            write_atomic(Path(os.path.realpath(path)) if path.is_symlink() else path, data)
        except StoreError as error:
            raise TosmonError(str(error)) from None
        return
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError as error:
        raise TosmonError(f"{path}: cannot write: {error.strerror or error}") from None
