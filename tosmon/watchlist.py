"""Read and validate watchlist.yaml: which documents to watch, and how.

Validation is strict and happens before anything is fetched. Every problem is collected and
reported at once as `FILE:LINE:COL: where: what`. The YAML is walked as a node tree (not loaded
into Python objects) so that each problem knows its place, aliases are refused (no alias bombs) and
no tag can construct anything.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml

from tosmon.cron import cron_trigger
from tosmon.errors import ConfigError, Problem
from tosmon.extract.html import selector_problem
from tosmon.fetch.http import FetchSettings
from tosmon.models import Channel, Document, Part, RangeSelector, Selector

SMTP_SECURITY = ("starttls", "ssl", "none")
CHANNEL_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
CHANNEL_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
FETCHERS = ("http", "browser", "auto")
Entry = Callable[["_Node", "_Node"], None]  # takes one entry (key, value) of the `services:` mapping
MAX_NESTING = 100  # a watchlist nests 6 levels; deeper is a broken or hostile file
VARIANT_KEYS = {"url", "accept_language", "headers", "proxy", "proxy_password_env"}
VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")  # the `@CA` suffix of a store folder
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RANGE_KEYS = {
    "startBefore": "start_before",
    "startAfter": "start_after",
    "endBefore": "end_before",
    "endAfter": "end_after",
}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"
    username: str | None = None


@dataclass(frozen=True)
class EmailSettings:
    smtp: SmtpSettings
    sender: str
    to: tuple[str, ...]


@dataclass(frozen=True)
class Watchlist:
    path: Path
    documents: tuple[Document, ...]
    schedule: tuple[str, ...] = ()
    email: EmailSettings | None = None
    flags: dict[str, object] = field(default_factory=dict)  # the user's own taxonomy additions
    fetch: FetchSettings = field(default_factory=FetchSettings)
    notify: tuple[Channel, ...] = ()  # Apprise URLs told about every document
    site_url: str | None = None  # where `tosmon site` output is published: reports link to versions there

    @property
    def channels(self) -> tuple[Channel, ...]:
        """Every notification channel, the watchlist's and its services', each once."""
        every: dict[str, Channel] = {}
        for channel in (*self.notify, *(c for d in self.documents for c in d.notify)):
            every.setdefault(channel.url, channel)
        return tuple(every.values())

    def find(self, document_id: str) -> Document:
        for document in self.documents:
            if document.id == document_id:
                return document
        raise KeyError(document_id)


def load_watchlist(path: Path) -> Watchlist:
    """Parse and validate a watchlist file; raise ConfigError listing every problem found."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                Problem(
                    str(path),
                    0,
                    0,
                    "",
                    "no such watchlist; pass --watchlist FILE, or see a working one with `tosmon demo --keep DIR`",
                )
            ]
        ) from None
    except OSError as error:
        what = f"cannot read the watchlist: {error.strerror or error}"
        raise ConfigError([Problem(str(path), 0, 0, "", what)]) from None
    except UnicodeDecodeError as error:
        line = text_line(path.read_bytes(), error.start)
        what = f"not UTF-8 text: byte {error.object[error.start]:#04x} cannot be read; save the file as UTF-8"
        raise ConfigError([Problem(str(path), line, 1, "", what)]) from None
    return parse_watchlist(text, path)


def text_line(data: bytes, offset: int) -> int:
    """The line number (from 1) of a byte offset."""
    return data.count(b"\n", 0, offset) + 1


