"""The snapshot store: plain files a person can read, cite and commit to git.

    <store>/
      tosmon-store.json                  {"schema_version": 1}
      .lock                              held by the run that writes
      <service>/<document>/              file-safe names; document.json keeps the real ones
        document.json                    {"service", "document", "url"} (and "variant")
        raw/<stamp>.<ext>                a response body exactly as fetched (evidence)
        raw/<stamp>.json                 its metadata: requested_url, final_url, status, content_type,
                                         fetched_at, sha256, size, etag, last_modified (and, for a
                                         variant, the request: accept_language, proxy, header names)
        versions/<stamp>.md              the extracted text, recorded only when the text changed
        versions/<stamp>.json            date, source, snapshot (raw file it came from), sha256, flags...
        state.json                       what the next fetch needs (etag, last body hash)
      <service>/<document>@<variant>/    one variant of a document (`variants:`), laid out the same
      <service>/<document>@variants.json how its variants differ, as last reported (tosmon.variants)

`<stamp>` is the UTC time of the fetch, `2026-11-26T04-00-00Z`. Every file is written to a
temporary name and renamed into place, and a version's `.json` is written last: a version exists
only once its metadata does, so an interrupted run never leaves a half version behind. Nothing is
ever overwritten except state.json and document.json. A run holding the lock syncs the disk once
when it ends, rather than each file as it is written. `Store.verify` checks all of this.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import orjson

from tosmon.errors import LockedError, StoreError
from tosmon.fetch.http import shown_proxy
from tosmon.models import Document, Snapshot

SCHEMA_VERSION = 1
SCHEMA_FILE = "tosmon-store.json"
FOLDERS_REMEMBERED = 1024  # then forgotten all at once (1.5 KB each): a long run's memory stays flat
RAW_EXTENSIONS = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "txt",
    "application/pdf": "pdf",
    "text/markdown": "md",
    "application/json": "json",
}


@dataclass(frozen=True)
class StoredVersion:
    """A recorded version of a document: its text and its metadata."""

    name: str  # the stamp, also the file name without extension
    date: datetime
    path: Path  # the .md file
    meta: dict[str, object]

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def source(self) -> str:
        return str(self.meta.get("source", "fetch"))


def slug(name: str) -> str:
    """A file-safe name for a service or document: never a path, never hidden, never empty."""
    cleaned = unicodedata.normalize("NFKC", name)
    cleaned = re.sub(r"[^\w.-]+", "-", cleaned, flags=re.UNICODE).strip("-._")
    cleaned = re.sub(r"-{2,}", "-", cleaned)
    if len(cleaned.encode()) > 80 or not cleaned:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cleaned = (cleaned.encode()[:60].decode("utf-8", "ignore").rstrip("-._") + "-" + digest).lstrip("-")
    return cleaned


def _folder_name(document: Document) -> str:
    """`Terms-of-Service`, or `Terms-of-Service@CA` for a variant (a slug never holds an @)."""
    return slug(document.name) + (f"@{document.variant}" if document.variant else "")


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")


def parse_stamp(name: str) -> datetime:
    return datetime.strptime(name[:20], "%Y-%m-%dT%H-%M-%SZ").replace(tzinfo=UTC)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers and the next run see all or nothing.

    No fsync per file (8 ms each here, 50 ms a document): the run syncs the store once at its end.
    The temporary name is a plain string: pathlib interns every name it parses, one per file written.
    """
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
        except FileNotFoundError:  # a new folder: created only then, not before every write
            os.makedirs(folder, exist_ok=True)
            with open(temporary, "wb") as handle:
                handle.write(data)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise StoreError(f"{path}: cannot write: {error.strerror or error}") from None


def write_json(path: Path, data: object) -> None:
    """Indented, keys sorted: for people and for git. orjson, as the standard library indents in pure
    Python (17 µs for a snapshot's metadata, 0.7 µs with orjson; four such files per new document)."""
    write_atomic(
        path,
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE),
    )


def read_json(path: Path) -> dict[str, object]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        raise StoreError(f"{path}: unreadable: {error}") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: expected a JSON object")
    return data


