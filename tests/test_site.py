"""`tosmon site DIR`: static HTML pages of the history, opened from disk, also in a real headless browser."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import lxml.html
import pytest
from pytest_httpserver import HTTPServer
from test_history import (
    DOCUMENT,
    HOSTILE_CLAUSE,
    TRAINING_CLAUSE,
    demo_page,
    two_versions,
    with_hostile_version,
)
from test_memory import AI_CLAUSE, dropped_and_restored
from werkzeug import Response

from tosmon.check import record
from tosmon.flag.rules import load_taxonomy
from tosmon.models import Document
from tosmon.store.files import Store

CHROMIUM = Path("/usr/bin/chromium")


def build(tosmon, snapshots: Path, site: Path) -> Path:
    outcome = tosmon("site", site, "--snapshots", snapshots)
    assert outcome.code == 0, outcome.stderr
    return site / "Tunehaven" / "Terms-of-Use.html"


def flagged_marks(document: lxml.html.HtmlElement) -> list[str]:
    return [" ".join(mark.text_content().split()) for mark in document.cssselect("mark.flag")]


def test_site_marks_the_flagged_clause_in_a_side_by_side_diff(tosmon, tmp_path) -> None:
    page = build(tosmon, two_versions(tmp_path), tmp_path / "site")
    document = lxml.html.parse(str(page)).getroot()
    marks = flagged_marks(document)
    assert len(marks) == 1 and TRAINING_CLAUSE in marks[0]
    assert "flagged: training (high)" in marks[0]
    row = document.cssselect("mark.flag")[0].getparent().getparent()
    assert [cell.get("class") for cell in row.cssselect("td")] == [None, "added"]
    reworded = [" ".join(cell.text_content().split()) for cell in document.cssselect("table.diff td")]
    assert "Last updated: 3 January 2024" in reworded
    assert any(cell.endswith("Last updated: 7 February 2024") for cell in reworded)
    assert [ins.text for ins in document.cssselect("ins")] == ["7 February"]


def test_site_links_work_from_disk(tosmon, tmp_path) -> None:
    site = tmp_path / "site"
    page = build(tosmon, two_versions(tmp_path), site)
    index = lxml.html.parse(str(site / "index.html")).getroot()
    assert [a.get("href") for a in index.cssselect("a")] == [
        "feed.xml",
        "Tunehaven/Terms-of-Use.html#v-2024-02-07T04-00-00Z",
        "Tunehaven/Terms-of-Use.html",
    ]
    document = lxml.html.parse(str(page)).getroot()
    local = [a.get("href") for a in document.cssselect("a") if not a.get("href").startswith(("http", "#"))]
    assert local and all((page.parent / unquote(href)).resolve().is_file() for href in local)
    assert all((page.parent / unquote(href)).resolve().is_relative_to(site.resolve()) for href in local)
    raw = {href for href in local if "/raw/" in href}
    assert len(raw) == 2
    anchors = {a.get("href")[1:] for a in document.cssselect("a") if a.get("href").startswith("#")}
    assert anchors == {section.get("id") for section in document.cssselect("section")}


def test_site_escapes_page_text(tosmon, tmp_path) -> None:
    page = build(tosmon, with_hostile_version(tmp_path / "snapshots"), tmp_path / "site")
    document = lxml.html.parse(str(page)).getroot()
    assert document.cssselect("script") == []
    assert any(
        " ".join(HOSTILE_CLAUSE.replace("\x07", "").split()) in mark for mark in flagged_marks(document)
    )


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no headless browser: {CHROMIUM} is not installed")
def test_site_page_shows_the_flagged_clause_in_headless_chromium(tosmon, tmp_path) -> None:
    page = build(tosmon, two_versions(tmp_path), tmp_path / "site")
    profile = tmp_path / "chromium-profile"
    rendered = subprocess.run(
        [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
            "--dump-dom", page.resolve().as_uri(),
        ],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    dom = lxml.html.fromstring(rendered.stdout)
    marks = flagged_marks(dom)
    assert len(marks) == 1 and TRAINING_CLAUSE in marks[0]
    shutil.rmtree(profile, ignore_errors=True)


def test_site_is_self_contained_every_evidence_link_resolving_inside_it_in_chromium(
    tosmon,
    tmp_path,
    chromium,
) -> None:
    """Open the site in Chromium (Playwright), follow every link of every page: all stay inside the
    site, and each archived file has the sha256 the page shows for it."""
    from playwright.sync_api import sync_playwright

    snapshots = two_versions(tmp_path)
    site = tmp_path / "public"
    build(tosmon, snapshots, site)
    shutil.move(snapshots, tmp_path / "moved-away")  # a published copy has no store beside it

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        to_visit, seen, evidence = [(site / "index.html").resolve().as_uri()], set(), {}
        while to_visit:
            url = to_visit.pop()
            if url in seen:
                continue
            seen.add(url)
            page.goto(url)
            links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
            shown = page.eval_on_selector_all("code", "codes => codes.map(c => c.textContent)")
            for link in links:
                if link.startswith(("http://", "https://")):
                    continue  # the live page, outside by design
                target = Path(unquote(link.removeprefix("file://").split("#")[0]))
                assert target.is_file(), f"{url} links to {link}, which does not exist"
                assert target.is_relative_to(site.resolve()), f"{url} links outside the site: {link}"
                if target.suffix == ".html" and "evidence" not in target.parts:
                    to_visit.append(link.split("#")[0])
                elif "evidence" in target.parts:
                    evidence[target] = shown
        browser.close()

    assert {p.name for p in evidence} == {
        "2023-05-01T04-00-00Z.html.txt",
        "2024-02-07T04-00-00Z.html.txt",
        "2023-05-01T04-00-00Z.md",
        "2024-02-07T04-00-00Z.md",
    }
    for path, shown in evidence.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() in shown
    assert (site / "evidence/Tunehaven/Terms-of-Use/raw/2024-02-07T04-00-00Z.html.txt").read_bytes() == (
        demo_page(2)
    )


def test_site_cites_each_version(tosmon, tmp_path) -> None:
    page = build(tosmon, two_versions(tmp_path), tmp_path / "site")
    document = lxml.html.parse(str(page)).getroot()
    [cite] = document.cssselect("#v-2024-02-07T04-00-00Z details.cite")
    fields = {
        dt.text_content(): " ".join(dd.text_content().split())
        for dt, dd in zip(cite.cssselect("dt"), cite.cssselect("dd"), strict=True)
    }
    body = hashlib.sha256(demo_page(2)).hexdigest()
    assert fields["Document"] == "Tunehaven/Terms of Use"
    assert fields["URL"] == "https://tunehaven.example/legal/terms"
    assert fields["Fetched at"] == "2024-02-07T04:00:00+00:00"
    assert fields["sha256"] == body
    assert fields["Archived file"] == "raw/2024-02-07T04-00-00Z.html.txt"
    assert fields["Text"].startswith("versions/2024-02-07T04-00-00Z.md, sha256 ")
    assert fields["Citation"] == (
        "Tunehaven, “Terms of Use”, https://tunehaven.example/legal/terms (fetched 2024-02-07T04:00:00+00:00, "
        f"archived as raw/2024-02-07T04-00-00Z.html.txt, sha256 {body})."
    )


def test_site_opens_on_the_latest_flagged_changes_most_severe_first(tosmon, tmp_path) -> None:
    snapshots = two_versions(tmp_path)
    store = Store(snapshots).open()
    other = Document("Pixelry", "Terms", "https://pixelry.example/terms")
    later = datetime(2024, 3, 1, 4, tzinfo=UTC)
    record(store, other, "# Terms\n\nBe kind.\n", date=later, taxonomy=load_taxonomy())
    record(
        store,
        other,
        "# Terms\n\nBe kind.\n\nWe use artificial intelligence to suggest tags for your pictures.\n",
        date=later.replace(day=2),
        taxonomy=load_taxonomy(),
    )
    site = tmp_path / "site"
    build(tosmon, snapshots, site)

    index = lxml.html.parse(str(site / "index.html")).getroot()
    assert index.cssselect("h2")[0].text_content() == "Latest flagged changes"
    items = [" ".join(li.text_content().split()) for li in index.cssselect("ul.flags li")]
    assert [item.split()[0] for item in items] == ["HIGH", "MEDIUM"]  # the older but severe one first
    assert "Tunehaven/Terms of Use, 2024-02-07" in items[0] and TRAINING_CLAUSE in items[0]
    assert "Pixelry/Terms, 2024-03-02" in items[1]


def test_site_shows_what_a_reworded_flagged_clause_deleted(tosmon, tmp_path) -> None:
    root = tmp_path / "snapshots"
    store = Store(root).open()
    before = "# Terms\n\nWe may use your prompts to train our models, unless you opted out.\n"
    for day, text in ((1, before), (2, before.replace(", unless you opted out", ""))):
        when = datetime(2025, 1, day, tzinfo=UTC)
        record(store, DOCUMENT, text, date=when, taxonomy=load_taxonomy())
    site = tmp_path / "site"
    build(tosmon, root, site)

    index = lxml.html.parse(str(site / "index.html")).getroot()
    assert [d.text for d in index.cssselect("ul.flags del")] == [", unless you opted out"]
    feed = (site / "feed.xml").read_text(encoding="utf-8")
    assert "<del>, unless you opted out</del>" in feed


def test_site_is_refused_inside_the_store(tosmon, tmp_path) -> None:
    snapshots = two_versions(tmp_path)

    outcome = tosmon("site", snapshots / "site", "--snapshots", snapshots)

    assert outcome.code == 5
    assert outcome.stderr == (
        f"Error: {snapshots / 'site'}: the site cannot be written inside the snapshot store "
        f"{snapshots.resolve()}; choose a directory outside it\n"
    )
    assert not (snapshots / "site").exists()
    assert tosmon("verify", "--snapshots", snapshots).code == 0


def test_site_feed_links_each_version_on_the_published_site(tosmon, tmp_path, watchlist_file) -> None:
    snapshots = two_versions(tmp_path)
    watchlist = watchlist_file(
        f"site_url: https://terms.example.org/\nservices:\n  Tunehaven:\n    Terms of Use:\n"
        f"      url: {DOCUMENT.url}\n"
    )
    site = tmp_path / "site"
    assert tosmon("site", site, "--watchlist", watchlist, "--snapshots", snapshots).code == 0

    feed = (site / "feed.xml").read_text(encoding="utf-8")
    assert (
        '<link rel="alternate" type="text/html" '
        'href="https://terms.example.org/Tunehaven/Terms-of-Use.html#v-2024-02-07T04-00-00Z" />'
    ) in feed
    assert f'<link rel="related" href="{DOCUMENT.url}" />' in feed
    printed = tosmon("feed", "--watchlist", watchlist, "--snapshots", snapshots).stdout
    assert "https://terms.example.org/Tunehaven/Terms-of-Use.html#v-2023-05-01T04-00-00Z" in printed


def test_check_site_rebuilds_the_site_after_each_run(
    tosmon, tmp_path, httpserver: HTTPServer, watchlist_file
) -> None:
    served = {"page": demo_page(1)}
    httpserver.expect_request("/terms").respond_with_handler(
        lambda request: Response(served["page"], content_type="text/html; charset=utf-8")
    )
    watchlist = watchlist_file(
        f"services:\n  Tunehaven:\n    Terms of Use:\n      url: {httpserver.url_for('/terms')}\n"
    )
    site = tmp_path / "public"

    first = tosmon("check", "--watchlist", watchlist, "--site", site)
    assert first.code == 1, first.stderr
    assert f"Site rebuilt: 2 pages in {site}" in first.stderr
    page = site / "Tunehaven" / "Terms-of-Use.html"
    assert len(lxml.html.parse(str(page)).getroot().cssselect("section")) == 1

    first_build = page.stat().st_ino
    served["page"] = demo_page(2)
    assert tosmon("check", "--watchlist", watchlist, "--site", site).code == 2
    assert page.stat().st_ino != first_build
    document = lxml.html.parse(str(page)).getroot()
    assert len(document.cssselect("section")) == 2
    assert TRAINING_CLAUSE in " ".join(flagged_marks(document)[0].split())
    assert len(list((site / "evidence").rglob("*.html.txt"))) == 2

    rebuilt = page.stat().st_ino
    assert tosmon("check", "--watchlist", watchlist, "--site", site).code == 0
    assert page.stat().st_ino == rebuilt  # no new version: the page (a diff per version) is kept as it was

    inside = tosmon("check", "--watchlist", watchlist, "--site", watchlist.parent / "snapshots" / "site")
    assert inside.code == 5 and "inside the snapshot store" in inside.stderr


def test_a_site_that_cannot_be_written_is_one_line_and_the_check_is_still_recorded(
    tosmon, tmp_path, httpserver: HTTPServer, watchlist_file
) -> None:
    httpserver.expect_request("/terms").respond_with_data(demo_page(1), content_type="text/html")
    watchlist = watchlist_file(
        f"services:\n  Tunehaven:\n    Terms of Use:\n      url: {httpserver.url_for('/terms')}\n"
    )
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the site's folder should be")

    outcome = tosmon("check", "--watchlist", watchlist, "--site", blocker / "public")

    assert outcome.code == 5
    [line] = outcome.stderr.splitlines()
    assert (
        line.startswith(f"Error: {blocker / 'public'}") and ": cannot write the site: Not a directory" in line
    )
    assert "Tunehaven/Terms of Use" in outcome.stdout and "new" in outcome.stdout
    assert tosmon("history", "--watchlist", watchlist).code == 0


def test_site_shows_a_clause_back_after_a_broken_night_as_restored_and_never_flags_it(
    tosmon, tmp_path
) -> None:
    _, _, names = dropped_and_restored(tmp_path / "snapshots")
    build(tosmon, tmp_path / "snapshots", tmp_path / "site")
    page = lxml.html.parse(str(tmp_path / "site" / "Tunehaven" / "Terms-of-Service.html")).getroot()

    def rows(version: str) -> list[tuple[str | None, str]]:
        [section] = page.cssselect(f"section#v-{version}")
        cells = section.cssselect("table.diff td")[1::2]  # the "after" side
        return [(cell.get("class"), " ".join(cell.text_content().split())) for cell in cells]

    # the night after the broken page: the clause is back, carried until the night before the break
    heading = "Terms of Service"  # above the clause, on a line of its own
    assert rows(names[2]) == [("restored", f"{heading}{AI_CLAUSE} (restored: carried until 2026-03-02)")]
    [section] = page.cssselect(f"section#v-{names[2]}")
    assert [a.get("href") for a in section.cssselect("td.restored a")] == [f"#v-{names[0]}"]
    assert section.cssselect("mark.flag") == []
    # four months later the same clause is news again, and flagged
    [section] = page.cssselect(f"section#v-{names[4]}")
    assert [c for c, _ in rows(names[4])] == ["added"]
    marks = flagged_marks(section)
    assert len(marks) == 1 and AI_CLAUSE in marks[0]
