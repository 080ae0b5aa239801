from __future__ import annotations


def test_demo_flags_the_ai_training_clause_offline(tosmon) -> None:
    outcome = tosmon("demo")
    assert outcome.code == 0
    assert "new AI training clause" in outcome.stdout
    assert "train, develop and improve artificial intelligence" in " ".join(outcome.stdout.split())
