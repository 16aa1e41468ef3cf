"""What a run trains on and what it trains: the task's data and the model."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import tasks as tasks_module
from ._config import TrainConfig


def make_task(config: TrainConfig) -> tasks_module.Task:
    """Return the task's arrays for ``config`` (``"sine"`` or ``"symbols"``)."""
    sizes = {
        k: v for k, v in (("n_train", config.n_train), ("n_val", config.n_val)) if v
    }
    if config.task == "sine":
        return tasks_module.sine(config.seq_len, **sizes)
    return tasks_module.symbols(config.seq_len, seed=config.data_seed, **sizes)


class LMData(NamedTuple):
    """The token ids a language-model run trains, validates and tests on.

    Attributes:
        corpus: The corpus read (vocabulary and splits).
        train: Training tokens.
        val: Validation tokens (drive the plateau schedule).
        test: Test tokens (scored once, at the end).
    """

    corpus: tasks_module.Corpus
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def lm_splits(config: TrainConfig) -> tuple[str, ...]:
    """The corpus splits a language-model run reads (see ``train_split``)."""
    return ("valid", "test") if config.train_split == "valid" else tasks_module.SPLITS


def make_lm_data(
    config: TrainConfig, corpus: tasks_module.Corpus | None = None
) -> LMData:
    """Read ``config.data`` (unless ``corpus`` is given) and pick the splits."""
    needed = lm_splits(config)
    if corpus is None:
        corpus = tasks_module.read_corpus(config.data, splits=needed)
    missing = [s for s in needed if s not in corpus.splits]
    if missing:
        raise ValueError(f"corpus has no {', '.join(missing)} split")
    split = corpus.splits
    if config.train_split == "valid":
        half = len(split["test"]) // 2
        train, val, test = split["valid"], split["test"][:half], split["test"][half:]
    else:
        train, val, test = split["train"], split["valid"], split["test"]
    cut = slice(config.max_tokens)
    return LMData(corpus, train[cut], val[cut], test[cut])


def make_data(
    config: TrainConfig, corpus: tasks_module.Corpus | None = None
) -> tasks_module.Task | LMData:
    """The data of ``config``'s task: a `Task`, or `LMData` for ``"lm"``."""
    return make_lm_data(config, corpus) if config.task == "lm" else make_task(config)


def make_model(config: TrainConfig, data: Any) -> Any:
    """Return the model of ``config``.

    A cell with a readout to the task's outputs, or, for `LMData`, a
    `rnn_dyn.models.LanguageModel` around the cell as its core.
    """
    from .. import models
    from ..examples import cell

    variant = dict(ornn_variant=config.ornn_variant)
    if isinstance(data, LMData):
        inputs = config.embed or config.hidden
        core = cell(config.model, inputs, config.hidden, readout=None, **variant)
        return models.language_model(core, data.corpus.vocab_size, tied=config.tied)
    readout = data.output_size
    return cell(
        config.model, data.input_size, config.hidden, readout=readout, **variant
    )
