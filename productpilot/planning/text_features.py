"""TF-IDF vectors of short work-item texts, with numpy and scipy only.

Tokens are lower-case words (a letter, then letters, digits or ``_``); word n-grams join
neighbouring tokens with a space. Metadata (item type, labels, feature, team) enters as
tokens of its own (``type=bug``) that ordinary text cannot produce, so it weighs in the
similarity like a rare word without colliding with one.

Example:
    >>> vectorizer = TfidfVectorizer(ngrams=1, min_df=1).fit([["fix", "typo"], ["fix", "db"]])
    >>> vectors = vectorizer.transform([["fix", "typo"]])
    >>> round(float((vectors @ vectors.T).toarray()[0, 0]), 6)  # rows have unit length
    1.0
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

_WORD = re.compile(r"[a-z][a-z0-9_]+")


def words(text: str) -> list[str]:
    """Lower-case words of two characters or more.

    Example:
        >>> words("Fix the NPE in Parser.parse() (v2)")
        ['fix', 'the', 'npe', 'in', 'parser', 'parse', 'v2']
    """
    return _WORD.findall(text.lower())


def metadata_tokens(name: str, values: Iterable[str | None]) -> list[str]:
    """One token ``name=value`` per non-empty value (lower case, inner spaces kept).

    Example:
        >>> metadata_tokens("label", ["Backend", "", None])
        ['label=backend']
    """
    return [f"{name}={value.strip().lower()}" for value in values if value and value.strip()]


def ngrams(tokens: Sequence[str], n: int) -> list[str]:
    """The tokens, then their word pairs, ..., up to ``n``-grams.

    Example:
        >>> ngrams(["migrate", "the", "database"], 2)
        ['migrate', 'the', 'database', 'migrate the', 'the database']
    """
    grams = list(tokens)
    for size in range(2, n + 1):
        grams += [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]
    return grams


class TfidfVectorizer:
    """Sublinear TF-IDF over n-grams, rows scaled to unit length (cosine = dot product).

    ``tf = 1 + log(count)``, ``idf = log((1 + n) / (1 + df)) + 1`` (smoothed, as in
    scikit-learn), terms seen in fewer than ``min_df`` fitted documents dropped.

    Args:
        ngrams: longest word n-gram.
        min_df: least number of fitted documents a term must appear in.
    """

    def __init__(self, *, ngrams: int = 1, min_df: int = 2) -> None:
        if ngrams < 1 or min_df < 1:
            raise ValueError(f"ngrams and min_df must be >= 1, got {ngrams} and {min_df}")
        self.ngrams = ngrams
        self.min_df = min_df
        self.vocabulary: dict[str, int] = {}
        self.idf = np.zeros(0)

    def fit(self, documents: Sequence[Sequence[str]]) -> TfidfVectorizer:
        """Learn the vocabulary and IDF weights from token lists; returns ``self``."""
        frequency: Counter[str] = Counter()
        for tokens in documents:
            frequency.update(set(ngrams(tokens, self.ngrams)))
        kept = sorted(term for term, count in frequency.items() if count >= self.min_df)
        self.vocabulary = {term: column for column, term in enumerate(kept)}
        n = len(documents)
        self.idf = np.array([np.log((1 + n) / (1 + frequency[t])) + 1 for t in kept])
        return self

    def transform(self, documents: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """One unit-length row per token list (all zeros when no term is known)."""
        rows: list[int] = []
        columns: list[int] = []
        values: list[float] = []
        for row, tokens in enumerate(documents):
            counts = Counter(
                column
                for term in ngrams(tokens, self.ngrams)
                if (column := self.vocabulary.get(term)) is not None
            )
            for column, count in counts.items():
                rows.append(row)
                columns.append(column)
                values.append((1 + np.log(count)) * self.idf[column])
        shape = (len(documents), len(self.vocabulary))
        matrix = sp.csr_matrix((values, (rows, columns)), shape=shape, dtype=float)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1 / norms) @ matrix)
