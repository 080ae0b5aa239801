"""`tosmon import-ota-versions`: the history of an Open Terms Archive versions repository, made by the test."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_history import DOCUMENT, demo_page, fetched

from tosmon.extract.html import page_text

TERMS = "Tunehaven/Terms of Use.md"
OTHER = "Soundhill/Privacy Policy.md"
TRAINING_CLAUSE = "may be used to train, develop and improve artificial intelligence"
PRIVACY = (
    "# Privacy Policy\n\nWe collect your e-mail address when you create an account, and the songs you "
    "listen to so that we can suggest others. We keep them for as long as your account is open and "
    "delete them within thirty days of its closing.\n"
)


def text_of(n: int) -> str:
    return page_text(DOCUMENT, fetched(demo_page(n), datetime(2023, 1, 1, tzinfo=UTC)))


def git(repository: Path, *args: str, date: str = "2023-01-01T00:00:00Z") -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "OTA-Bot",
        "GIT_AUTHOR_EMAIL": "bot@example.org",
        "GIT_COMMITTER_NAME": "OTA-Bot",
        "GIT_COMMITTER_EMAIL": "bot@example.org",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    return subprocess.run(
        ["git", "-C", str(repository), *args], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(repository: Path, files: dict[str, str], date: str, message: str) -> str:
    for name, text in files.items():
        (repository / name).parent.mkdir(parents=True, exist_ok=True)
        (repository / name).write_text(text, encoding="utf-8")
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", message, date=date)
    return git(repository, "rev-parse", "HEAD")


@pytest.fixture
def versions_repository(tmp_path: Path) -> tuple[Path, list[str]]:
    """Three years of two documents' terms, one commit per recorded version, as OTA records them."""
    repository = tmp_path / "demo-versions"
    repository.mkdir()
    git(repository, "init", "-q")
    commits = [
        commit(repository, {"README.md": "# Demo versions\n", TERMS: text_of(1)}, "2023-05-01T04:00:00Z", "First record of Tunehaven Terms of Use"),
        commit(repository, {OTHER: PRIVACY}, "2023-06-01T04:00:00+02:00", "First record of Soundhill Privacy Policy"),
        commit(repository, {"README.md": "# Demo versions, updated\n"}, "2023-07-01T04:00:00Z", "Update README"),
        commit(repository, {TERMS: text_of(2)}, "2024-02-07T12:00:00Z", "Record new changes of Tunehaven Terms of Use"),
    ]  # fmt: skip
    return repository, commits


def history(tosmon, snapshots: Path) -> list[dict]:
    return json.loads(tosmon("history", "--snapshots", snapshots, "--json").stdout)["versions"]


def test_import_records_each_commit_as_a_dated_version_and_flags_ai_clauses(
    tosmon, tmp_path, versions_repository
) -> None:
    repository, commits = versions_repository
    snapshots = tmp_path / "snapshots"
    outcome = tosmon("import-ota-versions", repository, "--snapshots", snapshots)
    assert outcome.code == 2, outcome.stderr
    assert "new AI training clause in Tunehaven/Terms of Use on 2024-02-07" in " ".join(
        outcome.stdout.split()
    )
    versions = history(tosmon, snapshots)
    assert [(v["service"], v["document"], v["date"], v["source"]) for v in versions] == [
        ("Tunehaven", "Terms of Use", "2023-05-01T04:00:00+00:00", "import"),
        ("Soundhill", "Privacy Policy", "2023-06-01T02:00:00+00:00", "import"),
        ("Tunehaven", "Terms of Use", "2024-02-07T12:00:00+00:00", "import"),
    ]
    flagged = versions[2]["flags"]
    assert "training" in {f["category"] for f in flagged}
    assert all(TRAINING_CLAUSE in f["clause"] for f in flagged)
    assert versions[0]["flags"] == versions[1]["flags"] == []
    citation = versions[2]["snapshot"]["final_url"]
    assert citation == f"{repository.resolve().as_uri()}#{commits[3]}:Tunehaven/Terms%20of%20Use.md"
    assert Path(versions[2]["snapshot"]["path"]).read_text(encoding="utf-8") == text_of(2)
    assert Path(versions[2]["path"]).read_text(encoding="utf-8") == text_of(2)


