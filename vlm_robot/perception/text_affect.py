"""Affect from what a person says, with VADER (a lexicon with negation handling, 0.02 ms a sentence)."""

from __future__ import annotations


class TextAffect:
    """Compound sentiment in [-1, 1] of a sentence (negative = upset, positive = pleased)."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()

    def sentiment(self, text: str) -> float:
        return float(self._vader.polarity_scores(text)["compound"])