def parse_watchlist(text: str, path: Path) -> Watchlist:
    try:
        return _parse(text, path, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except ConfigError:
        # libyaml is 4x faster on large watchlists; Python's parser words syntax errors more clearly.
        return _parse(text, path, yaml.SafeLoader)


def _parse(text: str, path: Path, loader: type) -> Watchlist:
    checker = _Checker(str(path))
    try:
        root = _compose(text, loader, checker)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = f"invalid YAML: {error.problem or error}"
        if "'\\t'" in (error.problem or ""):
            what = "a tab character: YAML indents with spaces only; replace the tab with spaces"
        raise ConfigError([Problem(str(path), line, col, "", what)]) from None
    except yaml.YAMLError as error:
        raise ConfigError([Problem(str(path), 1, 1, "", f"invalid YAML: {error}")]) from None
    if checker.problems:
        raise ConfigError(checker.problems)
    if root is None:
        raise ConfigError(
            [Problem(str(path), 1, 1, "", "the watchlist is empty: expected a `services:` mapping")]
        )
    # The second pass over the text hands the services to the checker one at a time, now that
    # the sections they depend on (defaults) are known wherever they stand in the file.
    watchlist = checker.watchlist(root, path, lambda entry: _compose(text, loader, checker, entry))
    if checker.problems:
        raise ConfigError(checker.problems)
    return watchlist


class _Node:
    """A node of the watchlist's YAML, knowing its place; lean, as a watchlist may hold 10,000
    documents (PyYAML's nodes, with two full marks each, took 4 KB a document)."""

    __slots__ = ("column", "line", "tag", "value")

    def __init__(self, tag: str, value: Any, mark: yaml.Mark) -> None:
        self.tag, self.value, self.line, self.column = tag, value, mark.line, mark.column

    @property
    def start_mark(self) -> _Node:  # where the node starts: its own line and column
        return self


class _Scalar(_Node):
    __slots__ = ()


class _Sequence(_Node):
    __slots__ = ()


class _Mapping(_Node):
    __slots__ = ()


def _compose(text: str, loader: type, checker: _Checker, services: Entry | None = None) -> _Node | None:
    """The node tree of a one-document YAML stream, built from its events in one pass.

    Aliases and foreign tags are refused as they come, before anything is built on them: no alias
    bomb ever expands, and a `!!python/...` tag (a sign of a hostile file) never reaches the walk.
    Nesting is bounded without recursion.

    The entries of the root's `services:` mapping, where a watchlist's size lies, are not kept in
    the tree: each is handed to `services`, if given, as soon as it is built, then dropped. So a
    watchlist of 10,000 documents is never in memory as a tree.
    """
    resolver = yaml.resolver.Resolver()
    documents = 0
    root: _Node | None = None
    stack: list[_Node] = []
    services_node: _Node | None = None

    def hand_over() -> None:
        assert services_node is not None
        key, value = services_node.value.pop()
        if services is not None:
            services(key, value)

    def add(node: _Node) -> None:
        nonlocal root, services_node
        if not stack:
            root = node
        elif isinstance(stack[-1], _Mapping):
            pairs = stack[-1].value
            if pairs and len(pairs[-1]) == 1:
                key = pairs[-1][0]
                pairs[-1] = (key, node)
                if stack[-1] is services_node:
                    if isinstance(node, _Scalar):  # a collection is handed over at its end
                        hand_over()
                elif len(stack) == 1 and isinstance(node, _Mapping) and _is_key(key, "services"):
                    services_node = node
            else:
                pairs.append((node,))
        else:
            stack[-1].value.append(node)

    for event in yaml.parse(text, Loader=loader):
        tag = getattr(event, "tag", None)
        if tag and tag != "!" and (not tag.startswith("tag:yaml.org,2002:") or "python/" in tag):
            checker.problem_at(event.start_mark, "", f"the YAML tag {tag!r} is not allowed")
        if isinstance(event, yaml.AliasEvent):
            checker.problem_at(event.start_mark, "", "YAML aliases are not supported in a watchlist")
            add(_Scalar("tag:yaml.org,2002:null", "", event.start_mark))
        elif isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise yaml.composer.ComposerError(
                    None, None, "a watchlist is one YAML document; another one starts here", event.start_mark
                )
        elif isinstance(event, yaml.ScalarEvent):
            if not tag or tag == "!":
                tag = resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
            add(_Scalar(tag, event.value, event.start_mark))
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            sequence = isinstance(event, yaml.SequenceStartEvent)
            if not tag or tag == "!":
                tag = resolver.resolve(
                    yaml.SequenceNode if sequence else yaml.MappingNode, None, event.implicit
                )
            if len(stack) >= MAX_NESTING:
                raise yaml.composer.ComposerError(
                    None, None, f"nested too deeply (over {MAX_NESTING} levels)", event.start_mark
                )
            node = (_Sequence if sequence else _Mapping)(tag, [], event.start_mark)
            add(node)
            stack.append(node)
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            stack.pop()
            if stack and stack[-1] is services_node and len(stack[-1].value[-1]) == 2:
                hand_over()
    return root


def shard(documents: tuple[Document, ...], index: int, count: int) -> tuple[Document, ...]:
    """The documents of shard `index` of `count` (1-based), for machines or cron jobs sharing a watchlist.

    A document's shard depends only on its names (a hash, the same on every machine), so adding or
    removing documents never moves the others from one shard to another.
    """
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: expected 1 <= I <= N")
    return tuple(d for d in documents if _shard_of(d, count) == index)


def _shard_of(document: Document, count: int) -> int:
    key = f"{document.service}\x00{document.name}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % count + 1


def _quote(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'


class _Checker:
    """Walks the YAML node tree, building the watchlist and collecting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, node: _Node, where: str, what: str) -> None:
        self.problem_at(node.start_mark, where, what)

    def problem_at(self, mark: yaml.Mark | _Node, where: str, what: str) -> None:
        self.problems.append(Problem(self.file, mark.line + 1, mark.column + 1, where, what))

    def mapping(
        self,
        node: _Node,
        where: str,
        allowed: Callable[[str], bool] | set[str] | None = None,
    ) -> list[tuple[str, _Node, _Node]]:
        if not isinstance(node, _Mapping):
            self.problem(node, where, f"expected a mapping, found {_kind(node)}")
            return []
        entries: list[tuple[str, _Node, _Node]] = []
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = self.key(key_node, where, keys, allowed)
            if key is not None:
                entries.append((key, key_node, value_node))
        return entries

    def key(
        self,
        node: _Node,
        where: str,
        keys: set[str],
        allowed: Callable[[str], bool] | set[str] | None = None,
    ) -> str | None:
        """The key of a mapping's entry, or None when it is not a new, plain and allowed string."""
        if not isinstance(node, _Scalar) or node.tag == "tag:yaml.org,2002:merge":
            self.problem(node, where, "keys must be plain strings")
            return None
        key = node.value
        if key in keys:
            self.problem(node, where, f"duplicate key {key!r}")
            return None
        keys.add(key)
        if isinstance(allowed, set) and key not in allowed:
            hint = difflib.get_close_matches(key, sorted(allowed), n=1)
            suggestion = (
                f" (did you mean {hint[0]!r}?)"
                if hint
                else f" (expected one of: {', '.join(sorted(allowed))})"
            )
            self.problem(node, _join(where, key), f"unknown key {key!r}{suggestion}")
            return None
        return key

    def string(self, node: _Node, where: str, *, non_empty: bool = True) -> str | None:
        if not isinstance(node, _Scalar) or node.tag not in (
            "tag:yaml.org,2002:str",
            "tag:yaml.org,2002:int",
        ):
            self.problem(node, where, f"expected a string, found {_kind(node)}")
            return None
        if non_empty and not node.value.strip():
            self.problem(node, where, "must not be empty")
            return None
        return node.value

    def integer(self, node: _Node, where: str, low: int, high: int) -> int | None:
        if not isinstance(node, _Scalar) or node.tag != "tag:yaml.org,2002:int":
            self.problem(node, where, f"expected a whole number, found {_kind(node)}")
            return None
        value = int(node.value, 0)
        if not low <= value <= high:
            self.problem(node, where, f"expected a number from {low} to {high}, found {value}")
            return None
        return value

    def strings(self, node: _Node, where: str) -> list[tuple[str, _Node]]:
        """A string or a list of strings, as the watchlist accepts for selectors and recipients."""
        if isinstance(node, _Sequence):
            result = []
            for i, item in enumerate(node.value):
                value = self.string(item, f"{where}[{i}]")
                if value is not None:
                    result.append((value, item))
            return result
        value = self.string(node, where)
        return [(value, node)] if value is not None else []

    def selectors(self, node: _Node, where: str) -> tuple[Selector, ...]:
        items = node.value if isinstance(node, _Sequence) else [node]
        if isinstance(node, _Sequence) and not items:
            self.problem(node, where, "must not be an empty list")
        result: list[Selector] = []
        for i, item in enumerate(items):
            item_where = f"{where}[{i}]" if isinstance(node, _Sequence) else where
            if isinstance(item, _Mapping):
                bounds: dict[str, str] = {}
                for key, _, value_node in self.mapping(item, item_where, set(RANGE_KEYS)):
                    css = self.css(value_node, _join(item_where, key))
                    if css is not None:
                        bounds[RANGE_KEYS[key]] = css
                starts = [k for k in bounds if k.startswith("start")]
                ends = [k for k in bounds if k.startswith("end")]
                if len(starts) > 1 or len(ends) > 1 or not (starts or ends):
                    self.problem(
                        item,
                        item_where,
                        "a range needs at most one of startBefore/startAfter "
                        "and at most one of endBefore/endAfter, and at least one",
                    )
                elif bounds:
                    result.append(RangeSelector(**bounds))
            else:
                css = self.css(item, item_where)
                if css is not None:
                    result.append(css)
        return tuple(result)

    def css(self, node: _Node, where: str) -> str | None:
        value = self.string(node, where)
        if value is None:
            return None
        problem = selector_problem(value)
        if problem:
            self.problem(node, where, f"invalid CSS selector {value!r}: {problem}")
            return None
        return value

    def plain(self, node: _Node, where: str) -> object:
        """Plain strings, numbers, lists and mappings (for `flags:`), aliases refused."""
        if isinstance(node, _Mapping):
            return {str(k.value): self.plain(v, _join(where, str(k.value))) for k, v in node.value}
        if isinstance(node, _Sequence):
            return [self.plain(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
        if node.tag == "tag:yaml.org,2002:int":
            return int(node.value, 0)
        if node.tag == "tag:yaml.org,2002:str":
            return node.value
        self.problem(node, where, f"expected a string, a number, a list or a mapping, found {_kind(node)}")
        return None

    def cron(self, node: _Node, where: str) -> tuple[str, ...]:

        result = []
        for value, item in self.strings(node, where):
            try:
                cron_trigger(value)
            except ValueError as error:
                self.problem(item, where, f"invalid cron expression {value!r}: {error}")
            else:
                result.append(value)
        return tuple(result)

    def url(self, node: _Node, where: str) -> str | None:
        value = self.string(node, where)
        if value is not None and not re.match(r"https?://[^\s/?#]+", value, re.IGNORECASE):
            self.problem(node, where, f"expected an http(s) URL, found {value!r}")
            return None
        return value

    def channels(self, node: _Node, where: str) -> tuple[Channel, ...]:
        """Apprise URLs (`scheme://...`), `${VARIABLE}` standing for a secret kept in the environment.

        Whether Apprise knows the scheme is checked when notifying: importing Apprise's plugins
        would slow every command that reads the watchlist.
        """
        result = []
        items = node.value if isinstance(node, _Sequence) else [node]
        for value, item in self.strings(node, where):
            item_where = f"{where}[{items.index(item)}]" if isinstance(node, _Sequence) else where
            stray = CHANNEL_VARIABLE.sub("", value)
            if not CHANNEL_URL.fullmatch(value):
                self.problem(
                    item,
                    item_where,
                    f"expected an Apprise URL such as ntfy://ntfy.sh/my-topic or json://host/path, found {value!r}",
                )
            elif "$" in stray:
                self.problem(
                    item,
                    item_where,
                    f"{value!r}: write an environment variable as ${{NAME}} (letters, digits, _)",
                )
            else:
                result.append(Channel(value, self.file, item.line + 1, item.column + 1, item_where))
        if isinstance(node, _Sequence) and not items:
            self.problem(node, where, "must not be an empty list")
        return tuple(result)

    def addresses(self, node: _Node, where: str) -> tuple[str, ...]:
        result = []
        for value, item in self.strings(node, where):
            if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", value):
                self.problem(item, where, f"expected an e-mail address, found {value!r}")
            else:
                result.append(value)
        return tuple(result)

    # -- the sections of the watchlist -------------------------------------------------------

    def watchlist(self, root: _Node, path: Path, stream: Callable[[Entry], object]) -> Watchlist:
        """The watchlist, its services read from `stream` (which hands each entry to a function)."""
        sections = {"services", "defaults", "schedule", "email", "flags", "fetch", "notify", "site_url"}
        found = {key: (key_node, value) for key, key_node, value in self.mapping(root, "", sections)}
        defaults: dict[str, object] = {"fetcher": "auto"}  # plain HTTP, the browser when a page needs it
        if "defaults" in found:
            defaults.update(
                self.document_settings(
                    found["defaults"][1], "defaults", {"accept_language", "ignore", "fetcher", "variants"}
                )
            )
        schedule = self.cron(found["schedule"][1], "schedule") if "schedule" in found else ()
        email = self.email(found["email"][1], "email") if "email" in found else None
        fetch = self.fetch(found["fetch"][1]) if "fetch" in found else FetchSettings()
        site_url = self.url(found["site_url"][1], "site_url") if "site_url" in found else None
        notify = self.channels(found["notify"][1], "notify") if "notify" in found else ()
        flags: dict[str, object] = {}
        if "flags" in found:
            plain = self.plain(found["flags"][1], "flags")
            flags = plain if isinstance(plain, dict) else {}
            from tosmon.flag.rules import taxonomy_problems

            for what in taxonomy_problems(plain):
                self.problem(found["flags"][1], "flags", what)
        if "services" not in found:
            self.problems.append(Problem(self.file, 1, 1, "", "missing the `services:` mapping"))
            return Watchlist(path, ())
        documents = self.services(found["services"][1], defaults, stream)
        self.unique_folders(documents, found["services"][1])
        return Watchlist(path, tuple(documents), schedule, email, flags, fetch, notify, site_url)

    def fetch(self, node: _Node) -> FetchSettings:
        """Run-wide fetching limits: how long to wait, how often to retry, how many at once."""
        limits = {  # key: (low, high, FetchSettings field)
            "timeout": (1, 600, "timeout"),
            "retries": (0, 10, "retries"),
            "per_host": (1, 64, "per_host"),
            "concurrency": (1, 1024, "total"),
            "host_delay": (0, 3600, "host_delay"),
            "max_bytes": (1024, 1 << 31, "max_bytes"),
        }
        values: dict[str, object] = {}
        for key, _, value in self.mapping(node, "fetch", set(limits)):
            low, high, name = limits[key]
            number = self.integer(value, _join("fetch", key), low, high)
            if number is not None:
                values[name] = number
        return FetchSettings(**values)  # type: ignore[arg-type]

    def unique_folders(self, documents: list[Document], node: _Node) -> None:
        """Two documents must never share a folder of the store (names that differ only by punctuation)."""
        from tosmon.store.files import slug

        seen: dict[tuple[str, str], str] = {}
        for document in documents:
            folder = (
                slug(document.service),
                slug(document.name) + (f"@{document.variant}" if document.variant else ""),
            )
            if folder in seen and seen[folder] != document.id:
                self.problem(
                    node,
                    "services",
                    f"{document.id!r} and {seen[folder]!r} would share the store folder "
                    f"{'/'.join(folder)!r}: rename one",
                )
            seen.setdefault(folder, document.id)

    def services(
        self, node: _Node, defaults: dict[str, object], stream: Callable[[Entry], object]
    ) -> list[Document]:
        if not isinstance(node, _Mapping):
            self.problem(node, "services", f"expected a mapping, found {_kind(node)}")
            return []
        documents: list[Document] = []
        keys: set[str] = set()

        def entry(key_node: _Node, service_node: _Node) -> None:
            service = self.key(key_node, "services", keys)
            if service is not None:
                documents.extend(self.service(service, key_node, service_node, defaults))

        stream(entry)
        return documents

    def service(
        self, service: str, key_node: _Node, service_node: _Node, defaults: dict[str, object]
    ) -> list[Document]:
        documents: list[Document] = []
        where = _join("services", service)
        if not service.strip():
            self.problem(key_node, where, "a service needs a name")
            return documents
        if "/" in service:  # 'A/B' + 'C' and 'A' + 'B/C' would both be called 'A/B/C'
            self.problem(
                key_node,
                where,
                "a service name cannot contain '/', which separates it from the document type in "
                "'Service/Document type': write it with another character, such as '-'",
            )
        service_settings: dict[str, object] = {}
        doc_entries = []
        misplaced = False
        for name, doc_key, doc_node in self.mapping(service_node, where):
            if name == "schedule":
                service_settings["schedule"] = self.cron(doc_node, _join(where, name))
            elif name == "email":
                for key, _, value in self.mapping(doc_node, _join(where, name), {"to"}):
                    service_settings["recipients"] = self.addresses(value, _join(where, name, key))
            elif name == "variants":
                service_settings["variants"] = self.variants(doc_node, _join(where, name))
            elif name == "notify":
                service_settings["notify"] = self.channels(doc_node, _join(where, name))
            elif name in DOCUMENT_KEYS and not isinstance(doc_node, _Mapping):
                # the commonest slip: `url:` one level too high, straight under the service
                self.problem(
                    doc_key,
                    _join(where, name),
                    f"`{name}:` belongs to a document, not to the service: put it under a document "
                    f"name, as in `{service}: {{Terms of Service: {{{name}: ...}}}}`",
                )
                misplaced = True
            else:
                doc_entries.append((name, doc_key, doc_node))
        if not doc_entries and not misplaced:
            self.problem(service_node, where, "a service needs at least one document")
        for name, doc_key, doc_node in doc_entries:
            doc_where = _join(where, name)
            if not name.strip():
                self.problem(doc_key, doc_where, "a document needs a name")
                continue
            settings = {**defaults, **service_settings}
            settings.update(self.document_settings(doc_node, doc_where, DOCUMENT_KEYS))
            if "combine" in settings:
                if "url" in settings:
                    self.problem(doc_node, doc_where, "give either `url` or `combine`, not both")
                    continue
                settings["parts"] = _parts(settings.pop("combine"), settings)  # type: ignore[arg-type]
                if not settings["parts"]:
                    continue
                settings["url"] = settings["parts"][0].url  # type: ignore[index]
            if "url" not in settings:
                if isinstance(doc_node, _Mapping) and not {"url", "combine"} & _keys(doc_node):
                    self.problem(doc_node, doc_where, "missing `url` (or `combine`)")
                continue
            variants: dict[str, dict[str, object]] = settings.pop("variants", None) or {}  # type: ignore[assignment]
            document = Document(service=service, name=name, **settings)  # type: ignore[arg-type]
            if not variants:
                documents.append(document)
            for variant, overrides in variants.items():
                if document.parts and "url" in overrides and not str(overrides["url"]).startswith("?"):
                    self.problem(
                        doc_node,
                        _join(doc_where, "variants", variant, "url"),
                        "a document made with `combine` takes only a query here (`?hl=fr`), "
                        "applied to each of its pages",
                    )
                    continue
                documents.append(variant_of(document, variant, overrides))
        return documents

    def document_settings(self, node: _Node, where: str, allowed: set[str]) -> dict[str, object]:
        settings: dict[str, object] = {}
        for key, _, value in self.mapping(node, where, allowed):
            key_where = _join(where, key)
            if key == "url":
                url = self.url(value, key_where)
                if url is not None:
                    settings["url"] = url
            elif key in ("select", "remove"):
                settings[key] = self.selectors(value, key_where)
            elif key == "ignore":
                settings["ignore"] = tuple(
                    self.pattern(v, n, key_where) for v, n in self.strings(value, key_where)
                )
            elif key == "accept_language":
                language = self.string(value, key_where)
                if language is not None:
                    settings["accept_language"] = language
            elif key == "schedule":
                settings["schedule"] = self.cron(value, key_where)
            elif key == "fetcher":
                fetcher = self.string(value, key_where)
                if fetcher is not None and fetcher not in FETCHERS:
                    self.problem(
                        value, key_where, f"expected one of {', '.join(FETCHERS)}, found {fetcher!r}"
                    )
                elif fetcher is not None:
                    settings["fetcher"] = fetcher
            elif key == "combine":
                settings["combine"] = self.combine(value, key_where)
            elif key == "variants":
                settings["variants"] = self.variants(value, key_where)
        return settings

    def variants(self, node: _Node, where: str) -> dict[str, dict[str, object]]:
        """Named views of a document (`US: {proxy: ...}`), each overriding how the page is asked for.

        `variants: {}` on a document turns off the variants a service or `defaults` declares.
        """
        if isinstance(node, _Scalar) and node.tag == "tag:yaml.org,2002:null":
            return {}
        result: dict[str, dict[str, object]] = {}
        folded: dict[str, str] = {}
        for name, key_node, value in self.mapping(node, where):
            name_where = _join(where, name)
            overrides: dict[str, object] = {}
            if not (isinstance(value, _Scalar) and value.tag == "tag:yaml.org,2002:null"):
                overrides = self.variant(value, name_where)  # `US:` alone: the document as it is served
            if not VARIANT_NAME.fullmatch(name):
                self.problem(
                    key_node,
                    name_where,
                    f"variant name {name!r} cannot be a folder name: use up to 40 letters, digits, "
                    "'-' and '_', starting with a letter or digit (e.g. US, en-GB)",
                )
            elif name.casefold() in folded:
                self.problem(
                    key_node,
                    name_where,
                    f"variants {folded[name.casefold()]!r} and {name!r} differ only by case "
                    "(they would share a folder on some disks): rename one",
                )
            else:
                folded[name.casefold()] = name
                result[name] = overrides
        return result

    def variant(self, node: _Node, where: str) -> dict[str, object]:
        overrides: dict[str, object] = {}
        found = {key: value for key, _, value in self.mapping(node, where, VARIANT_KEYS)}
        for key, value in found.items():
            key_where = _join(where, key)
            if key == "url":
                text = self.string(value, key_where)
                if text is not None and text.startswith("?"):
                    if len(text) < 2 or any(c.isspace() for c in text) or "#" in text:
                        self.problem(
                            value, key_where, f"expected a query such as '?hl=fr&gl=CA', found {text!r}"
                        )
                    else:
                        overrides["url"] = text
                elif text is not None:
                    url = self.url(value, key_where)
                    if url is not None:
                        overrides["url"] = url
            elif key == "accept_language":
                language = self.string(value, key_where)
                if language is not None:
                    overrides["accept_language"] = language
            elif key == "headers":
                overrides["headers"] = self.headers(value, key_where)
            elif key == "proxy":
                proxy = self.proxy(value, key_where)
                if proxy is not None:
                    overrides["proxy"] = proxy
            elif key == "proxy_password_env":
                variable = self.string(value, key_where)
                if variable is not None and not ENV_NAME.fullmatch(variable):
                    self.problem(
                        value, key_where, f"expected the name of an environment variable, found {variable!r}"
                    )
                elif variable is not None:
                    overrides["proxy_password_env"] = variable
        if "proxy_password_env" in overrides:
            proxy = overrides.get("proxy")
            if proxy is None:
                self.problem(
                    found["proxy_password_env"],
                    _join(where, "proxy_password_env"),
                    "needs a `proxy` to log in to",
                )
                overrides.pop("proxy_password_env")
            elif not urlsplit(str(proxy)).username:
                self.problem(
                    found["proxy"],
                    _join(where, "proxy"),
                    f"`proxy_password_env` needs a user name in the proxy URL "
                    f"({urlsplit(str(proxy)).scheme}://USER@{urlsplit(str(proxy)).netloc})",
                )
        return overrides

    def headers(self, node: _Node, where: str) -> tuple[tuple[str, str], ...]:
        headers = []
        for name, key_node, value in self.mapping(node, where):
            key_where = _join(where, name)
            if not HEADER_NAME.fullmatch(name):
                self.problem(key_node, key_where, f"{name!r} is not a valid HTTP header name")
                continue
            text = self.string(value, key_where, non_empty=False)
            if text is not None and any(c in text for c in "\r\n\0"):
                self.problem(value, key_where, "a header value cannot hold a line break")
            elif text is not None:
                headers.append((name, text))
        return tuple(headers)

    def proxy(self, node: _Node, where: str) -> str | None:
        value = self.string(node, where)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as error:
            self.problem(node, where, f"invalid proxy URL {value!r}: {error}")
            return None
        if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
            self.problem(
                node,
                where,
                f"expected a proxy URL such as socks5://host:1080 or http://host:3128 "
                f"(http, https, socks5 or socks5h), found {value!r}",
            )
            return None
        if parts.password is not None:
            self.problem(
                node,
                where,
                "a password does not belong in the watchlist: remove it from the proxy URL, put it in an "
                "environment variable and name that variable with `proxy_password_env: MY_PROXY_PASSWORD`",
            )
            return None
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            self.problem(node, where, f"a proxy URL has no path, query or fragment, found {value!r}")
            return None
        if port is None and parts.scheme.lower().startswith("socks"):
            self.problem(
                node, where, f"a SOCKS proxy URL needs its port (socks5://host:1080), found {value!r}"
            )
            return None
        return value

    def combine(self, node: _Node, where: str) -> list[dict[str, object]]:
        """The pages of a document spread over several URLs: a list of `{url, select, remove, ignore, fetcher}`."""
        if not isinstance(node, _Sequence):
            self.problem(
                node, where, f"expected a list of pages ({{url, select, remove}}), found {_kind(node)}"
            )
            return []
        if not node.value:
            self.problem(node, where, "must not be an empty list")
        pages = []
        for i, item in enumerate(node.value):
            item_where = f"{where}[{i}]"
            page = self.document_settings(item, item_where, PAGE_KEYS)
            if "url" in page:
                pages.append(page)
            elif isinstance(item, _Mapping) and "url" not in _keys(item):
                self.problem(item, item_where, "missing `url`")
        return pages

    def pattern(self, value: str, node: _Node, where: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            self.problem(node, where, f"invalid regular expression {value!r}: {error}")
        return value

    def email(self, node: _Node, where: str) -> EmailSettings | None:
        found = {k: v for k, _, v in self.mapping(node, where, {"smtp", "from", "to"})}
        smtp = None
        if "smtp" in found:
            smtp_fields = {
                k: v
                for k, _, v in self.mapping(
                    found["smtp"], _join(where, "smtp"), {"host", "port", "security", "username"}
                )
            }
            host = (
                self.string(smtp_fields["host"], _join(where, "smtp", "host"))
                if "host" in smtp_fields
                else None
            )
            if "host" not in smtp_fields:
                self.problem(found["smtp"], _join(where, "smtp"), "missing `host`")
            port = (
                self.integer(smtp_fields["port"], _join(where, "smtp", "port"), 1, 65535)
                if "port" in smtp_fields
                else None
            )
            security = "starttls"
            if "security" in smtp_fields:
                value = self.string(smtp_fields["security"], _join(where, "smtp", "security"))
                if value is not None and value not in SMTP_SECURITY:
                    self.problem(
                        smtp_fields["security"],
                        _join(where, "smtp", "security"),
                        f"expected one of {', '.join(SMTP_SECURITY)}, found {value!r}",
                    )
                elif value is not None:
                    security = value
            username = (
                self.string(smtp_fields["username"], _join(where, "smtp", "username"))
                if "username" in smtp_fields
                else None
            )
            if host is not None:
                default_port = {"ssl": 465, "none": 25}.get(security, 587)
                smtp = SmtpSettings(host, port or default_port, security, username)
        else:
            self.problem(node, where, "missing `smtp`")
        sender = self.addresses(found["from"], _join(where, "from")) if "from" in found else ()
        if "from" not in found:
            self.problem(node, where, "missing `from`")
        to = self.addresses(found["to"], _join(where, "to")) if "to" in found else ()
        if smtp is None or not sender:
            return None
        return EmailSettings(smtp, sender[0], to)


DOCUMENT_KEYS = {
    "url",
    "select",
    "remove",
    "ignore",
    "accept_language",
    "schedule",
    "fetcher",
    "combine",
    "variants",
}
PAGE_KEYS = {"url", "select", "remove", "ignore", "fetcher"}  # of one page of a `combine:`


def variant_of(document: Document, name: str, overrides: dict[str, object]) -> Document:
    """The document as variant `name` asks for it: its own URL (or query), language, headers, proxy."""
    url = str(overrides.get("url", document.url))
    parts = document.parts
    if url.startswith("?"):
        parts = tuple(replace(part, url=with_query(part.url, url)) for part in parts)
        url = with_query(document.url, url)
    return replace(
        document,
        url=url,
        parts=parts,
        variant=name,
        accept_language=str(overrides.get("accept_language", document.accept_language)),
        headers=overrides.get("headers", ()),  # type: ignore[arg-type]
        proxy=overrides.get("proxy"),  # type: ignore[arg-type]
        proxy_password_env=overrides.get("proxy_password_env"),  # type: ignore[arg-type]
    )


def with_query(url: str, query: str) -> str:
    """`url` with the parameters of `query` ("?hl=fr&gl=CA"): those it names replaced, the others kept."""
    parts = urlsplit(url)
    if not parts.query:
        return urlunsplit(parts._replace(query=query[1:]))
    given = parse_qsl(query[1:], keep_blank_values=True)
    names = {name for name, _ in given}
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode(kept + given)))


def _parts(pages: list[dict[str, object]], settings: dict[str, object]) -> tuple[Part, ...]:
    """Each page keeps its own settings, or inherits the document's (its fetcher, when the check runs)."""
    return tuple(
        Part(
            str(page["url"]),
            page.get("select", settings.get("select", ())),  # type: ignore[arg-type]
            page.get("remove", settings.get("remove", ())),  # type: ignore[arg-type]
            page.get("ignore", settings.get("ignore", ())),  # type: ignore[arg-type]
            page.get("fetcher"),  # type: ignore[arg-type]
        )
        for page in pages
    )


def _join(where: str, *keys: str) -> str:
    parts = [where] if where else []
    parts.extend(_quote(k) for k in keys)
    return ".".join(parts)


def _is_key(node: _Node, name: str) -> bool:
    return isinstance(node, _Scalar) and node.tag == "tag:yaml.org,2002:str" and node.value == name


def _keys(node: _Mapping) -> set[str]:
    return {key.value for key, _ in node.value if isinstance(key, _Scalar)}


def _kind(node: _Node) -> str:
    if isinstance(node, _Mapping):
        return "a mapping"
    if isinstance(node, _Sequence):
        return "a list"
    tag = node.tag.rsplit(":", 1)[-1]
    if tag == "null":
        return "nothing"
    return f"{tag} {node.value!r}" if tag != "str" else f"string {node.value!r}"
