"""`tosmon check --shard I/N` splits a watchlist deterministically: several machines or cron jobs share a
large watchlist, every document checked by exactly one of them."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tosmon.models import Document
from tosmon.watchlist import shard

DOCUMENTS = tuple(
    Document(f"Service {i}", name, f"https://example.com/{i}")
    for i in range(200)
    for name in ("Terms", "Privacy")
)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 50])
def test_every_document_is_in_exactly_one_shard(count: int) -> None:
    shards = [shard(DOCUMENTS, i, count) for i in range(1, count + 1)]
    assert sorted(d.id for part in shards for d in part) == sorted(d.id for d in DOCUMENTS)
    assert min(map(len, shards)) > 0


def test_shards_do_not_depend_on_the_order_or_the_other_documents_of_the_watchlist() -> None:
    shuffled = list(DOCUMENTS)
    random.Random(7).shuffle(shuffled)
    for i in (1, 2, 3):
        assert {d.id for d in shard(tuple(shuffled), i, 3)} == {d.id for d in shard(DOCUMENTS, i, 3)}
    grown = (*DOCUMENTS, *(Document(f"New {i}", "Terms", "https://example.com/new") for i in range(40)))
    for i in (1, 2, 3):
        assert set(shard(DOCUMENTS, i, 3)) <= set(shard(grown, i, 3))


def test_check_shards_together_check_each_document_once(
    httpserver: HTTPServer, tmp_path: Path, tosmon: Callable[..., Any]
) -> None:
    httpserver.expect_request("/terms").respond_with_data(
        "<html><body><main><p>"
        + "These terms govern your use of the service. " * 8
        + "</p></main></body></html>",
        content_type="text/html",
    )
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        "services:\n"
        + "".join(
            f"  Service {i}:\n    Terms:\n      url: {httpserver.url_for('/terms')}\n" for i in range(12)
        ),
        encoding="utf-8",
    )
    checked = []
    for part in ("1/3", "2/3", "3/3"):
        outcome = tosmon("check", "--json", "--shard", part, "--watchlist", watchlist)
        assert outcome.code in (0, 1)
        checked.append([d["service"] for d in json.loads(outcome.stdout)["documents"]])
    everything = sorted(s for part in checked for s in part)
    assert everything == sorted(f"Service {i}" for i in range(12))
    assert all(part for part in checked)


@pytest.mark.parametrize("value", ["0/3", "4/3", "1/0", "3", "a/b", "-1/2"])
def test_invalid_shard_is_a_usage_error(tmp_path: Path, tosmon: Callable[..., Any], value: str) -> None:
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("services:\n  S:\n    Terms:\n      url: http://127.0.0.1:9/\n", encoding="utf-8")
    outcome = tosmon("check", "--shard", value, "--watchlist", watchlist)
    assert outcome.code == 5
    assert outcome.stderr == f"Error: --shard: expected I/N with 1 <= I <= N, found {value!r}\n"
    assert not (tmp_path / "snapshots").exists()
