"""Edit watchlist.yaml from commands (`add`, `rename`, `import-ota --into`) without touching the rest.

A user's watchlist carries their comments, blank lines, order and quoting. Loading it into objects
and dumping it again loses some of that (PyYAML) or moves comments to the wrong entry (ruamel.yaml
attaches a comment to the node before it, so a document added at the end of a service lands below
the comment that introduces the next service). So an edit here is a splice: the YAML is parsed only
to learn where each node starts and ends, the new text is rendered on its own, in the file's
indentation and style (block or flow), and inserted at that place. Every byte outside the added or
replaced part stays as it was.

The result is checked before it is written: it must pass the strict loader (`tosmon.watchlist`) and
hold exactly the documents it held before plus the new ones. It is written atomically: a reader sees
the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from tosmon.errors import ConfigError, Problem
from tosmon.watchlist import Watchlist, parse_watchlist

Settings = Mapping[str, object]
NEW_WATCHLIST = "# tosmon watchlist: services -> service name -> document type -> settings (see the README)\n"


def add_documents(path: Path, documents: Mapping[str, Mapping[str, Settings]]) -> None:
    """Append documents (service -> document type -> settings) to the watchlist at `path`.

    A new document of an existing service goes at the end of that service; a new service at the
    end of `services:`. A document already in the watchlist is refused (ConfigError), as is any
    result the strict loader would refuse; then nothing is written. A missing file is created.
    """
    with editing(path):
        text, _ = with_documents(path, documents)
        _write(path, text)


@contextlib.contextmanager
def editing(path: Path) -> Iterator[None]:
    """Hold the watchlist's folder while reading, changing and writing the file, so that two
    commands editing it at once (`tosmon add` in a parallel script) do not lose each other's change.
    The folder, not the file, is locked: the file is replaced by each write."""
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the lock


def with_documents(path: Path, documents: Mapping[str, Mapping[str, Settings]]) -> tuple[str, Watchlist]:
    """The text `add_documents` would write, and the watchlist it reads as, without writing it."""
    text, before = _read(path)
    if before is None:
        plain = {"services": {service: dict(entries) for service, entries in documents.items()}}
        text = NEW_WATCHLIST + "".join(line + "\n" for line in _block(plain, 0, _Style(2, 2, "\n")))
    else:
        text = _insert(text, path, documents)
    after = _check(text, path)
    expected = [d.id for d in before.documents] if before else []
    added = [f"{service}/{name}" for service, entries in documents.items() for name in entries]
    # a document declared with variants (its own, its service's or the defaults') is one per variant
    bases = [f"{d.service}/{d.name}" for d in after.documents]
    kept = [d.id for d, base in zip(after.documents, bases, strict=True) if base not in added]
    if kept != expected or not set(added) <= set(bases):
        # a guard against a splice that changed more than it should; never expected to fire
        raise ConfigError(
            [Problem(str(path), 1, 1, "", "could not add the documents safely: nothing was written")]
        )
    return text, after


def renamed_watchlist(path: Path, old: tuple[str, str], new: tuple[str, str]) -> str:
    """The text of the watchlist at `path` with document `old` (service, name) renamed `new`, checked
    by the strict loader but not written (`write_watchlist` does that), so that a caller can first
    move what goes with it.

    Within a service only the key changes. To another service the entry moves, with its settings
    and comments as written, to the end of that service (a service left without documents goes
    too). Refused (ConfigError) if `old` is missing or `new` exists.
    """
    text, before = _read(path)
    if before is None:
        raise ConfigError([Problem(str(path), 1, 1, "", "cannot read the watchlist: no such file")])
    services = _services(_tree(text, path), path)
    service_node = _child(services, old[0])
    key = _key(service_node, old[1]) if isinstance(service_node, yaml.MappingNode) else None
    if key is None:
        raise ConfigError([Problem(str(path), 1, 1, "", f"{'/'.join(old)} is not in the watchlist")])
    assert isinstance(service_node, yaml.MappingNode)
    _refuse_existing(services, path, *new)
    if old[0] == new[0]:
        text = text[: key.start_mark.index] + _scalar(new[1]) + text[key.end_mark.index :]
    else:
        text = _move(text, path, services, service_node, key, new)
    after = _check(text, path)
    # every document as before, `old` (each of its variants, if it has any) under its new names
    expected = [
        replace(d, service=new[0], name=new[1]).id if (d.service, d.name) == old else d.id
        for d in before.documents
    ]
    if sorted(expected) != sorted(d.id for d in after.documents):
        raise ConfigError([Problem(str(path), 1, 1, "", "could not rename safely: nothing was written")])
    return text


def _move(
    text: str,
    path: Path,
    services: yaml.MappingNode,
    service_node: yaml.MappingNode,
    key: yaml.Node,
    new: tuple[str, str],
) -> str:
    """`text` with the entry `key` of `service_node` moved to the end of service `new[0]`, as `new[1]`."""
    target = _child(services, new[0])
    if service_node.flow_style or (isinstance(target, yaml.MappingNode) and target.flow_style):
        raise ConfigError(
            [
                Problem(
                    str(path),
                    key.start_mark.line + 1,
                    key.start_mark.column + 1,
                    "",
                    "cannot move a document between services written in flow style ({...}); "
                    "move it by hand, then run `tosmon rename` again to move its history",
                )
            ]
        )
    value = next(v for k, v in service_node.value if k is key)
    start = text.rfind("\n", 0, key.start_mark.index) + 1
    end = _line_after(text, _content_end(value))
    entry = text[start : key.start_mark.index] + _scalar(new[1]) + text[key.end_mark.index : end]
    if not entry.endswith("\n"):
        entry += _style(text, services).newline
    removed = (start, end)
    if len(service_node.value) == 1:  # its only entry: the service goes with it
        service_key = next(k for k, v in services.value if v is service_node)
        removed = (text.rfind("\n", 0, service_key.start_mark.index) + 1, end)
    if isinstance(target, yaml.MappingNode):
        at = _line_after(text, _content_end(target))
        added = _indent(entry, target.value[0][0].start_mark.column - key.start_mark.column)
    else:
        style = _style(text, services)
        column = services.value[0][0].start_mark.column
        at = _line_after(text, _content_end(services))
        added = " " * column + _scalar(new[0]) + ":" + style.newline
        added += _indent(entry, column + style.step - key.start_mark.column)
        if at == len(text) and not text.endswith("\n"):
            added = style.newline + added
    if at >= removed[1]:  # the later place first, so that the other is still right
        return text[: removed[0]] + text[removed[1] : at] + added + text[at:]
    return text[:at] + added + text[at : removed[0]] + text[removed[1] :]


def _indent(block: str, delta: int) -> str:
    """`block`'s lines moved right by `delta` columns (left if negative, as far as they have spaces)."""
    lines = block.splitlines(keepends=True)
    if delta >= 0:
        return "".join(" " * delta + line if line.strip() else line for line in lines)
    return "".join(line[min(-delta, len(line) - len(line.lstrip(" "))) :] for line in lines)


