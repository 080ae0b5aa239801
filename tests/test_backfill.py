"""`tosmon backfill`: past versions from a local server speaking the Wayback Machine's CDX API."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from test_history import DOCUMENT, demo_page, recorded_store

from tosmon.check import check
from tosmon.flag.rules import load_taxonomy
from tosmon.sources.backfill import POLITE, backfill
from tosmon.store.files import Store
from tosmon.watchlist import load_watchlist

URL = DOCUMENT.url
WATCHLIST = f"""services:
  Tunehaven:
    Terms of Use:
      url: {URL}
"""
TRAINING_CLAUSE = "may be used to train, develop and improve artificial intelligence"
# The same terms with a different build id: new bytes, same text.
REBUILT = demo_page(1).replace(b'window.__build = "', b'window.__build = "x')
CAPTURES = [
    ("20221215040000", demo_page(1)),  # before --since
    ("20230301040000", demo_page(1)),
    ("20230901040000", demo_page(1)),  # same digest as the capture before: collapsed by the index
    ("20231201040000", REBUILT),
    ("20240207120000", demo_page(2)),  # the AI-training clause appears
    ("20240601040000", REBUILT),  # rolled back for a while: its digest was fetched before
    ("20250101040000", demo_page(2)),
    ("20260105040000", demo_page(1)),  # after --until
]


def digest(body: bytes) -> str:
    """The CDX digest: base 32 of the body's SHA-1."""
    return base64.b32encode(hashlib.sha1(body).digest()).decode()


@dataclass
class Archive:
    """A Wayback-like archive on 127.0.0.1: the CDX index and the original bytes of each capture."""

    url: str = ""
    original: str = URL  # the archived page's address
    captures: list[tuple[str, bytes]] = field(default_factory=lambda: list(CAPTURES))
    live: bytes = b""  # what the page itself serves now, at /live/terms
    requests: list[str] = field(default_factory=list)
    failing: dict[str, int] = field(default_factory=dict)  # timestamp -> status answered instead
    busy: dict[str, int] = field(default_factory=dict)  # timestamp -> how many more 503 answers
    cdx_body: bytes | None = None  # a broken index answer, when set

    def cdx(self, query: dict[str, list[str]]) -> bytes:
        if self.cdx_body is not None:
            return self.cdx_body
        start = query["from"][0].ljust(14, "0")
        end = query.get("to", ["9"])[0].ljust(14, "9")
        fields = query["fl"][0].split(",")
        rows, last = [], None
        for timestamp, body in self.captures:
            row = {
                "urlkey": "example,tunehaven)/legal/terms",  # unused by tosmon, as in the real index
                "timestamp": timestamp,
                "original": query["url"][0],
                "mimetype": "text/html",
                "statuscode": "200",
                "digest": digest(body),
                "length": str(len(body)),
            }
            if not start <= timestamp <= end or query["url"][0] != self.original:
                continue
            if "digest" in query.get("collapse", []) and row["digest"] == last:
                continue
            last = row["digest"]
            rows.append([row[f] for f in fields])
        return json.dumps([fields, *rows] if rows else []).encode()


@pytest.fixture
def archive() -> Iterator[Archive]:
    state = Archive()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            parts = urlsplit(self.path)
            if parts.path == "/cdx/search/cdx":
                self.answer(200, state.cdx(parse_qs(parts.query)), "application/json")
                return
            if parts.path == "/live/terms":
                self.answer(200, state.live, "text/html; charset=utf-8")
                return
            for timestamp, body in state.captures:
                if self.path == f"/web/{timestamp}id_/{state.original}":
                    status = state.failing.get(timestamp, 200)
                    if state.busy.get(timestamp):
                        state.busy[timestamp] -= 1
                        status = 503
                    self.answer(status, body if status == 200 else b"busy", "text/html; charset=utf-8")
                    return
            self.answer(404, b"not archived", "text/plain")

        def answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if status == 503:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def run_backfill(tosmon, watchlist: Path, archive: Archive, *extra: str):
    return tosmon(
        "backfill", "Tunehaven/Terms of Use", "--since", "2023-01-01", "--until", "2025-12-31",
        "--archive-url", archive.url, "--delay", "0", "--watchlist", watchlist, *extra,
    )  # fmt: skip


def history(tosmon, watchlist: Path) -> list[dict]:
    outcome = tosmon("history", "Tunehaven/Terms of Use", "--watchlist", watchlist, "--json")
    return json.loads(outcome.stdout)["versions"]


