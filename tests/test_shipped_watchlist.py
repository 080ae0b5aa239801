"""The shipped watchlist.yaml: valid, true to the Open Terms Archive declarations it was built from, and
failing cleanly, document by document, when its sites cannot be reached."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from test_import_ota import SHARED, differences, needs_shared

from tosmon.errors import ExitCode
from tosmon.watchlist import load_watchlist

WATCHLIST = Path(__file__).resolve().parent.parent / "watchlist.yaml"
SOURCE = re.compile(r"^  (\S.*):  # from Open Terms Archive (\S+/.+\.json)$")
UNVERIFIED = re.compile(r"^    # not verified by OTA: \S")
DOCUMENT = re.compile(r"^    ([^\s#].*):$")


def sources() -> list[tuple[str, str, str | None, bool]]:
    """Every document of the shipped watchlist: (service, document, OTA file, marked not verified)."""
    found = []
    service, source, unverified = "", None, False
    in_services = False
    for line in WATCHLIST.read_text(encoding="utf-8").splitlines():
        if line == "services:":
            in_services = True
        elif not in_services:
            continue
        elif match := SOURCE.match(line):
            service, source = match[1], match[2]
        elif re.match(r"^  [^\s#].*:$", line):
            service, source = line.strip()[:-1], None
        elif UNVERIFIED.match(line):
            unverified = True
        elif match := DOCUMENT.match(line):
            found.append((service, match[1], source, unverified))
            unverified = False
    return found


def test_every_entry_of_the_shipped_watchlist_is_valid() -> None:
    documents = load_watchlist(WATCHLIST).documents
    assert len(documents) >= 150
    assert [(d.service, d.name) for d in documents] == [(s, d) for s, d, _, _ in sources()]


def test_every_document_comes_from_ota_or_says_it_is_not_verified_by_ota() -> None:
    for service, document, source, unverified in sources():
        assert source is not None or unverified, f"{service}/{document}: neither from OTA nor marked"


def test_the_header_credits_open_terms_archive_and_says_how_to_refresh() -> None:
    header = WATCHLIST.read_text(encoding="utf-8").split("\nservices:")[0]
    assert '"Open Terms Archive contributors"' in header
    for repository, licence in [
        ("OpenTermsArchive/contrib-declarations", "EUPL-1.2"),
        ("OpenTermsArchive/pga-declarations", "AGPL-3.0"),
        ("OpenTermsArchive/genai-eu-declarations", "AGPL-3.0"),
    ]:
        assert re.search(rf"{repository} at [0-9a-f]{{12}} \(\d{{4}}-\d\d-\d\d\), licence {licence}", header)
    assert "tosmon import-ota --into watchlist.yaml" in header


@needs_shared
def test_the_header_names_the_commits_of_the_shared_declarations() -> None:
    header = WATCHLIST.read_text(encoding="utf-8").split("\nservices:")[0]
    readme = (SHARED / "README.md").read_text(encoding="utf-8")
    for folder in ("contrib", "pga", "genai-eu"):
        commit = re.search(rf"^\| `{folder}/` \|.*?\| ([0-9a-f]{{12}}) \|", readme, re.MULTILINE)
        assert commit and f"{folder}: github.com/" in header and commit[1] in header


@needs_shared
def test_each_document_from_ota_matches_the_declaration_it_came_from() -> None:
    loaded = {d.id: d for d in load_watchlist(WATCHLIST).documents}
    checked = 0
    for service, name, source, unverified in sources():
        if unverified:
            continue
        declarations = json.loads((SHARED / source).read_text(encoding="utf-8"))["terms"]  # type: ignore[operator]
        assert name in declarations, f"{service}/{name}: not declared in {source}"
        assert differences(declarations[name], loaded[f"{service}/{name}"]) == [], f"{service}/{name}"
        checked += 1
    assert checked >= 150


@needs_shared
def test_documents_not_verified_by_ota_are_not_declared_by_ota_as_they_stand() -> None:
    """A document marked "not verified" is one OTA does not declare, or declares in a way tosmon cannot run."""
    loaded = {d.id: d for d in load_watchlist(WATCHLIST).documents}
    for service, name, source, unverified in sources():
        if unverified and source is not None:
            declarations = json.loads((SHARED / source).read_text(encoding="utf-8"))["terms"]
            if name in declarations:
                assert differences(declarations[name], loaded[f"{service}/{name}"]) != []


def offline_copy(tmp_path: Path, *, browser: bool) -> Path:
    """The shipped watchlist with every URL pointed at a loopback port nothing listens on (no traffic
    leaves the machine); without `browser`, every page is fetched over plain HTTP."""
    with socket.socket() as probe:  # a port that was free a moment ago, and is closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = re.sub(
        r"(url: )https?://([^/\s]+)",
        lambda m: f"{m[1]}http://127.0.0.1:{port}/{m[2]}",
        WATCHLIST.read_text(encoding="utf-8"),
    )
    assert "://127.0.0.1:" in text and not re.search(r"url: https?://(?!127\.0\.0\.1:)", text)
    settings = "fetch: {retries: 0, timeout: 10, per_host: 64}\n"
    if not browser:
        text = text.replace("fetcher: browser", "fetcher: http")
        text = text.replace("defaults:\n", "defaults:\n  fetcher: http\n", 1)
    offline = tmp_path / "watchlist.yaml"
    offline.write_text(text.replace("\nservices:", f"\n{settings}services:", 1), encoding="utf-8")
    return offline


def check_offline(tosmon, watchlist: Path, documents: list[str]) -> list[dict]:
    outcome = tosmon("check", "--watchlist", watchlist, "--json")
    assert outcome.code == ExitCode.DOCUMENT_FAILED
    results = json.loads(outcome.stdout)["documents"]
    assert sorted(f"{r['service']}/{r['document']}" for r in results) == sorted(documents)
    assert {r["status"] for r in results} == {"error"}
    assert not list((watchlist.parent / "snapshots").glob("*/*/versions/*.md"))
    return results


def test_checking_the_shipped_watchlist_offline_fails_cleanly_document_by_document(
    tmp_path: Path, tosmon
) -> None:
    offline = offline_copy(tmp_path, browser=False)

    results = check_offline(tosmon, offline, [d.id for d in load_watchlist(offline).documents])

    for result in results:
        assert re.fullmatch(
            r"(http://127\.0\.0\.1:\d+/\S+: )?cannot connect: connection refused", result["error"]
        ), result


def test_documents_rendered_in_a_browser_fail_cleanly_offline_too(tmp_path: Path, tosmon) -> None:
    """One document of each service that renders its pages in Chromium (all of them: 227 pages, 2 at a
    time, would take minutes)."""
    pytest.importorskip("playwright", reason="Playwright is not installed: pip install 'tosmon[browser]'")
    from tosmon.fetch.browser import find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium on this machine: apt-get install chromium")
    offline = offline_copy(tmp_path, browser=True)
    chosen = {}
    for document in load_watchlist(offline).documents:
        if document.fetcher == "browser" and not document.parts:
            chosen.setdefault(document.service, document)
    text = offline.read_text(encoding="utf-8").split("\nservices:")[0] + "\nservices:\n"
    for document in chosen.values():
        text += f"  {json.dumps(document.service)}:\n    {json.dumps(document.name)}:\n"
        text += f"      url: {document.url}\n      fetcher: browser\n"
    offline.write_text(text, encoding="utf-8")
    assert len(chosen) >= 10

    results = check_offline(tosmon, offline, [d.id for d in chosen.values()])

    for result in results:
        # Chromium's net::ERR_CONNECTION_REFUSED, in the words the HTTP fetcher uses
        assert result["error"] == "cannot connect: connection refused", result
