"""`tosmon diff OLD NEW` and `tosmon extract FILE` on local files."""

from __future__ import annotations

import json
from pathlib import Path

from tosmon.errors import ExitCode

OLD = """<html><body><nav>Menu</nav><div id="terms">
<h1>Terms</h1><p>You own your posts. We may suspend accounts that break these terms.</p>
</div><div class="promo">Try our premium plan!</div></body></html>"""
NEW = """<html><body><nav>Menu</nav><div id="terms">
<h1>Terms</h1><p>You own your posts. We may suspend accounts that break these Terms.</p>
<p>You grant us a worldwide, royalty-free, sublicensable licence to use your posts to train our AI models.</p>
</div><div class="promo">Try our new premium plan!</div></body></html>"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_diff_of_two_html_files_reports_clause_changes_and_flags_as_json(tosmon, tmp_path: Path) -> None:
    old, new = write(tmp_path, "old.html", OLD), write(tmp_path, "new.html", NEW)
    outcome = tosmon("diff", old, new, "--select", "#terms", "--json")
    assert outcome.code == ExitCode.CHANGED
    report = json.loads(outcome.stdout)
    new_clause = "You grant us a worldwide, royalty-free, sublicensable licence to use your posts to train our AI models."
    assert report["added"] == [new_clause]
    assert report["removed"] == []
    assert report["changed"] == [
        {
            "old": "We may suspend accounts that break these terms.",
            "new": "We may suspend accounts that break these Terms.",
        }
    ]
    assert {f["category"] for f in report["flags"]} >= {"licensing", "training"}
    assert all(f["clause"] == new_clause and f["heading"] == "Terms" for f in report["flags"])


def test_diff_of_identical_texts_exits_zero(tosmon, tmp_path: Path) -> None:
    old = write(tmp_path, "a.txt", "# Terms\n\nSame text.\n")
    new = write(tmp_path, "b.txt", "# Terms\n\nSame text.\n")
    outcome = tosmon("diff", old, new)
    assert (outcome.code, outcome.stdout) == (ExitCode.OK, "")


def test_diff_uses_text_files_as_is(tosmon, tmp_path: Path) -> None:
    old = write(tmp_path, "a.md", "# Terms\n\nWe respect your privacy.\n")
    new = write(
        tmp_path,
        "b.md",
        "# Terms\n\nWe respect your privacy.\n\n<b>Nous utilisons vos contenus pour entraîner nos modèles d'intelligence artificielle.</b>\n",
    )
    report = json.loads(tosmon("diff", old, new, "--json").stdout)
    assert report["added"] == [
        "<b>Nous utilisons vos contenus pour entraîner nos modèles d'intelligence artificielle.</b>"
    ]
    assert "training" in {f["category"] for f in report["flags"]}


def test_diff_of_a_missing_file_is_a_usage_error(tosmon, tmp_path: Path) -> None:
    outcome = tosmon("diff", tmp_path / "nope.html", tmp_path / "nope2.html")
    assert outcome.code == ExitCode.USAGE
    assert outcome.stderr == f"Error: {tmp_path / 'nope.html'}: No such file or directory\n"


def test_extract_prints_the_selected_text_without_recording_anything(tosmon, tmp_path: Path) -> None:
    page = write(tmp_path, "page.html", NEW)
    outcome = tosmon("extract", page, "--select", "#terms", "--remove", "h1")
    assert outcome.code == ExitCode.OK
    assert outcome.stdout.splitlines() == [
        "You own your posts. We may suspend accounts that break these Terms.",
        "You grant us a worldwide, royalty-free, sublicensable licence to use your posts to train our AI models.",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_extract_with_an_invalid_selector_names_it(tosmon, tmp_path: Path) -> None:
    outcome = tosmon("extract", write(tmp_path, "page.html", OLD), "--select", "div[[")
    assert outcome.code == ExitCode.USAGE
    assert outcome.stderr.startswith("Error: invalid CSS selector 'div[[':")
