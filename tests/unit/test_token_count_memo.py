"""``TokenCountMemo``: counts once per text, bounded, long texts passed through."""

from __future__ import annotations

from models.llm import TokenCountMemo


class CountingTokenizer:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str) -> int:
        self.calls.append(text)
        return len(text.split())


def test_a_recurring_text_is_counted_once_in_german_and_english() -> None:
    tokenizer = CountingTokenizer()
    memo = TokenCountMemo(tokenizer)
    for _ in range(3):
        assert memo("Wie verbinde ich mich mit dem VPN?") == 7
        assert memo("How do I reset my password?") == 6
    assert tokenizer.calls == ["Wie verbinde ich mich mit dem VPN?", "How do I reset my password?"]


def test_the_least_recently_used_text_leaves_first() -> None:
    tokenizer = CountingTokenizer()
    memo = TokenCountMemo(tokenizer, max_entries=2)
    memo("eins zwei")
    memo("three four five")
    memo("eins zwei")  # now the most recent
    memo("sechs")  # pushes out "three four five"
    assert len(memo) == 2
    memo("eins zwei")
    memo("three four five")
    assert tokenizer.calls == ["eins zwei", "three four five", "sechs", "three four five"]


def test_texts_over_the_limit_are_counted_every_time_and_not_kept() -> None:
    tokenizer = CountingTokenizer()
    memo = TokenCountMemo(tokenizer, max_chars=10)
    long = "Passwort zurücksetzen bitte"
    assert memo(long) == memo(long) == 3
    assert tokenizer.calls == [long, long]
    assert len(memo) == 0