def captures_fetched(archive: Archive) -> list[str]:
    return [path.split("/")[2] for path in archive.requests if path.startswith("/web/")]


def test_backfill_flags_the_training_clause_on_its_capture_date(tosmon, watchlist_file, archive) -> None:
    watchlist = watchlist_file(WATCHLIST)
    outcome = run_backfill(tosmon, watchlist, archive)
    assert outcome.code == 2, outcome.stderr
    assert "new AI training clause in Tunehaven/Terms of Use on 2024-02-07" in " ".join(
        outcome.stdout.split()
    )
    versions = history(tosmon, watchlist)
    assert [v["date"] for v in versions] == [
        "2023-03-01T04:00:00+00:00",
        "2024-02-07T12:00:00+00:00",
        "2024-06-01T04:00:00+00:00",
        "2025-01-01T04:00:00+00:00",
    ]
    assert {v["source"] for v in versions} == {"archive"}
    assert [bool(v["flags"]) for v in versions] == [False, True, False, True]
    assert "training" in {f["category"] for f in versions[1]["flags"]}
    capture = versions[1]["snapshot"]
    assert capture["requested_url"] == f"{archive.url}/web/20240207120000id_/{URL}"
    assert capture["fetched_at"] == "2024-02-07T12:00:00+00:00"
    assert Path(capture["path"]).read_bytes() == demo_page(2)


def test_backfill_asks_the_cdx_index_as_documented(tosmon, watchlist_file, archive) -> None:
    run_backfill(tosmon, watchlist_file(WATCHLIST), archive)
    query = parse_qs(urlsplit(archive.requests[0]).query)
    assert urlsplit(archive.requests[0]).path == "/cdx/search/cdx"
    assert query == {
        "url": [URL],
        "from": ["20230101"],
        "to": ["20251231"],
        "output": ["json"],
        "fl": ["timestamp,original,statuscode,digest,mimetype"],
        "filter": ["statuscode:200"],
        "collapse": ["digest"],
    }


def test_backfill_fetches_each_digest_once(tosmon, watchlist_file, archive) -> None:
    run_backfill(tosmon, watchlist_file(WATCHLIST), archive)
    assert captures_fetched(archive) == ["20230301040000id_", "20231201040000id_", "20240207120000id_"]


def test_backfill_run_again_fetches_nothing_and_records_nothing(tosmon, watchlist_file, archive) -> None:
    watchlist = watchlist_file(WATCHLIST)
    run_backfill(tosmon, watchlist, archive)
    before = history(tosmon, watchlist)
    archive.requests.clear()
    again = run_backfill(tosmon, watchlist, archive)
    assert again.code == 0
    assert captures_fetched(archive) == []
    assert history(tosmon, watchlist) == before


def test_interrupted_backfill_continues_where_it_stopped(tosmon, watchlist_file, archive) -> None:
    watchlist = watchlist_file(WATCHLIST)
    archive.busy["20240207120000"] = 100  # busy beyond the retries: the backfill stops there
    first = backfill(
        Store(watchlist.parent / "snapshots").open(), DOCUMENT, since=date(2023, 1, 1), until=date(2025, 12, 31),
        archive=archive.url, taxonomy=load_taxonomy(), settings=replace(POLITE, host_delay=0, backoff=0.01),
    )  # fmt: skip
    assert [r.status for r in first.results] == ["new", "unchanged", "error"]
    assert [v["date"][:10] for v in history(tosmon, watchlist)] == ["2023-03-01"]
    archive.busy.clear()
    archive.requests.clear()
    second = run_backfill(tosmon, watchlist, archive)
    assert second.code == 2
    assert captures_fetched(archive) == ["20240207120000id_"]
    versions = history(tosmon, watchlist)
    assert [v["date"][:10] for v in versions] == ["2023-03-01", "2024-02-07", "2024-06-01", "2025-01-01"]
    assert [bool(v["flags"]) for v in versions] == [False, True, False, True]


