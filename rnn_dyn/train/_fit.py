r"""The fit loop: optax Adam with clipping, several seeds at once, checkpoints, resume.

One epoch is one jitted call (`make_train_step`), `jax.vmap`-ed over seeds, so
``seeds=(0, 1, 2, 3)`` trains four independent models (each with its own
initialisation, batch order, optimiser state and learning-rate schedule) for
about the price of one on a GPU. A seed's run does not depend on which other
seeds train beside it, up to rounding (vmapped code rounds differently, and a
long run can grow that into a different outcome). Batches and schedules
depend only on (seed, epoch), so a resumed run (`Run.resume`) ends with
exactly the parameters of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array

from .. import tasks as tasks_module
from .._optim import optimizer
from ..models._base import prepared
from ..orbit import lm_orbits, logit_projections, orbit_outputs, projections
from . import _lm
from ._config import TrainConfig
from ._data import LMData, make_data, make_model
from ._run import Run
from ._step import make_evaluate, make_train_step, param_dtype


class TrainState(NamedTuple):
    """What `fit` carries from epoch to epoch, with a leading seed axis.

    Attributes:
        params: Model parameters.
        x0: Initial states `(seeds, n)` (learned with ``learn_x0``).
        opt_state: The optax state.
        plateau: The reduce-on-plateau state.
        epoch: Epochs done.
    """

    params: Any
    x0: Any
    opt_state: Any
    plateau: Any
    epoch: int


class FitResult(NamedTuple):
    """What `fit` returns.

    Attributes:
        state: The final `TrainState` (leading seed axis).
        history: One dict per epoch and seed, with ``HISTORY_FIELDS``.
        model: The model trained.
        task: The task's data: a `Task`, or `LMData` for the language model.
        test: Per seed ``{"test_loss", "test_acc"}`` on the test split at the
            end (language model), else empty.
    """

    state: TrainState
    history: list[dict[str, Any]]
    model: Any
    task: Any
    test: tuple[dict[str, float], ...] = ()


def _plateau(config: TrainConfig) -> optax.GradientTransformationExtraArgs:
    return optax.contrib.reduce_on_plateau(
        factor=config.factor, patience=config.patience
    )


def init_state(config: TrainConfig, model: Any) -> TrainState:
    """Initialise parameters, optimiser and schedule states for every seed."""
    keys = jnp.stack([jax.random.key(s) for s in config.seeds])
    params = jax.vmap(model.init)(keys)
    x0 = jax.vmap(model.initial_state)(params)
    # The language model's state is carried between windows, never learned.
    trainable = params if config.task == "lm" else (params, x0)
    opt_state = jax.vmap(optimizer(config.clip, config.lr).init)(trainable)
    plateau = jax.vmap(lambda _: _plateau(config).init(jnp.zeros(())))(keys)
    return TrainState(params, x0, opt_state, plateau, 0)


def _learning_rates(config: TrainConfig, state: TrainState) -> np.ndarray:
    """The learning rate of each seed for the next epoch."""
    base = config.lr * config.gamma ** sum(m <= state.epoch for m in config.milestones)
    lr = np.full(
        len(config.seeds), base if config.schedule == "multistep" else config.lr
    )
    if config.schedule == "plateau":
        lr = lr * np.asarray(state.plateau.scale)
    return lr


def _over_seeds(fn: Callable, n_seeds: int) -> Callable:
    """``fn`` mapped over a leading seed axis of every argument and output.

    With one seed the axis is dropped and added back instead of vmapped: XLA's
    layouts for a batch of one cost 10-20 % on CPU.
    """
    if n_seeds > 1:
        return jax.vmap(fn)

    def one(*args):
        out = fn(*jax.tree_util.tree_map(lambda a: a[0], args))
        return jax.tree_util.tree_map(lambda a: a[None], out)

    return one


def _orbit_inits(
    config: TrainConfig, n_inputs: int, state_size: int, dtype: Any
) -> Array:
    """The orbits' initial states: `(i, n)` shared, or `(i, k, n)` per input.

    Drawn once, from ``data_seed``, and used at every recorded epoch.
    """
    key = jax.random.key(config.data_seed + 10_007)
    per_input = () if config.orbit_shared_inits else (n_inputs,)
    shape = (config.orbit_inits, *per_input, state_size)
    return config.orbit_std * jax.random.normal(key, shape, dtype)


def _orbit_recorder(
    config: TrainConfig, model: Any, data: Any
) -> tuple[Callable[[Any], Any], dict[str, Any]]:
    """``(orbits, meta)``: a seed's orbit record from its params, and the rest.

    ``meta`` is what ``orbit.npz`` stores once: inputs, initial states, labels.
    """
    dtype = param_dtype(model)
    steps = dict(steps=config.orbit_steps, burn_in=config.orbit_burn_in)
    if not isinstance(data, LMData):
        inputs = jnp.asarray(data.orbit_inputs, dtype)
        inits = _orbit_inits(config, len(inputs), model.state_size, dtype)
        meta = {
            "inputs": inputs,
            "inits": inits,
            "labels": np.asarray(data.orbit_labels),
        }
        return lambda p: orbit_outputs(
            *prepared(model, p), inputs, inits, **steps
        ), meta
    vocabulary = data.corpus.words
    if config.orbit_words:
        words = [data.corpus.index(w) for w in config.orbit_words]  # checks them
    else:
        rng = np.random.default_rng(config.data_seed)
        pool = min(
            config.orbit_word_pool or data.corpus.vocab_size, data.corpus.vocab_size
        )
        words = sorted(rng.choice(pool, 2, replace=False).tolist())
    names = [vocabulary[w] for w in words]
    inits = _orbit_inits(config, len(words), model.state_size, dtype)
    if config.orbit_space == "logits":
        affine = lambda p: logit_projections(
            model, p, config.orbit_projections, vocabulary
        )
    else:
        affine = lambda p: (
            projections(model, p, config.orbit_projections, vocabulary),
            None,
        )
    if config.orbit_every:  # check the names before the first epoch (traced only)
        jax.eval_shape(affine, jax.eval_shape(model.init, jax.random.key(0)))
    meta = {
        "inputs": np.asarray(words),
        "inits": inits,
        "labels": np.asarray(names + [f"{n} (feedback)" for n in names]),
        "projections": np.asarray(config.orbit_projections),
        "space": np.asarray(config.orbit_space),
    }
    words = np.asarray(words)

    def record(p):
        directions, offsets = affine(p)
        return lm_orbits(model, p, words, inits, directions, offsets=offsets, **steps)

    return record, meta


def fit(
    config: TrainConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    corpus: tasks_module.Corpus | None = None,
) -> FitResult:
    """Train ``config.model`` on ``config.task`` for every seed at once.

    Args:
        config: The run's `TrainConfig`.
        out: Run directory (see `Run`); None trains in memory (no files, no
            orbits kept).
        resume: Continue the run in ``out`` from its ``state.msgpack``; its
            ``config.json`` must match ``config`` except for ``epochs``.
            (Keyword only.)
        progress: Show a progress bar on stderr. (Keyword only.)
        on_epoch: Called with each epoch's history row of the first seed.
            (Keyword only.)
        corpus: The language model's corpus, already read (e.g. with
            ``read_corpus(..., cache=True)``); None reads ``config.data``.
            (Keyword only.)

    Returns:
        A `FitResult`.

    Raises:
        ValueError: If ``resume`` finds no run, a corrupted one, or one with a
            different configuration; or ``out`` holds a run and ``resume`` is
            False; or the corpus lacks a split, a word or tokens.
    """
    data = make_data(config, corpus)
    model = make_model(config, data)
    dtype = param_dtype(model)
    n_seeds = len(config.seeds)
    step = _over_seeds(make_train_step(config, model, data), n_seeds)
    evaluate = make_evaluate(config, model, data)
    classification = isinstance(data, LMData) or data.classification
    orbits, orbit_meta = _orbit_recorder(config, model, data)
    state, history = init_state(config, model), []
    run = Run(out) if out is not None else None
    with contextlib.ExitStack() as stack:
        if run is not None:
            stack.enter_context(run.lock())  # held until fit returns or fails
            digest = data.corpus.digest if isinstance(data, LMData) else ""
            if resume:
                state, history = run.resume(config, state, digest)
            else:
                run.create(config, digest)
        bar = _progress(config.epochs, state.epoch, progress)
        if bar is not None:
            stack.callback(bar.close)
            if config.task == "lm":  # windows move the bar
                stack.enter_context(_lm.window_progress(bar.update))

        def record(state: TrainState) -> None:
            if run is not None and config.orbit_every:
                outputs = [
                    orbits(jax.tree_util.tree_map(lambda a, i=i: a[i], state.params))
                    for i in range(n_seeds)
                ]
                run.record(config, state.epoch, state.params, outputs, orbit_meta)

        def epoch_metrics(params, x0, metrics):
            if "accuracy" not in metrics:  # the whole training set after the epoch
                metrics = metrics | {"accuracy": evaluate(params, x0, "train")[1]}
            return metrics, evaluate(params, x0, "val")

        metrics_fn = _over_seeds(epoch_metrics, n_seeds)
        if state.epoch == 0 and config.orbit_untrained:
            record(state)
        while state.epoch < config.epochs:
            lr = _learning_rates(config, state)
            if config.schedule == "plateau" and np.all(lr < config.min_lr):
                break
            start = time.perf_counter()
            keys = jnp.stack(
                [
                    jax.random.fold_in(jax.random.key(s), state.epoch + 1)
                    for s in config.seeds
                ]
            )
            lr_array = jnp.asarray(lr, dtype)
            params, x0, opt_state, metrics = step(
                state.params, state.x0, state.opt_state, lr_array, keys
            )
            metrics, (val_loss, val_acc) = metrics_fn(params, x0, metrics)
            plateau = _update_plateau(config, state.plateau, val_loss)
            state = TrainState(params, x0, opt_state, plateau, state.epoch + 1)
            jax.block_until_ready((state, metrics, val_loss, val_acc))
            seconds = time.perf_counter() - start  # of computing, not dispatch
            values = {
                "train_loss": metrics["loss"],
                "val_loss": val_loss,
                "lr": lr,
                "seconds": np.full(n_seeds, seconds),
            }
            if classification:
                values |= {"train_acc": metrics["accuracy"], "val_acc": val_acc}
            rows = _history_rows(config, state.epoch, values)
            history.extend(rows)
            if config.orbit_every and state.epoch % config.orbit_every == 0:
                record(state)
            if run is not None:
                run.save(config, state, history)
            if bar is not None:
                bar.n = state.epoch
                bar.set_postfix(loss=f"{rows[0]['train_loss']:.4g}")
            if on_epoch is not None:
                on_epoch(rows[0])
    test: tuple[dict[str, float], ...] = ()
    if isinstance(data, LMData):
        test_fn = _over_seeds(lambda p, x0: evaluate(p, x0, "test"), n_seeds)
        loss, acc = test_fn(state.params, state.x0)
        test = tuple({"test_loss": float(loss[i]), "test_acc": float(acc[i])}
                     for i in range(n_seeds))  # fmt: skip
    return FitResult(state, history, model, data, test)


def _history_rows(
    config: TrainConfig, epoch: int, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """One history row per seed (accuracies NaN where there are none)."""
    return [
        {"epoch": epoch, "seed": seed, "train_acc": math.nan, "val_acc": math.nan}
        | {name: float(v[i]) for name, v in values.items()}
        for i, seed in enumerate(config.seeds)
    ]


def _update_plateau(config: TrainConfig, plateau: Any, val_loss: Array) -> Any:
    """Each seed's reduce-on-plateau state after an epoch's validation loss."""
    if config.schedule != "plateau":
        return plateau
    update = lambda s, v: _plateau(config).update(jnp.zeros((), v.dtype), s, value=v)
    with jax.numpy_dtype_promotion("standard"):  # as optax's Adam
        return jax.vmap(lambda s, v: update(s, v)[1])(plateau, val_loss)


def _progress(total: int, done: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="epoch", file=sys.stderr, leave=False)