def write_watchlist(path: Path, text: str) -> None:
    """Replace the watchlist at `path` with `text` atomically, keeping its permissions."""
    _write(path, text)


# -- reading and writing -----------------------------------------------------------------------


def _read(path: Path) -> tuple[str, Watchlist | None]:
    """The file's text exactly as stored (line endings kept) and its watchlist; (\"\", None) if absent."""
    try:
        with path.open(encoding="utf-8", newline="") as file:
            text = file.read()
    except FileNotFoundError:
        return "", None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([Problem(str(path), 1, 1, "", f"cannot read the watchlist: {error}")]) from None
    return text, parse_watchlist(text, path)


def _check(text: str, path: Path) -> Watchlist:
    try:
        return parse_watchlist(text, path)
    except ConfigError as error:
        raise ConfigError(
            [
                Problem(
                    p.file,
                    p.line,
                    p.column,
                    p.where,
                    f"{p.what} (in the edited watchlist; nothing was written)",
                )
                for p in error.problems
            ]
        ) from None


def _write(path: Path, text: str) -> None:
    """Replace the file atomically, keeping its permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- finding places ----------------------------------------------------------------------------


def _tree(text: str, path: Path) -> yaml.MappingNode:
    # Both loaders' marks count characters of `text` (not bytes), which the splice needs.
    root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError([Problem(str(path), 1, 1, "", "expected a mapping with `services:`")])
    return root


def _services(root: yaml.MappingNode, path: Path) -> yaml.MappingNode:
    services = _child(root, "services")
    if not isinstance(services, yaml.MappingNode):
        raise ConfigError([Problem(str(path), 1, 1, "", "missing the `services:` mapping")])
    return services


def _key(mapping: yaml.MappingNode, name: str) -> yaml.Node | None:
    return next((k for k, _ in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == name), None)


def _child(mapping: yaml.MappingNode, name: str) -> yaml.Node | None:
    return next((v for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == name), None)


def _refuse_existing(services: yaml.MappingNode, path: Path, service: str, name: str) -> None:
    service_node = _child(services, service)
    if not isinstance(service_node, yaml.MappingNode):
        return
    key = _key(service_node, name)
    if key is not None:
        raise ConfigError(
            [
                Problem(
                    str(path),
                    key.start_mark.line + 1,
                    key.start_mark.column + 1,
                    "",
                    f"{service}/{name!s} is already in the watchlist: give the new document another name, "
                    "or remove or rename (`tosmon rename`) the one there",
                )
            ]
        )


def _content_end(node: yaml.Node) -> int:
    """Where the last character of a node's own text is (a block collection's marks run past its
    trailing comments and blank lines, so descend to its last scalar or flow collection)."""
    while isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node.end_mark.index


def _line_after(text: str, index: int) -> int:
    """The start of the line after the one holding `index` (a trailing comment stays on its line)."""
    if index > 0 and text[index - 1] == "\n":
        return index
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


@dataclass(frozen=True)
class _Style:
    step: int  # how far a mapping's keys are indented below their parent key
    dash: int  # how far a list's dashes are indented below their key (0: "indentless")
    newline: str


def _style(text: str, services: yaml.MappingNode) -> _Style:
    step, dash = 2, 2
    steps = [
        (k.start_mark.column, v)
        for k, v in services.value
        if isinstance(v, yaml.MappingNode) and not v.flow_style and v.value
    ]
    if steps:
        column, first = steps[0]
        step = first.value[0][0].start_mark.column - column
    for key, sequence in _block_sequences(services):
        dash = sequence.start_mark.column - key.start_mark.column
        break
    return _Style(max(step, 1), max(dash, 0), "\r\n" if "\r\n" in text else "\n")


def _block_sequences(node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
                yield key, value
            yield from _block_sequences(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _block_sequences(item)


# -- splicing ----------------------------------------------------------------------------------


def _insert(text: str, path: Path, documents: Mapping[str, Mapping[str, Settings]]) -> str:
    """`text` with each document added at the end of its service (or its service at the end of
    `services:`); one parse, then the splices from the last place to the first."""
    services = _services(_tree(text, path), path)
    style = _style(text, services)
    splices: list[tuple[int, str]] = []
    new_services: dict[str, object] = {}
    for service, entries in documents.items():
        for name in entries:
            _refuse_existing(services, path, service, name)
        service_node = _child(services, service)
        plain = {name: dict(settings) for name, settings in entries.items()}
        if service_node is None:
            new_services[service] = plain
        elif entries:
            assert isinstance(service_node, yaml.MappingNode)  # the strict loader saw to it
            splices.append(_append(text, service_node, plain, style))
    if new_services:
        splices.append(_append(text, services, new_services, style))
    # From the end, so that each place is still right; at one place, the later entry first.
    for _, (at, added) in sorted(enumerate(splices), key=lambda s: (s[1][0], s[0]), reverse=True):
        text = text[:at] + added + text[at:]
    return text


def _append(
    text: str, mapping: yaml.MappingNode, entries: Mapping[str, object], style: _Style
) -> tuple[int, str]:
    """Where to insert `entries` as the last entries of `mapping`, and the text to insert."""
    if mapping.flow_style:
        pairs = _flow(dict(entries))[1:-1]
        if mapping.value:
            return mapping.value[-1][1].end_mark.index, ", " + pairs
        return mapping.end_mark.index - 1, pairs  # inside the braces of `{}`
    # A block mapping always has entries (the strict loader refused the file otherwise).
    column = mapping.value[0][0].start_mark.column
    at = _line_after(text, _content_end(mapping))
    added = "".join(line + style.newline for line in _block(entries, column, style))
    prefix = style.newline if at == len(text) and text and not text.endswith("\n") else ""
    return at, prefix + added


def _block(mapping: Mapping[str, object], column: int, style: _Style) -> list[str]:
    lines = []
    pad = " " * column
    for key, value in mapping.items():
        if isinstance(value, Mapping) and value:
            lines.append(f"{pad}{_scalar(key)}:")
            lines.extend(_block(value, column + style.step, style))
        elif isinstance(value, list | tuple) and value:
            lines.append(f"{pad}{_scalar(key)}:")
            for item in value:
                dash = column + style.dash
                if isinstance(item, Mapping) and item:
                    inner = _block(item, dash + 2, style)
                    lines.append(" " * dash + "- " + inner[0][dash + 2 :])
                    lines.extend(inner[1:])
                else:
                    lines.append(" " * dash + "- " + _flow(item))
        else:
            lines.append(f"{pad}{_scalar(key)}: {_flow(value)}")
    return lines


def _flow(value: object) -> str:
    """One value on one line, quoted only where YAML needs it."""
    if isinstance(value, tuple):
        value = list(value)
    dumped = yaml.safe_dump(
        value, default_flow_style=True, width=float("inf"), allow_unicode=True, sort_keys=False
    )
    return re.sub(r"\n(\.\.\.\n)?$", "", dumped)


def _scalar(value: str) -> str:
    return _flow(str(value))
