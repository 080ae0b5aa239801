"""`tosmon add`, `list`, `rename` and `check DOCUMENT...`: managing the watchlist without an editor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tosmon.errors import ExitCode
from tosmon.watchlist import load_watchlist

TERMS = """<html><head><title>Terms</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About us</a></nav>
<main>
<h1>Terms of Service</h1>
<p>Last updated: {date}.</p>
<h2>Your content</h2>
<p>You keep the rights to the music you upload to Tunehaven.</p>
<p>We show your music to the listeners you choose, and nowhere else.</p>
<h2>Acceptable use</h2>
<ul><li>Do not upload music you have no right to share.</li><li>Do not spam other users.</li></ul>
</main>
<footer>© Tunehaven</footer>
</body></html>"""
LOGIN = """<html><head><title>Sign in</title></head><body><form>
<p>Please log in to continue.</p><input type="password" name="pw"></form></body></html>"""
WATCHLIST = """\
# my watchlist
services:
  Tunehaven:   # the music site
    Terms of Service:
      url: {url}
"""


def serve(httpserver: HTTPServer, path: str, body: str) -> str:
    httpserver.expect_request(path).respond_with_data(body, content_type="text/html; charset=utf-8")
    return httpserver.url_for(path)


@pytest.fixture
def site(httpserver: HTTPServer) -> dict[str, str]:
    return {
        "terms": serve(httpserver, "/terms", TERMS.format(date="1 March 2026")),
        "privacy": serve(
            httpserver, "/privacy", TERMS.format(date="2 March 2026").replace("Terms of", "Privacy")
        ),
        "login": serve(httpserver, "/login", LOGIN),
    }


# -- add ------------------------------------------------------------------------------------------


def test_add_fetches_once_shows_what_would_be_recorded_and_appends_the_entry(
    tosmon, watchlist_file, site
) -> None:
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    before = watchlist.read_text(encoding="utf-8")
    outcome = tosmon(
        "add", site["privacy"], "--service", "Tunehaven", "--document", "Privacy Policy",
        "--select", "main", "--watchlist", watchlist,
    )  # fmt: skip
    assert outcome.code == ExitCode.OK, outcome.stderr
    size = len(TERMS.format(date="2 March 2026").replace("Terms of", "Privacy").encode())
    assert outcome.stdout == (
        f"Tunehaven/Privacy Policy: {site['privacy']} (auto)\n"
        f"  fetched: HTTP 200, text/html; charset=utf-8, {size:,} bytes\n"
        "  text: 47 words, 5 clauses\n"
        "  | # Privacy Service\n"
        "  | Last updated: 2 March 2026.\n"
        "  | ## Your content\n"
        "  | You keep the rights to the music you upload to Tunehaven.\n"
        "  | We show your music to the listeners you choose, and nowhere else.\n"
    )
    assert outcome.stderr == (
        f"added Tunehaven/Privacy Policy to {watchlist}; the next `tosmon check` records its first version\n"
    )
    assert watchlist.read_text(encoding="utf-8") == before + (
        f"    Privacy Policy:\n      url: {site['privacy']}\n      select: main\n"
    )
    added = load_watchlist(watchlist).find("Tunehaven/Privacy Policy")
    assert added.select == ("main",)
    assert not (watchlist.parent / "snapshots").exists()  # nothing recorded: the next check does it


def test_add_dry_run_shows_but_leaves_the_watchlist_alone(tosmon, watchlist_file, site) -> None:
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    before = watchlist.read_text(encoding="utf-8")
    outcome = tosmon(
        "add",
        site["privacy"],
        "--service",
        "Other",
        "--document",
        "Privacy",
        "--dry-run",
        "--watchlist",
        watchlist,
    )
    assert outcome.code == ExitCode.OK
    assert outcome.stdout.startswith(f"Other/Privacy: {site['privacy']} (auto)\n")
    assert outcome.stderr == f"not added to {watchlist} (--dry-run)\n"
    assert watchlist.read_text(encoding="utf-8") == before


def test_add_refuses_a_login_page_unless_forced(tosmon, watchlist_file, site) -> None:
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    before = watchlist.read_text(encoding="utf-8")
    args = ("add", site["login"], "--service", "Tunehaven", "--document", "Rules", "--watchlist", watchlist)
    refused = tosmon(*args)
    assert refused.code == ExitCode.DOCUMENT_FAILED
    assert refused.stdout.endswith("  problem: the site answered with a login page instead of the document\n")
    assert refused.stderr == (
        "Error: Tunehaven/Rules: the site answered with a login page instead of the document: not added "
        "(fix --select/--remove, which `tosmon extract` helps to tune, try --fetcher browser, or add it anyway with --force)\n"
    )
    assert watchlist.read_text(encoding="utf-8") == before
    forced = tosmon(*args, "--force")
    assert forced.code == ExitCode.OK
    assert "Tunehaven/Rules" in {d.id for d in load_watchlist(watchlist).documents}


def test_add_of_an_unreachable_page_adds_nothing(
    tosmon, watchlist_file, site, httpserver: HTTPServer
) -> None:
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    missing = httpserver.url_for("/gone")
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    outcome = tosmon("add", missing, "--service", "Tunehaven", "--document", "Gone", "--watchlist", watchlist)
    assert outcome.code == ExitCode.DOCUMENT_FAILED
    assert outcome.stderr.startswith("Error: Tunehaven/Gone: HTTP 404")
    assert outcome.stderr.endswith(": not added (check the URL, or try --fetcher browser)\n")
    assert [d.id for d in load_watchlist(watchlist).documents] == ["Tunehaven/Terms of Service"]


def test_add_refuses_a_document_already_watched_before_fetching(
    tosmon, watchlist_file, site, httpserver: HTTPServer
) -> None:
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    outcome = tosmon(
        "add",
        site["privacy"],
        "--service",
        "Tunehaven",
        "--document",
        "Terms of Service",
        "--watchlist",
        watchlist,
    )
    assert (outcome.code, outcome.stdout) == (ExitCode.USAGE, "")
    assert outcome.stderr == (
        f"Error: Tunehaven/Terms of Service is already in {watchlist}: choose another --document, "
        "or rename the one there (`tosmon rename`)\n"
    )
    assert not httpserver.log  # nothing was fetched


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("ftp://x.example/t",),
            "Error: URL 'ftp://x.example/t': expected an http(s) URL such as https://example.com/terms\n",
        ),
        (("https://x.example/t", "--select", "main["), "Error: --select 'main[': invalid CSS selector: "),
    ],
)
def test_add_refuses_bad_arguments_in_one_line(tosmon, tmp_path: Path, args, error) -> None:
    watchlist = tmp_path / "watchlist.yaml"
    outcome = tosmon("add", *args, "--service", "S", "--document", "D", "--watchlist", watchlist)
    assert outcome.code == ExitCode.USAGE
    assert outcome.stderr.startswith(error) and outcome.stderr.count("\n") == 1
    assert not watchlist.exists()


def test_add_creates_a_missing_watchlist_that_check_then_uses(tosmon, tmp_path: Path, site) -> None:
    watchlist = tmp_path / "watchlist.yaml"
    added = tosmon(
        "add", site["terms"], "--service", "Tunehaven", "--document", "Terms", "--watchlist", watchlist
    )
    assert added.code == ExitCode.OK
    checked = tosmon("check", "--watchlist", watchlist, "--json")
    assert checked.code == ExitCode.CHANGED
    assert [d["status"] for d in json.loads(checked.stdout)["documents"]] == ["new"]


# -- list -----------------------------------------------------------------------------------------


def test_list_shows_each_document_with_its_latest_version_and_status(
    tosmon, watchlist_file, site, httpserver: HTTPServer
) -> None:
    broken = httpserver.url_for("/broken")
    httpserver.expect_request("/broken").respond_with_data("down", status=404)
    watchlist = watchlist_file(
        WATCHLIST.format(url=site["terms"])
        + f"    Privacy Policy:\n      url: {site['privacy']}\n      fetcher: auto\n"
        + f"  Broken:\n    Terms:\n      url: {broken}\n"
    )
    tosmon("check", "--watchlist", watchlist, "Tunehaven/Terms of Service", "Broken/Terms")
    listed = tosmon("list", "--watchlist", watchlist, "--json")
    assert listed.code == ExitCode.OK, listed.stderr
    rows = json.loads(listed.stdout)["documents"]
    assert [(r["id"], r["fetcher"], r["versions"], r["status"]) for r in rows] == [
        ("Tunehaven/Terms of Service", "auto", 1, "ok"),
        ("Tunehaven/Privacy Policy", "auto", 0, "not checked yet"),
        ("Broken/Terms", "auto", 0, "failing"),
    ]
    assert rows[0]["url"] == site["terms"] and rows[0]["latest_version"].endswith("Z")
    assert rows[2]["problem"].startswith("HTTP 404")
    table = tosmon("list", "--watchlist", watchlist)
    assert table.code == ExitCode.OK
    assert "tosmon list: 3 documents (times in UTC)" in table.stdout
    assert "failing" in table.stdout and "not checked yet" in " ".join(table.stdout.split())


# -- check DOCUMENT... ----------------------------------------------------------------------------


def test_check_named_documents_and_services_only(
    tosmon, watchlist_file, site, httpserver: HTTPServer
) -> None:
    watchlist = watchlist_file(
        WATCHLIST.format(url=site["terms"])
        + f"    Privacy Policy:\n      url: {site['privacy']}\n"
        + f"  Other:\n    Terms:\n      url: {site['terms']}\n"
    )
    outcome = tosmon(
        "check", "Tunehaven/Privacy Policy", "--service", "Other", "--watchlist", watchlist, "--json"
    )
    assert outcome.code == ExitCode.CHANGED, outcome.stderr
    checked = [(d["service"], d["document"]) for d in json.loads(outcome.stdout)["documents"]]
    assert sorted(checked) == [("Other", "Terms"), ("Tunehaven", "Privacy Policy")]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("Tunehaven/Terms of service",), "Error: unknown document 'Tunehaven/Terms of service' (expected "
         "'Service/Document type'); did you mean 'Tunehaven/Terms of Service'?\n"),
        (("--service", "tunehaven"), "Error: unknown service 'tunehaven' in {watchlist}; did you mean 'Tunehaven'?\n"),
        (("Tunehaven",), "Error: 'Tunehaven' is a service: use --service Tunehaven, or name a document\n"),
    ],
)  # fmt: skip
def test_check_refuses_unknown_names_in_one_line(
    tosmon, watchlist_file, site, httpserver, args, error
) -> None:
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    outcome = tosmon("check", *args, "--watchlist", watchlist)
    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        ExitCode.USAGE,
        "",
        error.format(watchlist=watchlist),
    )
    assert not httpserver.log


# -- rename ---------------------------------------------------------------------------------------


def two_nights(tosmon, watchlist: Path, httpserver: HTTPServer) -> None:
    """Two checks of Tunehaven's terms, the second after they changed: two versions."""
    tosmon("check", "--watchlist", watchlist)
    httpserver.clear()
    serve(httpserver, "/terms", TERMS.format(date="9 April 2026"))
    assert tosmon("check", "--watchlist", watchlist).code == ExitCode.CHANGED