def test_import_again_records_nothing_twice(tosmon, tmp_path, versions_repository) -> None:
    repository, _ = versions_repository
    snapshots = tmp_path / "snapshots"
    tosmon("import-ota-versions", repository, "--snapshots", snapshots)
    before = history(tosmon, snapshots)
    raw = sorted(p.name for p in snapshots.rglob("raw/*"))
    again = tosmon("import-ota-versions", repository, "--snapshots", snapshots)
    assert again.code == 0
    assert "0 versions recorded" in again.stdout
    assert history(tosmon, snapshots) == before
    assert sorted(p.name for p in snapshots.rglob("raw/*")) == raw


def test_import_gives_watched_documents_their_url(tosmon, watchlist_file, versions_repository) -> None:
    repository, _ = versions_repository
    watchlist = watchlist_file(f"services:\n  Tunehaven:\n    Terms of Use:\n      url: {DOCUMENT.url}\n")
    assert tosmon("import-ota-versions", repository, "--watchlist", watchlist).code == 2
    versions = history(tosmon, watchlist.parent / "snapshots")
    assert {(v["service"], v["url"]) for v in versions} == {("Tunehaven", DOCUMENT.url), ("Soundhill", "")}


def test_import_cites_github_commits_without_the_remote_credentials(
    tosmon, tmp_path, versions_repository
) -> None:
    repository, commits = versions_repository
    git(
        repository,
        "remote",
        "add",
        "origin",
        "https://bot:s3cret@github.com/OpenTermsArchive/demo-versions.git",
    )
    tosmon("import-ota-versions", repository, "--snapshots", tmp_path / "snapshots")
    citation = history(tosmon, tmp_path / "snapshots")[2]["snapshot"]["final_url"]
    assert citation == (
        f"https://github.com/OpenTermsArchive/demo-versions/blob/{commits[3]}/Tunehaven/Terms%20of%20Use.md"
    )
    assert not [p for p in (tmp_path / "snapshots").rglob("*.json") if "s3cret" in p.read_text()]


def test_import_of_a_folder_that_is_not_a_repository_is_one_line(tosmon, tmp_path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    outcome = tosmon("import-ota-versions", folder, "--snapshots", tmp_path / "snapshots")
    assert outcome.code == 5
    assert outcome.stderr.startswith(f"Error: {folder}: fatal: not a git repository")
    assert outcome.stderr.count("\n") == 1


def test_import_of_a_missing_folder_names_it(tosmon, tmp_path) -> None:
    outcome = tosmon("import-ota-versions", tmp_path / "nowhere", "--snapshots", tmp_path / "snapshots")
    assert (outcome.code, outcome.stderr) == (5, f"Error: {tmp_path / 'nowhere'}: no such directory\n")


def test_an_empty_file_is_reported_and_the_rest_imported(tosmon, tmp_path, versions_repository) -> None:
    repository, _ = versions_repository
    empty = commit(repository, {"Tunehaven/Cookie Policy.md": ""}, "2024-03-01T00:00:00Z", "First record")
    outcome = tosmon("import-ota-versions", repository, "--snapshots", tmp_path / "snapshots")
    assert outcome.code == 3
    assert (
        outcome.stderr == f"Tunehaven/Cookie Policy: Tunehaven/Cookie Policy.md at {empty[:12]}: empty file\n"
    )
    assert len(history(tosmon, tmp_path / "snapshots")) == 3


def test_import_json_prints_the_results_as_check_does(tosmon, tmp_path, versions_repository) -> None:
    repository, _ = versions_repository
    outcome = tosmon("import-ota-versions", repository, "--snapshots", tmp_path / "snapshots", "--json")
    assert outcome.code == 2
    data = json.loads(outcome.stdout)
    assert data["schema_version"] == 1
    assert [(d["document"], d["status"]) for d in data["documents"]] == [
        ("Terms of Use", "new"),
        ("Privacy Policy", "new"),
        ("Terms of Use", "changed"),
    ]
    assert "training" in {f["category"] for f in data["documents"][2]["flags"]}
