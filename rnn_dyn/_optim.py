"""The optimiser of every training run: Adam after global-norm clipping."""

from __future__ import annotations

from typing import Any

import optax
from jaxtyping import Array


def optimizer(clip: float, lr: float = 1e-3) -> optax.GradientTransformation:
    """Adam after global-norm clipping; its learning rate is set every epoch."""
    adam = optax.inject_hyperparams(optax.adam)(learning_rate=lr)
    if clip > 0:
        return optax.chain(optax.clip_by_global_norm(clip), adam)
    return optax.chain(optax.identity(), adam)


def set_lr(opt_state: Any, lr: Array) -> Any:
    """Return ``opt_state`` with Adam's learning rate set to ``lr``."""
    clip_state, adam_state = opt_state
    hyper = dict(adam_state.hyperparams, learning_rate=lr)
    return clip_state, adam_state._replace(hyperparams=hyper)


def update(
    opt: optax.GradientTransformation, grads: Any, opt_state: Any, trainable: Any
) -> tuple[Any, Any]:
    """One optimiser step: ``(new trainable, new opt_state)``."""
    import jax

    # optax mixes its int32 step count with float parameters; keep that
    # working under a strict promotion setting of the caller.
    with jax.numpy_dtype_promotion("standard"):
        updates, opt_state = opt.update(grads, opt_state, trainable)
    return optax.apply_updates(trainable, updates), opt_state