def test_rename_moves_the_history_and_edits_the_watchlist(tosmon, watchlist_file, site, httpserver) -> None:
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    two_nights(tosmon, watchlist, httpserver)
    history = tosmon("history", "Tunehaven/Terms of Service", "--watchlist", watchlist, "--json").stdout
    stamps = [v["version"] for v in json.loads(history)["versions"]]
    outcome = tosmon("rename", "Tunehaven/Terms of Service", "Terms of Use", "--watchlist", watchlist)
    assert outcome.code == ExitCode.OK, outcome.stderr
    store = watchlist.parent / "snapshots"
    assert outcome.stdout == (
        "moved the history of Tunehaven/Terms of Service (2 versions) to Tunehaven/Terms of Use: "
        f"{store / 'Tunehaven' / 'Terms-of-Use'}\n"
        f"renamed Tunehaven/Terms of Service to Tunehaven/Terms of Use in {watchlist}\n"
    )
    assert watchlist.read_text(encoding="utf-8") == WATCHLIST.format(url=site["terms"]).replace(
        "Terms of Service:", "Terms of Use:"
    )
    moved = json.loads(tosmon("history", "Tunehaven/Terms of Use", "--watchlist", watchlist, "--json").stdout)
    assert [v["version"] for v in moved["versions"]] == stamps
    assert not (store / "Tunehaven" / "Terms-of-Service").exists()
    assert tosmon("verify", "--watchlist", watchlist).code == ExitCode.OK
    # the next check carries on from the latest version instead of starting again
    again = json.loads(tosmon("check", "--watchlist", watchlist, "--json").stdout)
    assert [d["status"] for d in again["documents"]] == ["unchanged"]