@dataclass(frozen=True)
class Damage:
    """One file of the store that does not match its record or breaks the store's rules."""

    path: Path
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class Verification:
    """What `Store.verify` looked at and what it found wrong."""

    documents: int
    files: int
    damage: tuple[Damage, ...]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Store:
    """A directory of documents, their raw snapshots and their versions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._owners: dict[Path, tuple[str, str]] = {}  # folder -> (service, document) it belongs to
        self._described: dict[Path, dict[str, str]] = {}  # folder -> its document.json as last seen
        self._folders: dict[tuple[str, str, str | None], Path] = {}  # (service, document, variant) -> folder

    def open(self) -> Store:
        """Create the store if needed and refuse one written by a newer tosmon."""
        schema = self.root / SCHEMA_FILE
        if schema.exists():
            version = read_json(schema).get("schema_version")
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"{schema}: schema version {version} is not supported (expected {SCHEMA_VERSION})"
                )
        else:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"{self.root}: cannot create the store: {error.strerror}") from None
            write_json(schema, {"schema_version": SCHEMA_VERSION})
        return self

    @contextlib.contextmanager
    def lock(self, wait: float = 10.0) -> Iterator[None]:
        """Hold the store for one run; wait up to `wait` seconds for another run to finish."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / ".lock", "a+")  # noqa: SIM115 - held for the whole run
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockedError(
                            f"{self.root}: another tosmon run is using this store; "
                            f"gave up after waiting {wait:g} s"
                        ) from None
                    time.sleep(0.1)
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
            os.sync()  # what this run wrote reaches the disk before the next run may start
        finally:
            handle.close()

    def directory(self, document: Document) -> Path:
        """The document's folder; refuse one that holds another document whose names map to the same."""
        key = (document.service, document.name, document.variant)
        directory = self._folders.get(key)
        if directory is None:  # slugs are asked for several times per document and run
            if len(self._folders) >= FOLDERS_REMEMBERED:
                self._folders.clear()
                self._owners.clear()  # a folder's owner is also on disk, in its document.json
                self._described.clear()
            directory = self._folders[key] = self.root / slug(document.service) / _folder_name(document)
        owner = self._owners.get(directory)
        if owner is None:
            info = directory / "document.json"
            known = read_json(info) if info.exists() else {}
            owner = (str(known.get("service", document.service)), str(known.get("document", document.name)))
            self._owners[directory] = owner
        if owner != (document.service, document.name):
            raise StoreError(
                f"{directory}: holds {owner[0]!r} {owner[1]!r}, whose file name is the same as "
                f"{document.service!r} {document.name!r}'s; rename one of them"
            )
        return directory

    def _describe(self, document: Document) -> Path:
        directory = self.directory(document)
        info = directory / "document.json"
        wanted = {"service": document.service, "document": document.name, "url": document.url}
        if document.variant:
            wanted["variant"] = document.variant
        if self._described.get(directory) != wanted:  # read once a run, not at every write
            if not info.exists():  # a new document: its folders at once, not each after a failed write
                try:
                    (directory / "raw").mkdir(parents=True, exist_ok=True)
                    (directory / "versions").mkdir(exist_ok=True)
                except OSError as error:
                    raise StoreError(f"{directory}: cannot create: {error.strerror or error}") from None
                write_json(info, wanted)
            elif read_json(info) != wanted:
                write_json(info, wanted)
            self._described[directory] = wanted
        return directory

    def documents(self) -> list[Document]:
        """Every document the store holds, as its document.json names it, sorted by id."""
        found = []
        for info in sorted(self.root.glob("*/*/document.json")):
            data = read_json(info)
            variant = str(data["variant"]) if data.get("variant") else None
            found.append(
                Document(
                    str(data["service"]), str(data["document"]), str(data.get("url", "")), variant=variant
                )
            )
        return sorted(found, key=lambda d: d.id)

    def folder(self, document: Document) -> Path:
        """Where the document's files are or would be (`directory` also checks who owns the folder)."""
        return self.root / slug(document.service) / _folder_name(document)

    def known(self, document: Document) -> bool:
        """Whether the store holds anything of `document` (a folder described by its document.json)."""
        # strings, not Paths: asked for every document of a run (10,000 documents: 0.45 s with pathlib, 0.33 s)
        return os.path.exists(
            os.path.join(self.root, slug(document.service), _folder_name(document), "document.json")
        )

    def rename(self, old: Document, new: Document) -> Path:
        """Move a document's whole history (snapshots, versions, fetch state) to its new names.

        The folder is renamed in one step, so the history is wholly under one name or the other,
        never split; then its document.json takes the new names. Refused if the new names already
        have a history. Returns the new folder.
        """
        source = self.directory(old)
        info = source / "document.json"
        if not info.exists():
            raise StoreError(f"{old.id!r} has no history in {self.root}: nothing to move")
        target = self.folder(new)
        if target != source and (target / "document.json").exists():
            owner = read_json(target / "document.json")
            raise StoreError(
                f"{target}: already holds the history of {owner.get('service')}/{owner.get('document')}; "
                "rename or remove that one first"
            )
        described = {**read_json(info), "service": new.service, "document": new.name}
        if new.url:
            described["url"] = new.url
        try:
            if target != source:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(source, target)  # atomic; an empty leftover folder there is replaced
        except OSError as error:
            raise StoreError(f"{source}: cannot move to {target}: {error.strerror or error}") from None
        try:
            write_json(target / "document.json", described)
        except StoreError:
            if target != source:
                os.rename(target, source)
            raise
        if old.variant:
            self._move_comparison(old, new)
        with contextlib.suppress(OSError):
            source.parent.rmdir()  # the old service's folder, if this was its last document
        self._folders.clear()
        self._owners.clear()
        self._described.clear()
        return target

    def comparison_path(self, service: str, document: str) -> Path:
        """Where how the variants of a document differ is kept, beside their folders."""
        return self.root / slug(service) / f"{slug(document)}@variants.json"

    def _move_comparison(self, old: Document, new: Document) -> None:
        """With the last variant of a document renamed, how its variants differ goes too."""
        previous = self.comparison_path(old.service, old.name)
        left = previous.parent.glob(f"{_folder_name(replace(old, variant=None))}@*/document.json")
        if not previous.exists() or any(left):
            return
        state = {**read_json(previous), "service": new.service, "document": new.name}
        write_json(self.comparison_path(new.service, new.name), state)
        previous.unlink()

    # -- raw snapshots -----------------------------------------------------------------------

    def record_snapshot(self, document: Document, snapshot: Snapshot) -> str:
        """Keep the body as evidence (once per distinct body); return its path within the document."""
        directory = self._describe(document)
        digest = snapshot.sha256
        last = self.last_snapshot(document, snapshot.requested_url)
        if last is not None and last.get("sha256") == digest:
            return str(last["file"])
        kind = snapshot.content_type.split(";")[0].strip().lower()
        name = self._free_name(directory / "raw", stamp(snapshot.fetched_at))
        body_file = f"raw/{name}.{RAW_EXTENSIONS.get(kind, 'bin')}"
        write_atomic(directory / body_file, snapshot.body)
        write_json(
            directory / "raw" / f"{name}.json",
            {
                "file": body_file,
                "requested_url": snapshot.requested_url,
                "final_url": snapshot.final_url,
                "status": snapshot.status,
                "content_type": snapshot.content_type,
                "fetched_at": snapshot.fetched_at.astimezone(UTC).isoformat(),
                "sha256": digest,
                "size": len(snapshot.body),
                "etag": snapshot.etag,
                "last_modified": snapshot.last_modified,
                **_asked_as(document),
            },
        )
        return body_file

    def snapshots(self, document: Document) -> list[dict[str, object]]:
        """Metadata of every raw snapshot, oldest first."""
        raw = self.directory(document) / "raw"
        if not raw.is_dir():
            return []
        return [read_json(path) for path in sorted(raw.glob("[0-9]*.json"))]

    def last_snapshot(self, document: Document, url: str | None = None) -> dict[str, object] | None:
        """The newest snapshot, or the newest of `url` (a combined document has one per page)."""
        raw = self.directory(document) / "raw"
        for path in sorted(raw.glob("[0-9]*.json"), reverse=True) if raw.is_dir() else []:
            meta = read_json(path)
            if url is None or meta.get("requested_url") == url:
                return meta
        return None

    # -- versions ----------------------------------------------------------------------------

    def versions(self, document: Document) -> list[StoredVersion]:
        """Every recorded version, oldest first; a text without its metadata is not a version."""
        return versions_in(self.directory(document))

    def latest_version(self, document: Document) -> StoredVersion | None:
        versions = self.versions(document)
        return versions[-1] if versions else None

    def record_version(
        self,
        document: Document,
        text: str,
        *,
        date: datetime,
        source: str = "fetch",
        snapshot: str | list[str] | None = None,  # a list for a document combined from several pages
        extra: dict[str, object] | None = None,
    ) -> str:
        """Record a new version; its metadata is written last, which is what makes it exist."""
        directory = self._describe(document) / "versions"
        name = self._free_name(directory, stamp(date))
        data = text.encode("utf-8")
        write_atomic(directory / f"{name}.md", data)
        write_json(
            directory / f"{name}.json",
            {
                "date": date.astimezone(UTC).isoformat(),
                "source": source,
                "snapshot": snapshot,
                "sha256": hashlib.sha256(data).hexdigest(),
                **(extra or {}),
            },
        )
        return name

    @staticmethod
    def _free_name(directory: Path, name: str) -> str:
        candidate, n = name, 1
        while any(directory.glob(f"{candidate}.*")):
            n += 1
            candidate = f"{name}-{n}"
        return candidate

    # -- fetch state -------------------------------------------------------------------------

    def state(self, document: Document) -> dict[str, object]:
        path = self.directory(document) / "state.json"
        return read_json(path) if path.exists() else {}

    def save_state(self, document: Document, state: dict[str, object]) -> None:
        write_json(self._describe(document) / "state.json", state)

    # -- verification ------------------------------------------------------------------------

    def verify(self) -> Verification:
        """Check every stored file against its recorded hash, and the layout's rules, without writing.

        Leftovers of an interrupted run (temporary files, a body or text whose metadata was never
        written) are not damage: by the layout's rule they never became a snapshot or a version.
        """
        schema = self.root / SCHEMA_FILE
        if not schema.is_file():
            raise StoreError(f"{self.root}: not a tosmon snapshot store (no {SCHEMA_FILE})")
        damage: list[Damage] = []
        files = 1
        try:
            version = read_json(schema).get("schema_version")
            if version != SCHEMA_VERSION:
                damage.append(Damage(schema, f"schema version {version!r}, expected {SCHEMA_VERSION}"))
        except StoreError as error:
            damage.append(Damage(schema, _problem(error)))
        documents = 0
        for directory in sorted(self.root.glob("[!.]*/[!.]*")):
            if not directory.is_dir():
                continue
            documents += 1
            checked, found = _verify_document(directory)
            files += checked
            damage.extend(found)
        for comparison in sorted(self.root.glob("[!.]*/[!.]*@variants.json")):
            files += 1
            try:
                read_json(comparison)
            except StoreError as error:
                damage.append(Damage(comparison, _problem(error)))
        return Verification(documents, files, tuple(damage))


