"""One training epoch of one seed, jitted: `make_train_step` and its kernels.

A sequence task's epoch is its shuffled minibatch steps in one `lax.scan`; a
language model's is truncated BPTT over the windows of its streams
(`rnn_dyn.train._lm`). Either way `make_train_step` returns a `TrainStep`:
the jitted kernel and the training arrays it runs on, which `fit` maps over
seeds and the benchmarks time as it is.
"""

from __future__ import annotations

import functools as ft
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import tasks as tasks_module
from .._losses import reduce_loss, resolve_loss
from .._optim import optimizer, set_lr, update
from .._simulate import _cost, _rollout
from ..models._base import Model, Stabilizable, param_shapes, params_dtype, prepared
from ..tasks.wikitext import streams, windows
from . import _lm
from ._config import STABILIZERS, TrainConfig
from ._data import LMData


class TrainStep(NamedTuple):
    """A seed's training epoch and the arrays it trains on.

    ``step(params, x0, opt_state, lr, key)`` runs ``kernel(params, x0,
    opt_state, lr, key, inputs, targets)`` and returns ``(params, x0,
    opt_state, metrics)``, ``metrics`` a dict with the epoch's mean
    ``"loss"`` (and, for the language model, its next-word ``"accuracy"``).

    Attributes:
        kernel: The jitted epoch of one seed.
        inputs: Training inputs: sequences `(S, T, m)` or windows `(K, B, T)`.
        targets: Their targets.
    """

    kernel: Callable[..., tuple[Any, Any, Any, dict[str, Any]]]
    inputs: Any
    targets: Any

    def __call__(self, params, x0, opt_state, lr, key):
        """Train one epoch from ``(params, x0, opt_state)`` at learning rate ``lr``."""
        return self.kernel(params, x0, opt_state, lr, key, self.inputs, self.targets)


class _Statics(NamedTuple):
    """The static part of the jitted epoch: what shapes the computation.

    Runs that differ only in epochs, seeds, schedule or orbits share one
    compilation.
    """

    batch_size: int
    clip: float
    learn_x0: bool
    stabilize: tuple[str, str] | None
    loss_fn: Callable
    last_only: bool
    reduction: str = "mean"
    shuffle: bool = True


def _statics(config: TrainConfig, model: Model, task: tasks_module.Task) -> _Statics:
    loss_fn, _ = resolve_loss(task.loss, task.output_size)
    return _Statics(
        config.batch_size,
        config.clip,
        config.learn_x0,
        stabilizer(model, config.stabilize),
        loss_fn,
        task.last_only,
        config.loss_reduction,
        config.shuffle,
    )


def batch_objective(statics: _Statics, model: Model, trainable, us, ys):
    """``(objective, mean loss)`` of a minibatch: the objective is differentiated.

    The mean loss is averaged over sequences and time steps; the objective is
    that mean, or with ``statics.reduction == "sum"`` the sum over sequences
    and counted steps (the authors' ``reduction="sum"``).
    """
    params, x0 = trainable
    x0 = x0 if statics.learn_x0 else jax.lax.stop_gradient(x0)
    fast, params = prepared(model, params)
    loss_fn, last_only = statics.loss_fn, statics.last_only
    cost = lambda u, y: _cost(fast, params, x0, u, y, loss_fn, 0, last_only)
    mean = jnp.mean(jax.vmap(cost)(us, ys))
    terms = us.shape[0] * (1 if last_only else us.shape[1])
    return reduce_loss(mean, terms, statics.reduction), mean


@ft.partial(jax.jit, static_argnums=(0, 1))
def _epoch(statics, model, params, x0, opt_state, lr, key, us, ys):
    """One epoch for one seed: shuffled minibatch steps in a scan."""
    n_batches = us.shape[0] // min(statics.batch_size, us.shape[0])
    size = us.shape[0] // n_batches
    order = jnp.arange(us.shape[0])
    if statics.shuffle:
        order = jax.random.permutation(key, order)
    order = order[: n_batches * size]
    opt = optimizer(statics.clip)
    opt_state = set_lr(opt_state, lr)

    def step(carry, idx):
        trainable, opt_state = carry
        grad_fn = jax.value_and_grad(batch_objective, argnums=2, has_aux=True)
        (_, loss), grads = grad_fn(statics, model, trainable, us[idx], ys[idx])
        (params, x0), opt_state = update(opt, grads, opt_state, trainable)
        if statics.stabilize is not None:
            mode, norm = statics.stabilize
            params = model.stabilize(params, mode=mode, norm=norm)
        return ((params, x0), opt_state), loss

    (trainable, opt_state), losses = jax.lax.scan(
        step, ((params, x0), opt_state), order.reshape(n_batches, size)
    )
    return trainable[0], trainable[1], opt_state, {"loss": jnp.mean(losses)}


