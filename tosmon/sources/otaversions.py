"""Import the history of an Open Terms Archive versions repository.

Such a repository is a git repository of `Service/Document type.md` files, one commit per recorded
version, the commit date being the date of the record. Each version becomes a version of source
"import" compared with the version in force at its date, so every AI, training and licensing change
in years of recorded terms is flagged as a nightly check would have flagged it. The imported file is
kept as the version's raw snapshot, citing the commit it came from (`<repository>#<commit>:<file>`,
or the file's GitHub address when the repository came from GitHub). Importing again records nothing
twice.

OTA's history holds broken records too: error pages, partial pages, pages served twice. Each record
goes through the health guards a nightly check applies (`history.record_page_at`, as a backfill's
captures do), compared with the version in force at its date. A broken record is kept as evidence
(its raw snapshot, citing its commit) but not recorded as a version, exactly as a check keeps a
broken page: recorded, it would read as the terms changing twice (clauses removed, then restored)
and bury the real edits. As OTA records a text only when it changes, a problem that lasts is seen as
consecutive broken records: after `CONFIRMATIONS` of them of the same kind the text is taken as the
document, as a check takes one seen that many nights in a row.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit, urlunsplit

from tosmon.errors import StoreError, TosmonError
from tosmon.flag.rules import Taxonomy
from tosmon.models import CheckResult, Document, Snapshot
from tosmon.store.files import Store
from tosmon.store.history import not_recorded, record_page_at, snapshot_at


@dataclass(frozen=True)
class Record:
    """One version of one document as the repository holds it."""

    service: str
    name: str
    commit: str
    date: datetime
    file: str  # path within the repository
    text: bytes


def _git(repository: Path, *args: str) -> bytes:
    try:
        return subprocess.run(["git", "-C", str(repository), *args], capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise TosmonError("git is not installed; it is needed to read a versions repository") from None
    except subprocess.CalledProcessError as error:
        reason = error.stderr.decode(errors="replace").strip().splitlines()
        raise TosmonError(f"{repository}: {reason[-1] if reason else 'git failed'}") from None


def read_repository(repository: Path) -> Iterator[Record]:
    """Every version of every `Service/Document type.md` file, commit by commit, oldest first."""
    if not repository.is_dir():
        raise TosmonError(f"{repository}: no such directory")
    log = _git(
        repository,
        "-c",
        "core.quotePath=false",
        "log",
        "--reverse",
        "--format=%x01%H%x02%cI",
        "--name-only",
        "--diff-filter=AM",
        "--no-renames",
        "-z",
        "--",
        "*.md",
    ).decode("utf-8", errors="surrogateescape")
    with subprocess.Popen(
        ["git", "-C", str(repository), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as batch:
        assert batch.stdin is not None and batch.stdout is not None
        for chunk in log.split("\x01")[1:]:
            head, *names = chunk.split("\x00")
            commit, _, when = head.partition("\x02")
            date = datetime.fromisoformat(when).astimezone(UTC)
            for name in (n.lstrip("\n") for n in names):
                parts = PurePosixPath(name).parts
                if len(parts) != 2 or not parts[1].endswith(".md"):
                    continue  # README.md and anything that is not Service/Document type.md
                batch.stdin.write(f"{commit}:{name}\n".encode("utf-8", errors="surrogateescape"))
                batch.stdin.flush()
                header = batch.stdout.readline().split()
                if len(header) != 3 or header[1] != b"blob":
                    continue
                text = batch.stdout.read(int(header[2]))
                batch.stdout.read(1)  # the newline after each object
                yield Record(parts[0], parts[1][: -len(".md")], commit, date, name, text)


def repository_address(repository: Path) -> str:
    """Where the repository can be found again: its `origin` remote, or its folder."""
    try:
        origin = _git(repository, "remote", "get-url", "origin").decode().strip()
    except TosmonError:
        origin = ""
    if not origin:
        return repository.resolve().as_uri()
    parts = urlsplit(origin)
    if parts.username or parts.password:  # never record a token someone put in the remote's URL
        parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts).removesuffix(".git")


def citation(address: str, commit: str, file: str) -> str:
    if address.startswith("https://github.com/"):
        return f"{address}/blob/{commit}/{quote(file)}"
    return f"{address}#{commit}:{quote(file)}"


def import_versions(
    store: Store,
    repository: Path,
    *,
    taxonomy: Taxonomy,
    known: dict[str, Document] | None = None,
) -> list[CheckResult]:
    """Record every version in `repository`, one result each; `known` gives watched documents' URLs."""
    address = repository_address(repository)
    known = known or {}
    recorded: dict[str, set[tuple[datetime, str]]] = {}
    broken: dict[str, tuple[str, int]] = {}  # document -> the kind of its ongoing problem, records in a row
    results = []
    for item in read_repository(repository):
        document = known.get(f"{item.service}/{item.name}") or Document(item.service, item.name, "")
        try:
            result = _import_one(store, document, item, address, taxonomy, recorded, broken)
        except (StoreError, UnicodeDecodeError) as error:
            result = CheckResult(document, "error", error=f"{item.file} at {item.commit[:12]}: {error}")
        results.append(result)
    return results


def _import_one(
    store: Store,
    document: Document,
    item: Record,
    address: str,
    taxonomy: Taxonomy,
    recorded: dict[str, set[tuple[datetime, str]]],
    broken: dict[str, tuple[str, int]],
) -> CheckResult:
    text = item.text.decode("utf-8")
    if document.id not in recorded:
        recorded[document.id] = {(v.date, str(v.meta.get("sha256"))) for v in store.versions(document)}
    snapshot = Snapshot(
        requested_url=address,
        final_url=citation(address, item.commit, item.file),
        status=200,
        content_type="text/markdown; charset=utf-8",
        fetched_at=item.date,
        body=item.text,
    )
    if (item.date, snapshot.sha256) in recorded[document.id]:
        broken.pop(document.id, None)
        return CheckResult(document, "unchanged", checked_at=item.date)  # imported before
    if not text.strip():
        return CheckResult(document, "error", error=f"{item.file} at {item.commit[:12]}: empty file")
    raw_file = snapshot_at(store, document, snapshot)
    result = record_page_at(
        store,
        document,
        text,
        item.text,
        date=item.date,
        taxonomy=taxonomy,
        source="import",
        snapshot=raw_file,
        broken=broken,
        evidence=f"{raw_file}, {item.commit[:12]}",
    )
    if not not_recorded(result):
        recorded[document.id].add((item.date, snapshot.sha256))
    return result