def test_capture_the_archive_cannot_serve_is_reported_and_skipped(tosmon, watchlist_file, archive) -> None:
    watchlist = watchlist_file(WATCHLIST)
    archive.failing["20240207120000"] = 404
    first = run_backfill(tosmon, watchlist, archive)
    assert first.code == 3
    assert "2024-02-07 12:00 error: capture 20240207120000: HTTP 404 Not Found" in first.stderr
    versions = history(tosmon, watchlist)
    assert [v["date"][:10] for v in versions] == ["2023-03-01", "2025-01-01"]  # 2024-06-01: as in 2023
    assert [bool(v["flags"]) for v in versions] == [False, True]
    archive.requests.clear()
    assert run_backfill(tosmon, watchlist, archive).code == 0
    assert captures_fetched(archive) == []


def test_capture_without_text_is_reported_and_skipped(tosmon, watchlist_file, archive) -> None:
    archive.captures = [("20230301040000", b"<html><body></body></html>"), ("20240207120000", demo_page(2))]
    watchlist = watchlist_file(WATCHLIST)
    outcome = run_backfill(tosmon, watchlist, archive)
    assert outcome.code == 3
    assert "capture 20230301040000: the capture has no text (empty page?); not recorded" in outcome.stderr
    assert [v["date"][:10] for v in history(tosmon, watchlist)] == ["2024-02-07"]


def test_backfill_retries_a_busy_archive(tmp_path, archive) -> None:
    archive.busy["20240207120000"] = 2
    store = Store(tmp_path / "snapshots").open()
    result = backfill(
        store, DOCUMENT, since=date(2024, 1, 1), until=date(2024, 12, 31), archive=archive.url,
        taxonomy=load_taxonomy(), settings=replace(POLITE, host_delay=0, backoff=0.01),
    )  # fmt: skip
    assert [r.status for r in result.results] == ["new", "changed"]
    assert captures_fetched(archive).count("20240207120000id_") == 3


def test_backfill_gives_up_on_a_capture_after_the_retries(tmp_path, archive) -> None:
    archive.busy["20240207120000"] = 100
    store = Store(tmp_path / "snapshots").open()
    result = backfill(
        store, DOCUMENT, since=date(2024, 1, 1), until=date(2024, 12, 31), archive=archive.url,
        taxonomy=load_taxonomy(), settings=replace(POLITE, host_delay=0, backoff=0.01),
    )  # fmt: skip
    assert [(r.status, r.error) for r in result.results] == [
        ("error", "capture 20240207120000: HTTP 503 Service Unavailable (gave up after 5 attempts)")
    ]
    assert captures_fetched(archive).count("20240207120000id_") == 1 + POLITE.retries
    assert store.versions(DOCUMENT) == []


def test_backfill_into_a_document_fetched_later_keeps_time_order(tosmon, watchlist_file, archive) -> None:
    watchlist = watchlist_file(WATCHLIST)
    recorded_store(watchlist.parent / "snapshots", [("2026-11-01T04:00:00", demo_page(2))])
    assert run_backfill(tosmon, watchlist, archive).code == 2
    versions = history(tosmon, watchlist)
    assert [(v["date"][:10], v["source"]) for v in versions] == [
        ("2023-03-01", "archive"),
        ("2024-02-07", "archive"),
        ("2024-06-01", "archive"),
        ("2025-01-01", "archive"),
        ("2026-11-01", "fetch"),
    ]
    assert [bool(v["flags"]) for v in versions] == [False, True, False, True, False]
    assert versions[-1]["previous"] == versions[-2]["version"]
    # The same bytes as the later fetch, but each version cites a snapshot from its own date.
    assert [v["snapshot"]["fetched_at"][:10] for v in versions] == [v["date"][:10] for v in versions]


def test_broken_index_answer_is_one_clear_line(tosmon, watchlist_file, archive) -> None:
    archive.cdx_body = b"<html>Service unavailable</html>"
    outcome = run_backfill(tosmon, watchlist_file(WATCHLIST), archive)
    assert outcome.code == 3
    assert outcome.stderr.startswith(
        "Error: Tunehaven/Terms of Use: the archive could not be queried: "
        "the archive's CDX answer is not the expected JSON table: "
    )
    assert outcome.stderr.count("\n") == 1


def test_no_captures_in_range_records_nothing(tosmon, watchlist_file, archive) -> None:
    archive.captures = []
    outcome = run_backfill(tosmon, watchlist_file(WATCHLIST), archive)
    assert outcome.code == 0
    assert "0 versions recorded" in outcome.stdout