@ft.partial(jax.jit, static_argnums=(0, 1))
def _evaluate(statics, model, params, x0, us, ys):
    """Loss and accuracy of one seed on a whole set."""
    loss_fn, last_only = statics.loss_fn, statics.last_only
    model, params = prepared(model, params)

    def one(u, y):
        outputs = _rollout(model, params, x0, u).outputs
        if last_only:
            logits = outputs[-1]
            correct = jnp.argmax(logits).astype(y.dtype) == y
            return loss_fn(logits, y), correct.astype(logits.dtype)
        return jnp.mean(jax.vmap(loss_fn)(outputs, y)), jnp.zeros((), outputs.dtype)

    loss, correct = jax.vmap(one)(us, ys)
    return jnp.mean(loss), jnp.mean(correct)


def stabilizer(model: Model, name: str) -> tuple[str, str] | None:
    """``(mode, norm)`` of the projection after each step; None for a model without."""
    return STABILIZERS[name] if isinstance(model, Stabilizable) else None


def param_dtype(model: Any) -> Any:
    """The float dtype of ``model.init``'s parameters, without drawing them."""
    return params_dtype(param_shapes(model))


def sequence_arrays(task: tasks_module.Task, split: str, dtype: Any) -> tuple:
    """``(inputs, targets)`` of a split (``"train"`` or ``"val"``) as JAX arrays."""
    label_dtype = jnp.int32 if task.classification else dtype
    inputs = getattr(task, f"{split}_inputs")
    targets = getattr(task, f"{split}_targets")
    return jnp.asarray(inputs, dtype), jnp.asarray(targets, label_dtype)


def make_train_step(config: TrainConfig, model: Any, data: Any) -> TrainStep:
    """Return the jitted training epoch of one seed for ``config``.

    Args:
        config: The run's configuration (batch size, clipping, BPTT window,
            dropout, projection mode).
        model: The model, from `make_model`.
        data: The task's data: a `rnn_dyn.tasks.Task`, or `LMData` for the
            language model.

    Returns:
        A `TrainStep`: call it as ``step(params, x0, opt_state, lr, key)``.

    Raises:
        ValueError: If the language model's corpus is too short for one
            window of ``config.batch_size`` streams.
    """
    if isinstance(data, LMData):
        statics = _lm.LMStatics(
            config.clip,
            config.dropout,
            stabilizer(model.core, config.stabilize),
            config.loss_reduction,
        )
        try:
            inputs, targets = windows(
                streams(data.train, config.batch_size), config.bptt
            )
        except ValueError as err:
            raise ValueError(f"lm data: {err}") from None
        return TrainStep(ft.partial(_lm.lm_epoch, statics, model), inputs, targets)
    statics = _statics(config, model, data)
    inputs, targets = sequence_arrays(data, "train", param_dtype(model))
    return TrainStep(ft.partial(_epoch, statics, model), inputs, targets)


def make_evaluate(config: TrainConfig, model: Any, data: Any) -> Callable:
    """Return ``evaluate(params, x0, split) -> (loss, accuracy)`` of one seed.

    ``split`` is ``"train"`` or ``"val"`` for a sequence task, ``"val"`` or
    ``"test"`` for the language model (whose perplexity is ``exp(loss)``).
    """
    dtype = param_dtype(model)
    if isinstance(data, LMData):
        try:
            sets = {
                split: _lm.eval_windows(tokens, config.bptt, np.dtype(dtype))
                for split, tokens in (("val", data.val), ("test", data.test))
            }
        except ValueError as err:
            raise ValueError(f"lm data: {err}") from None
        return lambda params, x0, split: _lm.lm_evaluate(
            model, params, x0, *sets[split]
        )
    statics = _statics(config, model, data)
    sets = {s: sequence_arrays(data, s, dtype) for s in ("train", "val")}
    return lambda params, x0, split: _evaluate(statics, model, params, x0, *sets[split])
