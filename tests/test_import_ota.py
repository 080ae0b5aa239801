"""`tosmon import-ota`: Open Terms Archive declarations become watchlist entries; what cannot is said."""

from __future__ import annotations

import json
from pathlib import Path

from tosmon.errors import ExitCode
from tosmon.models import RangeSelector
from tosmon.watchlist import load_watchlist

DECLARATION = {
    "name": "Example",
    "terms": {
        "Terms of Service": {
            "fetch": "https://example.com/terms",
            "select": [".terms", {"startBefore": "#a", "endBefore": "footer"}],
            "remove": ".ad",
        },
        "Privacy Policy": {
            "combine": [{"fetch": "https://example.com/p1"}, {"fetch": "https://example.com/p2"}],
            "select": "main",
        },
        "Trackers Policy": {
            "fetch": "https://example.com/cookies",
            "select": "main",
            "filter": ["removeTrackingIDs"],
        },
        "Community Guidelines": {
            "fetch": "https://example.com/rules",
            "select": "main[",
            "executeClientScripts": True,
        },
    },
}


def test_import_ota_converts_declarations_into_a_valid_watchlist(tosmon, tmp_path: Path) -> None:
    (tmp_path / "Example.json").write_text(json.dumps(DECLARATION), encoding="utf-8")
    outcome = tosmon("import-ota", tmp_path)
    assert outcome.code == ExitCode.OK
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(outcome.stdout, encoding="utf-8")
    documents = {d.name: d for d in load_watchlist(watchlist).documents}
    assert sorted(documents) == ["Terms of Service", "Trackers Policy"]
    terms = documents["Terms of Service"]
    assert terms.select == (".terms", RangeSelector(start_before="#a", end_before="footer"))
    assert terms.remove == (".ad",)


def test_import_ota_says_what_could_not_be_converted(tosmon, tmp_path: Path) -> None:
    path = tmp_path / "Example.json"
    path.write_text(json.dumps(DECLARATION), encoding="utf-8")
    stderr = tosmon("import-ota", path).stderr.splitlines()
    assert (
        f"not converted: {path}: Example/Privacy Policy: combines 2 pages into one document; "
        "tosmon watches one page per document" in stderr
    )
    assert any(
        line.startswith(
            f"not converted: {path}: Example/Community Guidelines: `select`: CSS selector 'main[' "
        )
        for line in stderr
    )
    assert (
        f"warning: {path}: Example/Trackers Policy: OTA filters (removeTrackingIDs) are JavaScript and "
        "were not converted; if the page churns, add `ignore` patterns" in stderr
    )
    assert stderr[-1] == "converted 2 document(s); 2 not converted"


def test_import_ota_with_nothing_convertible_fails(tosmon, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    outcome = tosmon("import-ota", path)
    assert outcome.code == ExitCode.USAGE
    assert outcome.stderr.splitlines()[-1] == "Error: no declaration could be converted"
    assert outcome.stderr.startswith(f"not converted: {path}: not valid JSON: ")


def test_import_ota_missing_path_names_it(tosmon, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    outcome = tosmon("import-ota", missing)
    assert outcome.code == ExitCode.USAGE
    assert outcome.stderr == (
        f"not converted: {missing}: cannot read: No such file or directory\n"
        "Error: no declaration could be converted\n"
    )