def test_rename_to_another_service_moves_the_entry_with_its_settings(
    tosmon, watchlist_file, site, httpserver
) -> None:
    watchlist = watchlist_file(
        WATCHLIST.format(url=site["terms"])
        + f"    Privacy Policy:  # shared with the label\n      url: {site['privacy']}\n      select: main\n"
        + f"  Label:\n    Terms:\n      url: {site['terms']}\n"
    )
    assert tosmon("check", "--watchlist", watchlist).code == ExitCode.CHANGED
    outcome = tosmon("rename", "Tunehaven/Privacy Policy", "Label/Privacy", "--watchlist", watchlist)
    assert outcome.code == ExitCode.OK, outcome.stderr
    assert watchlist.read_text(encoding="utf-8") == (
        WATCHLIST.format(url=site["terms"])
        + f"  Label:\n    Terms:\n      url: {site['terms']}\n"
        + f"    Privacy:  # shared with the label\n      url: {site['privacy']}\n      select: main\n"
    )
    assert tosmon("verify", "--watchlist", watchlist).code == ExitCode.OK
    assert json.loads(tosmon("history", "Label/Privacy", "--watchlist", watchlist, "--json").stdout)[
        "versions"
    ]


def test_rename_refuses_a_new_name_already_watched(tosmon, watchlist_file, site, httpserver) -> None:
    watchlist = watchlist_file(
        WATCHLIST.format(url=site["terms"]) + f"    Privacy:\n      url: {site['privacy']}\n"
    )
    tosmon("check", "--watchlist", watchlist)
    before = watchlist.read_text(encoding="utf-8")
    outcome = tosmon("rename", "Tunehaven/Terms of Service", "Tunehaven/Privacy", "--watchlist", watchlist)
    assert (outcome.code, outcome.stderr) == (
        ExitCode.USAGE,
        f"Error: Tunehaven/Privacy is already in {watchlist}: choose another name\n",
    )
    assert watchlist.read_text(encoding="utf-8") == before
    assert (watchlist.parent / "snapshots" / "Tunehaven" / "Terms-of-Service" / "document.json").exists()


