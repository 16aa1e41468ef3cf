r"""WikiText-style corpora: word tokens, one vocabulary, parallel streams for BPTT.

A corpus directory holds ``train.txt``, ``valid.txt`` and ``test.txt``. Words
are split on whitespace and every line ends with ``<eos>`` (as in the usual
word-level language-model recipe); the vocabulary is built over all splits
present, in order of first appearance (train, valid, test). Files may start
with a UTF-8 byte-order mark.

For training, a split is cut into ``batch`` parallel streams
(`streams`, shape `(batch, L)`) and read in windows of ``bptt`` steps
(`windows`); the target of each token is the next token of its stream, and
the state is carried from one window to the next.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._io import read_npz

SPLITS = ("train", "valid", "test")
EOS = "<eos>"
CACHE_NAME = ".rnn_dyn_corpus.npz"


class Corpus(NamedTuple):
    """A tokenised corpus.

    Attributes:
        words: The vocabulary; token ``i`` is ``words[i]``.
        splits: Token ids of each split present, ``{name: int32 array}``.
        path: The directory read.
        digest: SHA-256 of the split files read (names and contents): a run
            trained on the corpus records it, and resumes only on the same text.
    """

    words: tuple[str, ...]
    splits: dict[str, np.ndarray]
    path: Path
    digest: str = ""

    @property
    def vocab_size(self) -> int:
        """Number of distinct words."""
        return len(self.words)

    def index(self, word: str) -> int:
        """Token id of ``word``.

        Raises:
            ValueError: If the word is not in the vocabulary.
        """
        try:
            return self.words.index(word)
        except ValueError:
            present = ", ".join(f"{s}.txt" for s in self.splits)
            raise ValueError(
                f"word {word!r} is not in the vocabulary ({self.vocab_size} words "
                f"of {present} in {self.path})"
            ) from None


def read_corpus(
    path: str | Path, *, splits: tuple[str, ...] = SPLITS, cache: bool = False
) -> Corpus:
    """Read and tokenise the splits of a WikiText directory.

    Args:
        path: Directory holding ``{split}.txt`` files.
        splits: The splits required; each must exist. (Keyword only.)
        cache: Reuse, or write, the encoded arrays in ``path/.rnn_dyn_corpus.npz``
            (keyed by the files' contents, `Corpus.digest`; an unreadable
            cache is ignored and rewritten). (Keyword only.)

    Returns:
        A `Corpus` whose vocabulary covers ``splits``.

    Raises:
        ValueError: If ``path`` is not a directory or a split's file is
            missing or not UTF-8.
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"corpus directory {str(path)!r} does not exist")
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or not splits:
        raise ValueError(f"splits must be among {SPLITS}, got {splits}")
    files = [path / f"{s}.txt" for s in splits]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise ValueError(
            f"corpus {str(path)!r} has no {', '.join(missing)} "
            "(use --train-split valid to train on valid.txt and test on test.txt)"
        )
    key = _digest(files)
    cached = path / CACHE_NAME
    if cache and cached.is_file():
        try:
            data = read_npz(cached, "corpus cache")
            if str(data["key"]) == key:
                words = tuple(str(w) for w in data["words"])
                return Corpus(words, {s: data[s] for s in splits}, path, key)
        except (ValueError, KeyError):
            pass  # a broken cache: encode again and rewrite it
    vocab: dict[str, int] = {}
    encoded = {}
    for split, file in zip(splits, files, strict=True):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise ValueError(f"{file} is not UTF-8 text ({err.reason})") from None
        tokens = [w for line in text.splitlines() for w in (*line.split(), EOS)]
        encoded[split] = np.fromiter(
            (vocab.setdefault(w, len(vocab)) for w in tokens), np.int32, len(tokens)
        )
    corpus = Corpus(tuple(vocab), encoded, path, key)
    if cache:
        from .._io import save_npz

        save_npz(cached, key=np.asarray(key), words=np.asarray(corpus.words), **encoded)
    return corpus


def _digest(files: list[Path]) -> str:
    """SHA-256 of the files' names and contents, in order."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()


def streams(tokens: np.ndarray, batch: int) -> np.ndarray:
    """Cut a token sequence into ``batch`` parallel streams, shape `(batch, L)`.

    Stream ``b`` is ``tokens[b·L : (b+1)·L]`` with ``L = len(tokens) // batch``;
    the remainder is dropped.

    Raises:
        ValueError: If there are fewer than two tokens per stream.
    """
    length = len(tokens) // batch if batch >= 1 else 0
    if length < 2:
        raise ValueError(
            f"{len(tokens)} tokens are too few for {batch} streams of at least 2"
        )
    return np.asarray(tokens[: batch * length]).reshape(batch, length)


def windows(data: np.ndarray, bptt: int) -> tuple[np.ndarray, np.ndarray]:
    """Split streams `(batch, L)` into the training windows of truncated BPTT.

    Window ``k`` holds the inputs ``data[:, k·bptt : (k+1)·bptt]`` and, as
    targets, the tokens one step later. Returns ``(inputs, targets)``, each of
    shape `(K, batch, bptt)` with ``K = (L - 1) // bptt``: each input position
    before ``K·bptt`` is used exactly once, and the last ``(L - 1) mod bptt``
    steps of each stream (fewer than ``bptt``) are left out of training.

    Raises:
        ValueError: If a stream is shorter than ``bptt + 1``.
    """
    batch, length = data.shape
    k = (length - 1) // bptt if bptt >= 1 else 0
    if k < 1:
        raise ValueError(f"streams of {length} tokens are too short for bptt {bptt}")
    cut = lambda a: a[:, : k * bptt].reshape(batch, k, bptt).transpose(1, 0, 2)
    return cut(data), cut(data[:, 1:])