def _asked_as(document: Document) -> dict[str, object]:
    """How a variant's page was asked for, as evidence of what that country or language is served:
    its language, its proxy (never a user name or password) and the names of its extra headers
    (their values may be cookies)."""
    if not document.variant:
        return {}
    return {
        "request": {
            "variant": document.variant,
            "accept_language": document.accept_language,
            "proxy": shown_proxy(document.proxy) if document.proxy else None,
            "headers": [name for name, _ in document.headers],
        }
    }


def versions_in(folder: Path) -> list[StoredVersion]:
    """The versions kept in a document's folder, oldest first (`Store.versions`, for a folder)."""
    directory = folder / "versions"
    if not directory.is_dir():
        return []
    found = []
    for meta_path in sorted(directory.glob("[0-9]*.json")):
        text_path = meta_path.with_suffix(".md")
        if text_path.exists():
            meta = read_json(meta_path)
            found.append(
                StoredVersion(meta_path.stem, datetime.fromisoformat(str(meta["date"])), text_path, meta)
            )
    found.sort(key=lambda v: (v.date, v.name))
    return found


def _problem(error: StoreError) -> str:
    return str(error).split(": ", 1)[-1]


def _verify_document(directory: Path) -> tuple[int, list[Damage]]:
    damage: list[Damage] = []
    files = 0

    def meta(path: Path, required: tuple[str, ...]) -> dict[str, object] | None:
        nonlocal files
        files += 1
        try:
            data = read_json(path)
        except StoreError as error:
            damage.append(Damage(path, _problem(error)))
            return None
        missing = [key for key in required if key not in data]
        if missing:
            damage.append(Damage(path, f"missing {', '.join(missing)}"))
            return None
        return data

    def matches(path: Path, data: dict[str, object], what: str) -> bool:
        nonlocal files
        if not path.is_file():
            damage.append(Damage(path, f"missing: its metadata says it is {what}"))
            return False
        files += 1
        if _sha256(path) != data["sha256"]:
            damage.append(Damage(path, f"content does not match its recorded sha256 ({what})"))
            return False
        return True

    info = directory / "document.json"
    if info.exists():
        described = meta(info, ("service", "document", "url"))
        variant = directory.name.partition("@")[2] or None  # `Terms@CA`: variant CA (names never hold @)
        if described is not None and described.get("variant") != variant:
            damage.append(
                Damage(
                    info, f"names variant {described.get('variant')!r} but sits in the folder of {variant!r}"
                )
            )
        elif described is not None:
            own = Document(str(described["service"]), str(described["document"]), "", variant=variant)
            home = directory.parent.parent / slug(own.service) / _folder_name(own)
            if home != directory:  # a `tosmon rename` stopped between moving the folder and renaming it
                damage.append(
                    Damage(
                        info,
                        f"names {own.id!r}, whose folder is {home}: a rename was interrupted; move the folder "
                        f"back (mv {directory} {home}) and run `tosmon rename` again",
                    )
                )
    else:
        damage.append(Damage(info, "missing: the folder holds a document without its description"))
    raw_files = set()
    for path in sorted((directory / "raw").glob("[0-9]*.json")):
        data = meta(path, ("file", "sha256", "size"))
        if data is None:
            continue
        body = directory / str(data["file"])
        if body.parent != directory / "raw" or body.name == path.name:
            damage.append(Damage(path, f"points outside its folder: {data['file']!r}"))
            continue
        raw_files.add(str(data["file"]))
        if matches(body, data, f"the snapshot {path.name}") and body.stat().st_size != data["size"]:
            damage.append(
                Damage(body, f"size {body.stat().st_size} differs from the recorded {data['size']}")
            )
    versions = []
    for path in (directory / "versions").glob("[0-9]*.json"):
        data = meta(path, ("date", "sha256"))
        if data is None:
            continue
        try:
            versions.append((datetime.fromisoformat(str(data["date"])), path.stem, path, data))
        except ValueError:
            damage.append(Damage(path, f"unreadable date {data['date']!r}"))
    versions.sort()  # the order Store.versions gives
    names = {path.stem for path in (directory / "versions").glob("[0-9]*.json")}
    previous_hash = None
    for _, _, path, data in versions:
        text = path.with_suffix(".md")
        if not matches(text, data, f"the version {path.stem}"):
            continue
        snapshot = data.get("snapshot")
        if snapshot is not None and snapshot not in raw_files and not (directory / str(snapshot)).is_file():
            damage.append(Damage(path, f"its snapshot {snapshot} is not in the store"))
        previous = data.get("previous")
        if previous is not None and previous not in names:
            damage.append(Damage(path, f"its previous version {previous} is not in the store"))
        if data["sha256"] == previous_hash:
            damage.append(
                Damage(path, "same text as the version before it (a version exists only on change)")
            )
        previous_hash = data["sha256"]
    state = directory / "state.json"
    if state.exists():
        meta(state, ())
    return files, damage