def test_check_warns_when_a_new_document_has_the_url_of_a_stored_one(
    tosmon, watchlist_file, site, httpserver
) -> None:
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    two_nights(tosmon, watchlist, httpserver)
    watchlist.write_text(
        WATCHLIST.format(url=site["terms"]).replace("Terms of Service:", "Terms:"), encoding="utf-8"
    )
    outcome = tosmon("check", "--watchlist", watchlist, "--json")
    assert outcome.code == ExitCode.DOCUMENT_FAILED
    assert outcome.stderr == (
        "warning: 'Tunehaven/Terms' has the URL of stored 'Tunehaven/Terms of Service': did you rename it? "
        "`tosmon rename 'Tunehaven/Terms of Service' Tunehaven/Terms` moves its history; not checked until then "
        f"(to start a new history instead, move {watchlist.parent / 'snapshots' / 'Tunehaven' / 'Terms-of-Service'} "
        "out of the store)\n"
    )
    assert json.loads(outcome.stdout)["documents"] == []
    # renamed by hand in the watchlist: `rename` moves only the history, and the check carries on
    renamed = tosmon("rename", "Tunehaven/Terms of Service", "Tunehaven/Terms", "--watchlist", watchlist)
    assert renamed.code == ExitCode.OK, renamed.stderr
    assert renamed.stdout.startswith(
        "moved the history of Tunehaven/Terms of Service (2 versions) to Tunehaven/Terms"
    )
    again = tosmon("check", "--watchlist", watchlist, "--json")
    assert (again.code, again.stderr) == (ExitCode.OK, "")
    assert [d["status"] for d in json.loads(again.stdout)["documents"]] == ["unchanged"]


