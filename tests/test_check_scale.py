"""Long runs: a fixed set of workers and extraction in worker processes give the same results, in order."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tosmon import check as check_module
from tosmon.check import check
from tosmon.store import Store
from tosmon.watchlist import load_watchlist

PAGE = (
    "<html><body><main><h1>Terms {n}</h1><p>Clause {n}: we keep your data for {n} days.</p>"
    "<p>You may ask us to delete your account and the data it holds at any time, from your settings.</p>"
    "{extra}</main></body></html>"
)


def checked_texts(tmp_path: Path, name: str, watchlist: Path) -> tuple[list[tuple[str, str]], list[str]]:
    store = Store(tmp_path / name).open()
    documents = load_watchlist(watchlist).documents
    seen: list[str] = []
    run = check(documents, store, progress=lambda result: seen.append(result.document.id))
    texts = [(r.document.id, r.status) for r in run.results]
    versions = [store.latest_version(d).text for d in documents]  # type: ignore[union-attr]
    assert sorted(seen) == sorted(d.id for d in documents)  # progress heard once per document
    return texts, versions


def test_check_in_worker_processes_records_the_same_versions_in_watchlist_order(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    services: dict[str, list[str]] = {}
    for n in range(7):
        extra = "<p>We may use your content to train our models.</p>" if n % 3 == 0 else ""
        httpserver.expect_request(f"/terms/{n}").respond_with_data(
            PAGE.format(n=n, extra=extra), content_type="text/html; charset=utf-8"
        )
        services.setdefault(f"Site {n % 3}", []).append(
            f"    Terms {n}:\n      url: {httpserver.url_for(f'/terms/{n}')}"
        )
    lines = ["services:"] + [f"  {name}:\n" + "\n".join(docs) for name, docs in services.items()]
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("\n".join(lines) + "\n", encoding="utf-8")

    in_process = checked_texts(tmp_path, "inline", watchlist)
    monkeypatch.setattr(check_module, "POOL_MIN_DOCUMENTS", 1)
    in_workers = checked_texts(tmp_path, "workers", watchlist)

    assert in_workers == in_process
    assert [status for _, status in in_process[0]] == ["new"] * 7
    assert [doc_id for doc_id, _ in in_process[0]] == [d.id for d in load_watchlist(watchlist).documents]
    assert any("Clause 3: we keep your data for 3 days." in text for text in in_workers[1])