def test_backfill_needs_a_watched_document(tosmon, watchlist_file, archive) -> None:
    outcome = tosmon(
        "backfill", "Tunehaven/Terms", "--since", "2023-01-01", "--archive-url", archive.url,
        "--watchlist", watchlist_file(WATCHLIST),
    )  # fmt: skip
    assert outcome.code == 5
    assert outcome.stderr == (
        "Error: unknown document 'Tunehaven/Terms' (expected 'Service/Document type'); "
        "did you mean 'Tunehaven/Terms of Use'?\n"
    )
    assert archive.requests == []


def test_archive_url_must_be_http(tosmon, watchlist_file) -> None:
    outcome = tosmon(
        "backfill", "Tunehaven/Terms of Use", "--since", "2023-01-01", "--archive-url", "ftp://mirror",
        "--watchlist", watchlist_file(WATCHLIST),
    )  # fmt: skip
    assert (outcome.code, outcome.stderr) == (
        5,
        "Error: --archive-url: expected an http(s) URL, got 'ftp://mirror'\n",
    )


def test_links_in_a_capture_point_at_the_page_not_at_the_archive(tosmon, watchlist_file, archive) -> None:
    page = (  # long enough to be a document: a page of a few words is a broken one (health.MIN_WORDS)
        b'<main><h1>Terms</h1><p>Read our <a href="/privacy">privacy policy</a> to learn which data we keep '
        b"about you, why we keep it, for how long, and how you can ask us to delete it.</p></main>"
    )
    archive.captures = [("20240101000000", page)]
    watchlist = watchlist_file(WATCHLIST)
    assert run_backfill(tosmon, watchlist, archive).code == 1
    text = tosmon("show", "Tunehaven/Terms of Use", "--watchlist", watchlist).stdout
    assert "[privacy policy](https://tunehaven.example/privacy)" in text


CORPUS_DOCUMENTS = ["chatgpt--business-privacy-policy", "deepseek--privacy-policy", "vibe--commercial-terms"]


@pytest.mark.parametrize("name", CORPUS_DOCUMENTS)
def test_backfill_records_what_nightly_checks_recorded(corpus, tmp_path, archive, name) -> None:
    """Real archived snapshots: backfilled, they give the versions and flags nightly checks gave."""
    folder = corpus / "replay" / name
    declaration = json.loads((folder / "declaration.json").read_text(encoding="utf-8"))
    steps = [json.loads(line) for line in (folder / "steps.jsonl").read_text(encoding="utf-8").splitlines()]
    pages = [(folder / "snapshots" / f"{step['i']:04d}.html").read_bytes() for step in steps]
    dates = [datetime.fromisoformat(step["date"]) for step in steps]
    archive.original = f"{archive.url}/live/terms"
    settings = {
        "url": archive.original,
        **{k: declaration[k] for k in ("select", "remove") if declaration.get(k)},
    }
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(json.dumps({"services": {"Corpus": {"Terms": settings}}}), encoding="utf-8")
    config = load_watchlist(watchlist)
    nightly = Store(tmp_path / "nightly").open()
    for page, when in zip(pages, dates, strict=True):
        archive.live = page
        check(config.documents, nightly, now=lambda when=when: when)
    archive.captures = [(f"{when:%Y%m%d%H%M%S}", page) for page, when in zip(pages, dates, strict=True)]
    archived = Store(tmp_path / "archived").open()
    backfill(
        archived, config.documents[0], since=dates[0].date(), archive=archive.url,
        taxonomy=load_taxonomy(), settings=replace(POLITE, host_delay=0),
    )  # fmt: skip

    def versions(store: Store) -> list[tuple[datetime, str, object]]:
        return [(v.date, v.text, v.meta["flags"]) for v in store.versions(config.documents[0])]

    assert versions(archived) == versions(nightly)
    assert len(versions(archived)) == 1 + sum(step["text_changed"] for step in steps)


def _without(page: bytes, start: str, end: str) -> bytes:
    text = page.decode()
    return (text[: text.index(start)] + text[text.index(end) :]).encode()


PARTIAL = _without(demo_page(1), "<h2>2. Your content</h2>", "<h2>3. Acceptable use</h2>")  # half rendered
CHALLENGE = (
    b"<html><head><title>Just a moment...</title></head><body>"
    b"<p>Checking your browser before accessing tunehaven.example.</p></body></html>"
)
MAIN = demo_page(2).decode().split('<main id="content">')[1].split("</main>")[0]
DOUBLED = demo_page(2).replace(b"</main>", MAIN.encode() + b"</main>")  # the text served twice


