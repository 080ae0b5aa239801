"""`tosmon feed`: Atom feeds of recorded versions, parsed back with the standard library."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from test_history import (
    DOCUMENT,
    HOSTILE_CLAUSE,
    TRAINING_CLAUSE,
    recorded_store,
    two_versions,
    with_hostile_version,
)

from tosmon.check import record
from tosmon.flag.rules import load_taxonomy
from tosmon.models import Document
from tosmon.store.files import Store

A = "{http://www.w3.org/2005/Atom}"
X = "{http://www.w3.org/1999/xhtml}"


def parse(feed: str | bytes) -> ET.Element:
    root = ET.fromstring(feed.encode() if isinstance(feed, str) else feed)
    assert root.tag == f"{A}feed"
    return root


def links(element: ET.Element) -> dict[str, str]:
    return {link.get("rel", "alternate"): link.get("href", "") for link in element.findall(f"{A}link")}


def test_document_feed_has_one_entry_per_version_newest_first(tosmon, tmp_path) -> None:
    outcome = tosmon("feed", "Tunehaven/Terms of Use", "--snapshots", two_versions(tmp_path))
    assert outcome.code == 0, outcome.stderr
    feed = parse(outcome.stdout)
    assert feed.findtext(f"{A}id", "").startswith("urn:uuid:")
    assert feed.findtext(f"{A}updated") == "2024-02-07T04:00:00Z"
    assert feed.findtext(f"{A}author/{A}name") == "tosmon"
    assert links(feed)["alternate"] == DOCUMENT.url
    entries = feed.findall(f"{A}entry")
    assert [e.findtext(f"{A}updated") for e in entries] == ["2024-02-07T04:00:00Z", "2023-05-01T04:00:00Z"]
    for entry in entries:
        datetime.fromisoformat(entry.findtext(f"{A}updated", ""))  # RFC 3339 dates
    ids = [e.findtext(f"{A}id", "") for e in entries]
    assert len(set(ids)) == 2 and all(i.startswith("urn:uuid:") for i in ids)
    newest = entries[0]
    assert newest.findtext(f"{A}title") == "Tunehaven/Terms of Use: new AI training clause"
    assert links(newest)["alternate"] == DOCUMENT.url
    assert links(newest)["via"] == DOCUMENT.url  # the snapshot's final URL
    assert "training" in {c.get("term") for c in newest.findall(f"{A}category")}
    content = newest.find(f"{A}content")
    assert content is not None and content.get("type") == "xhtml"
    quoted = [q.text or "" for q in content.iter(f"{X}q")]
    assert len([q for q in quoted if TRAINING_CLAUSE in q]) == 1  # flagged by two rules, quoted once
    assert "new AI training clause" in [s.text for s in content.iter(f"{X}strong")]
    assert entries[1].findtext(f"{A}title") == "Tunehaven/Terms of Use: first recorded version"


def test_feed_ids_stay_the_same_when_written_again(tosmon, tmp_path) -> None:
    root = two_versions(tmp_path)
    first = parse(tosmon("feed", "Tunehaven/Terms of Use", "--snapshots", root).stdout)
    second = parse(tosmon("feed", "Tunehaven/Terms of Use", "--snapshots", root).stdout)
    assert [e.text for e in first.iter(f"{A}id")] == [e.text for e in second.iter(f"{A}id")]


def test_feed_for_everything_written_to_a_file(tosmon, tmp_path) -> None:
    root = two_versions(tmp_path)
    other = Document("Soundhill", "Privacy Policy", "https://soundhill.example/privacy")
    record(
        Store(root),
        other,
        "We keep nothing.",
        date=datetime.fromisoformat("2024-03-01T00:00:00+00:00"),
        taxonomy=load_taxonomy(),
    )
    target = tmp_path / "feeds" / "all.xml"
    outcome = tosmon("feed", "--snapshots", root, "--output", target)
    assert outcome.code == 0 and outcome.stdout == ""
    feed = parse(target.read_bytes())
    titles = [e.findtext(f"{A}title", "") for e in feed.findall(f"{A}entry")]
    assert [t.split(":")[0] for t in titles] == [
        "Soundhill/Privacy Policy",
        "Tunehaven/Terms of Use",
        "Tunehaven/Terms of Use",
    ]
    assert feed.findtext(f"{A}updated") == "2024-03-01T00:00:00Z"
    document_feed = parse(tosmon("feed", "Tunehaven/Terms of Use", "--snapshots", root).stdout)
    assert feed.findtext(f"{A}id") != document_feed.findtext(f"{A}id")


def test_feed_escapes_page_text(tosmon, tmp_path) -> None:
    feed = parse(
        tosmon(
            "feed", "Tunehaven/Terms of Use", "--snapshots", with_hostile_version(tmp_path / "snapshots")
        ).stdout
    )
    newest = feed.findall(f"{A}entry")[0]
    quoted = [q.text for q in newest.iter(f"{X}q")]
    assert HOSTILE_CLAUSE.replace("\x07", "") in quoted
    assert not any(element.tag.endswith("script") for element in feed.iter())


def test_feed_of_a_document_without_versions_is_valid_and_empty(tosmon, watchlist_file) -> None:
    watchlist = watchlist_file(
        "services:\n  Soundhill:\n    Terms:\n      url: https://soundhill.example/terms\n"
    )
    recorded_store(watchlist.parent / "snapshots", [])
    feed = parse(tosmon("feed", "Soundhill/Terms", "--watchlist", watchlist).stdout)
    assert feed.findall(f"{A}entry") == [] and feed.findtext(f"{A}updated")
