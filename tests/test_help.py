"""`tosmon --help` and each command's: grouped, whole, with an example each; --json wherever a table is printed."""

from __future__ import annotations

import re

import click
import pytest

from tosmon.cli import main
from tosmon.cli.base import COMMAND_SECTIONS

# Commands whose output is a table or a list of records: each can print it as JSON instead.
TABLE_COMMANDS = ("check", "list", "history", "diff", "report", "verify", "backfill", "import-ota-versions")


def commands(group: click.Group = main, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        found[prefix + name] = command
        if isinstance(command, click.Group):
            found |= commands(command, f"{prefix}{name} ")
    return found


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_help_shows_an_example_of_it(tosmon, name: str) -> None:
    outcome = tosmon(*name.split(), "--help")
    assert outcome.code == 0
    example = re.search(r"\n  Examples?:\n((?:    .*\n)+)", outcome.stdout)
    assert example, outcome.stdout
    assert all(f"tosmon {name}" in line for line in example.group(1).splitlines())


def test_command_list_is_grouped_with_whole_summaries(tosmon) -> None:
    text = tosmon("--help").stdout
    flat = " ".join(text.split())
    for name, command in main.commands.items():
        first_sentence = " ".join((command.help or "").split("\n\n")[0].split())
        first_sentence = first_sentence.split(". ")[0].rstrip(".") + "."
        assert f"{name} {first_sentence}" in flat, name
    assert "..." not in text[text.index("Checking:") :]  # click cuts summaries with ...
    headings = [line[:-1] for line in text.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert headings[1 : 1 + len(COMMAND_SECTIONS)] == list(COMMAND_SECTIONS)


@pytest.mark.parametrize("name", TABLE_COMMANDS)
def test_every_table_command_has_json(name: str) -> None:
    options = {opt for param in main.commands[name].params for opt in getattr(param, "opts", ())}
    assert "--json" in options
