"""A bad watchlist is refused before anything is fetched, with every problem at its place."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tosmon.errors import ExitCode
from tosmon.watchlist import load_watchlist

CASES = yaml.safe_load((Path(__file__).parent / "data" / "bad_watchlists.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_watchlist_reports_each_problem_at_its_place(tosmon, watchlist_file, case: dict) -> None:
    watchlist = watchlist_file(case["watchlist"])
    if "encoding" in case:  # a file saved by an editor set to another encoding
        watchlist.write_bytes(case["watchlist"].encode(case["encoding"]))
    outcome = tosmon("check", "--watchlist", watchlist)
    assert outcome.code == ExitCode.CONFIG
    assert outcome.stdout == ""
    assert outcome.stderr.splitlines() == [line.format(file=watchlist) for line in case["errors"]]
    assert not (watchlist.parent / "snapshots").exists()


def test_shipped_watchlist_is_valid_and_covers_at_least_25_platforms() -> None:
    watchlist = load_watchlist(Path(__file__).parent.parent / "watchlist.yaml")
    services = {d.service for d in watchlist.documents}
    assert len(services) >= 25
    assert {"Terms of Service", "Privacy Policy"} <= {d.name for d in watchlist.documents}
    # Open Terms Archive declares these two over plain http (both redirect to https): kept as declared
    plain = [d.id for d in watchlist.documents if not d.url.startswith("https://")]
    assert plain == ["Flickr/Community Guidelines", "WordPress.com/Terms of Service"]


def test_watchlist_shape_with_selectors_ranges_and_defaults(watchlist_file) -> None:
    watchlist = load_watchlist(
        watchlist_file("""
defaults: {accept_language: de}
services:
  SoundCloud:
    Terms of Service:
      url: https://soundcloud.com/terms-of-use
      select: "#content"
      remove: [".cookie-banner"]
    Privacy Policy:
      url: https://soundcloud.com/pages/privacy
      select: [{startBefore: "#terms", endBefore: footer}]
      accept_language: en
""")
    )
    terms, privacy = watchlist.documents
    assert terms.id == "SoundCloud/Terms of Service"
    assert terms.select == ("#content",) and terms.remove == (".cookie-banner",)
    assert terms.accept_language == "de" and privacy.accept_language == "en"
    assert privacy.select[0].start_before == "#terms" and privacy.select[0].end_before == "footer"


def test_missing_watchlist_file_is_a_config_error(tosmon, tmp_path: Path) -> None:
    outcome = tosmon("check", "--watchlist", tmp_path / "nope.yaml")
    assert outcome.code == ExitCode.CONFIG
    assert outcome.stderr == (
        f"{tmp_path / 'nope.yaml'}: no such watchlist; pass --watchlist FILE, or see a working one "
        "with `tosmon demo --keep DIR`\n"
    )


def test_shipped_watchlist_fails_cleanly_document_by_document_without_a_network(tmp_path: Path) -> None:
    """In an empty network namespace (no traffic can leave it) every real document fails with its reason.

    Every page is fetched over plain HTTP here: the shipped watchlist renders 227 pages in Chromium, two
    at a time, which would take minutes (tests/test_shipped_watchlist.py checks a sample of them)."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    repo = Path(__file__).parent.parent
    if (
        not shutil.which("unshare")
        or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode
    ):
        pytest.skip("cannot make an empty network namespace here (unshare -n needs root)")
    watchlist = tmp_path / "watchlist.yaml"
    text = (repo / "watchlist.yaml").read_text(encoding="utf-8").replace("fetcher: browser", "fetcher: http")
    watchlist.write_text(text.replace("defaults:\n", "defaults:\n  fetcher: http\n", 1), encoding="utf-8")
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tosmon", "check", "--json",
         "--watchlist", str(watchlist), "--snapshots", str(tmp_path / "store")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(repo)}, timeout=300,
    )  # fmt: skip
    assert result.returncode == ExitCode.DOCUMENT_FAILED, result.stderr
    documents = json.loads(result.stdout)["documents"]
    assert len(documents) == len(load_watchlist(repo / "watchlist.yaml").documents)
    assert "fetcher: browser" not in text
    # a page of a combined document is named first: "https://...: cannot connect..."
    errors = [
        d["error"].split(": ", 1)[1] if d["error"].startswith("http") else d["error"] for d in documents
    ]
    assert all(d["status"] == "error" for d in documents)
    assert all(error.startswith(("cannot connect", "cannot resolve host name")) for error in errors), errors
    assert not list((tmp_path / "store").glob("*/*/versions/*"))


def test_defaults_apply_to_services_listed_before_them(watchlist_file) -> None:
    watchlist = watchlist_file(
        "services:\n"
        "  Tunehaven:\n"
        "    Terms:\n"
        "      url: https://tunehaven.example/terms\n"
        "  Pixelry:\n"
        "    Terms:\n"
        "      url: https://pixelry.example/terms\n"
        "      accept_language: de\n"
        "defaults:\n"
        "  accept_language: fr\n"
        "  ignore: ['Updated: .*']\n"
    )

    documents = load_watchlist(watchlist).documents

    assert [(d.id, d.accept_language, d.ignore) for d in documents] == [
        ("Tunehaven/Terms", "fr", ("Updated: .*",)),
        ("Pixelry/Terms", "de", ("Updated: .*",)),
    ]