def test_add_shows_a_selector_that_matches_nothing_and_does_not_add_it(tosmon, watchlist_file, site) -> None:
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    outcome = tosmon(
        "add", site["privacy"], "--service", "Tunehaven", "--document", "Privacy", "--select", "#legal",
        "--watchlist", watchlist,
    )  # fmt: skip
    assert outcome.code == ExitCode.DOCUMENT_FAILED
    assert "  text: 0 words, 0 clauses\n  problem: " in outcome.stdout
    assert outcome.stderr.startswith("Error: Tunehaven/Privacy: ") and "not added" in outcome.stderr
    assert "Privacy" not in watchlist.read_text(encoding="utf-8")


def test_rename_refuses_a_new_name_that_already_has_a_history(
    tosmon, watchlist_file, site, httpserver
) -> None:
    watchlist = watchlist_file(
        WATCHLIST.format(url=site["terms"]) + f"    Privacy:\n      url: {site['privacy']}\n"
    )
    tosmon("check", "--watchlist", watchlist)
    watchlist.write_text(WATCHLIST.format(url=site["terms"]), encoding="utf-8")  # Privacy left the watchlist
    outcome = tosmon("rename", "Tunehaven/Terms of Service", "Privacy", "--watchlist", watchlist)
    assert (outcome.code, outcome.stdout) == (ExitCode.USAGE, "")
    assert outcome.stderr == (
        f"Error: Tunehaven/Privacy already has a history in {watchlist.parent / 'snapshots'}; "
        "rename that one first, or choose another name\n"
    )
    assert watchlist.read_text(encoding="utf-8") == WATCHLIST.format(url=site["terms"])


def test_rename_to_a_name_with_the_same_folder_rewrites_only_the_description(
    tosmon, watchlist_file, site, httpserver
) -> None:
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    tosmon("check", "--watchlist", watchlist)
    outcome = tosmon("rename", "Tunehaven/Terms of Service", "Terms-of-Service", "--watchlist", watchlist)
    assert outcome.code == ExitCode.OK, outcome.stderr
    folder = watchlist.parent / "snapshots" / "Tunehaven" / "Terms-of-Service"
    assert json.loads((folder / "document.json").read_text())["document"] == "Terms-of-Service"
    assert tosmon("verify", "--watchlist", watchlist).code == ExitCode.OK
    assert json.loads(
        tosmon("history", "Tunehaven/Terms-of-Service", "--watchlist", watchlist, "--json").stdout
    )["versions"]


SCRIPTED = """<!doctype html><html><head><title>Terms</title></head><body><main id="terms"></main>
<script>document.getElementById("terms").innerHTML = "<h1>Terms</h1><p>" +
  "You keep every right to the music you upload, and you may remove it whenever you like. ".repeat(3) +
  "</p><p>We may use your uploads to train our artificial intelligence models.</p>";</script></body></html>"""


def test_add_of_a_page_written_by_javascript_renders_it_unless_told_plain_http(
    tosmon, watchlist_file, site, httpserver: HTTPServer
) -> None:
    from tosmon.fetch.browser import find_chromium

    pytest.importorskip("playwright", reason="Playwright is not installed: pip install 'tosmon[browser]'")
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine: apt-get install chromium")
    url = serve(httpserver, "/app", SCRIPTED)
    watchlist = watchlist_file(WATCHLIST.format(url=site["terms"]))
    args = ("add", url, "--service", "Tunehaven", "--document", "App Terms", "--watchlist", watchlist)
    plain = tosmon(*args, "--fetcher", "http")
    assert plain.code == ExitCode.DOCUMENT_FAILED
    assert plain.stderr == (
        "Error: Tunehaven/App Terms: the page has no text (empty page?): not added (fix --select/--remove, "
        "which `tosmon extract` helps to tune, try --fetcher browser, or add it anyway with --force)\n"
    )
    auto = tosmon(*args)  # the default, auto: plain HTTP, then the browser
    assert auto.code == ExitCode.OK, auto.stderr
    assert auto.stdout.startswith(f"Tunehaven/App Terms: {url} (auto)\n")
    assert (
        "  rendered in the browser: plain HTTP gave no document (the page has no text (empty page?))\n"
        in auto.stdout
    )
    assert "  | We may use your uploads to train our artificial intelligence models.\n" in auto.stdout
    assert load_watchlist(watchlist).find("Tunehaven/App Terms").fetcher == "auto"
