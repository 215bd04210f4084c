"""What the embedded classifier sees: TF-IDF of words and character n-grams, plus the sentence
embedding when the encoder is installed; and the one way a classifier is fitted on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from bot import encoder

_C = 20.0


class Features:
    """Sparse TF-IDF features, plus the sentence embedding when the model was trained with one."""

    def __init__(self, sparse: FeatureUnion, with_embeddings: bool) -> None:
        self.sparse = sparse
        self.with_embeddings = with_embeddings

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        return encoder.get().encode(texts) if self.with_embeddings else None

    def matrix(self, texts: Sequence[str], vectors: np.ndarray | None) -> Any:
        sparse = self.sparse.transform(list(texts))
        if vectors is not None:
            sparse = sp.hstack([sparse, sp.csr_matrix(vectors)], format="csr")
        return sparse.astype(np.float32)


def build_features() -> FeatureUnion:
    return FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )


def _fit(
    texts: Sequence[str], labels: Sequence[str], vectors: np.ndarray | None, *, tol: float = 1e-4
) -> tuple[Features, LogisticRegression]:
    features = Features(build_features().fit(list(texts)), with_embeddings=vectors is not None)
    # float32 halves the optimiser's memory traffic: ~20% faster on BANKING77, same accuracy.
    classifier = LogisticRegression(C=_C, max_iter=3000, tol=tol).fit(features.matrix(texts, vectors), list(labels))
    return features, classifier
