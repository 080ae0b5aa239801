"""The README documents every command and every exit code."""

from __future__ import annotations

from pathlib import Path

import click

from tosmon.cli import main
from tosmon.errors import ExitCode

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "tosmon") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix} {name}"))
    return names


def test_every_command_is_documented_in_the_readme() -> None:
    missing = [name for name in _commands(main) if f"`{name}" not in README]
    assert missing == []


def test_every_exit_code_is_documented_in_the_readme_and_help(tosmon) -> None:
    help_text = tosmon("--help").stdout
    for code in ExitCode:
        assert f"| {code.value} |" in README
        assert f"  {code.value:<3} {code.name.lower().replace('_', ' ')}:" in help_text


def test_wrong_arguments_exit_with_the_usage_code_not_the_flagged_code(tosmon) -> None:
    outcome = tosmon("check", "--no-such-option")
    assert outcome.code == ExitCode.USAGE
    assert outcome.stderr.splitlines()[-1] == "Error: No such option '--no-such-option'."
