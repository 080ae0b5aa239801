"""`tosmon site DIR`: static HTML pages of the history, opened from disk, also in a real headless browser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import lxml.html
import pytest
from test_history import HOSTILE_CLAUSE, TRAINING_CLAUSE, two_versions, with_hostile_version

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
    assert [a.get("href") for a in index.cssselect("a")] == ["Tunehaven/Terms-of-Use.html"]
    document = lxml.html.parse(str(page)).getroot()
    local = [a.get("href") for a in document.cssselect("a") if not a.get("href").startswith(("http", "#"))]
    assert local and all((page.parent / unquote(href)).resolve().is_file() for href in local)
    raw = [href for href in local if "/raw/" in href]
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
