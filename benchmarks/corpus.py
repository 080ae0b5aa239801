"""Where the shared data is: `../shared` beside the checkout, or beside the folder of git worktrees."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared(*parts: str) -> Path:
    """A path inside ../shared (`shared("corpus", "stream")`), whether or not it exists."""
    base = next(
        (c for c in (REPO.parent / "shared", REPO.parent.parent / "shared") if c.is_dir()),
        REPO.parent / "shared",
    )
    return base.joinpath(*parts)