def test_broken_captures_are_kept_as_evidence_reported_and_not_recorded(
    tosmon, watchlist_file, archive
) -> None:
    archive.captures = [
        ("20230301040000", demo_page(1)),
        ("20230601040000", PARTIAL),
        ("20230901040000", demo_page(1)),
        ("20231201040000", CHALLENGE),
        ("20240207120000", demo_page(2)),
        ("20240601040000", DOUBLED),
    ]
    watchlist = watchlist_file(WATCHLIST)
    outcome = run_backfill(tosmon, watchlist, archive)
    assert outcome.code == 2, outcome.stderr  # the training clause, flagged once, on its date
    versions = history(tosmon, watchlist)
    assert [v["date"][:10] for v in versions] == ["2023-03-01", "2024-02-07"]
    assert [bool(v["flags"]) for v in versions] == [False, True]
    assert all(v["changes"]["restored"] == 0 for v in versions)  # nothing was ever lost in between
    broken = [line for line in outcome.stderr.splitlines() if "not recorded, a broken page" in line]
    assert [line[:16] for line in broken] == ["2023-06-01 04:00", "2023-12-01 04:00", "2024-06-01 04:00"]
    assert "added nothing new" in broken[0] and "bot challenge" in broken[1] and "twice" in broken[2]
    assert all("kept as evidence (raw/" in line for line in broken)
    assert "3 broken captures kept as evidence only, not recorded as versions" in outcome.stderr
    raw = Path(watchlist.parent / "snapshots" / "Tunehaven" / "Terms-of-Use" / "raw")
    kept = {hashlib.sha256(p.read_bytes()).digest() for p in raw.iterdir() if p.suffix == ".html"}
    assert {hashlib.sha256(page).digest() for page in (PARTIAL, CHALLENGE, DOUBLED)} <= kept
    archive.requests.clear()
    again = run_backfill(tosmon, watchlist, archive)
    assert (again.code, captures_fetched(archive)) == (0, [])  # broken captures are done too


def test_a_shorter_page_archived_three_times_in_a_row_is_taken_as_the_document(
    tosmon, watchlist_file, archive
) -> None:
    # the same shorter text each time, in new bytes (a new build id), so the index lists each capture
    shorter = [PARTIAL.replace(b'window.__build = "', b'window.__build = "' + n) for n in (b"1", b"2", b"3")]
    archive.captures = [
        ("20230301040000", demo_page(1)),
        *((f"2023{month}01040000", page) for month, page in zip(("06", "07", "08"), shorter, strict=True)),
    ]
    watchlist = watchlist_file(WATCHLIST)
    outcome = run_backfill(tosmon, watchlist, archive)
    assert outcome.stderr.count("not recorded, a broken page") == 2
    assert (
        "2023-08-01 04:00 changed: accepted as the document after 3 such records in a row" in outcome.stderr
    )
    assert [v["date"][:10] for v in history(tosmon, watchlist)] == ["2023-03-01", "2023-08-01"]


def test_an_interrupted_backfill_keeps_counting_broken_captures_in_a_row(
    tosmon, watchlist_file, archive
) -> None:
    shorter = [PARTIAL.replace(b'window.__build = "', b'window.__build = "' + n) for n in (b"1", b"2", b"3")]
    archive.captures = [
        ("20230301040000", demo_page(1)),
        *((f"2023{month}01040000", page) for month, page in zip(("06", "07", "08"), shorter, strict=True)),
    ]
    archive.busy["20230801040000"] = 100  # busy beyond the retries after two shorter captures
    watchlist = watchlist_file(WATCHLIST)
    first = backfill(
        Store(watchlist.parent / "snapshots").open(), DOCUMENT, since=date(2023, 1, 1), until=date(2025, 12, 31),
        archive=archive.url, taxonomy=load_taxonomy(), settings=replace(POLITE, host_delay=0, backoff=0.01),
    )  # fmt: skip
    assert [r.status for r in first.results] == ["new", "unchanged", "unchanged", "error"]
    archive.busy.clear()
    second = run_backfill(tosmon, watchlist, archive)
    assert "2023-08-01 04:00 changed: accepted as the document after 3 such records in a row" in second.stderr
    assert [v["date"][:10] for v in history(tosmon, watchlist)] == ["2023-03-01", "2023-08-01"]
