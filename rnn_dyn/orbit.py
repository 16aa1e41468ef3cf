r"""Orbits under constant inputs: what a model settles into, recorded over training.

`orbit_outputs` simulates the model from several initial states under each of
several constant inputs, all in one vmapped, jitted call, and keeps the
outputs after a burn-in: the points of a bifurcation diagram at one parameter
value. `append_orbit` adds one such record (one epoch) to an ``orbit.npz``
whose ``outputs`` array has shape `(steps, n_init, n_inputs, n_outputs,
n_records)`, atomically.
"""

from __future__ import annotations

import functools as ft
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._io import save_npz
from ._simulate import _rollout
from ._types import Params
from ._validate import check_params
from .models._base import Model


def orbit_outputs(
    model: Model,
    params: Params,
    inputs: Float[Array, "k m"],
    inits: Float[Array, "i n"],
    *,
    steps: int,
    burn_in: int,
) -> Float[Array, "s i k p"]:
    """Outputs after ``burn_in`` of ``steps`` steps, per initial state and input.

    Args:
        model: The model.
        params: Its parameters.
        inputs: Constant inputs, shape `(k, m)`.
        inits: Initial states, shape `(i, n)`.
        steps: Steps simulated. (Keyword only.)
        burn_in: Leading steps dropped, ``0 <= burn_in < steps``. (Keyword only.)

    Returns:
        Outputs of shape `(steps - burn_in, i, k, p)`; non-finite values are
        kept (a diverging model shows as inf/NaN, not as a gap).

    Raises:
        ValueError: For bad shapes or ``burn_in`` outside ``[0, steps)``.
    """
    check_params(model, params)
    if not 0 <= burn_in < steps:
        raise ValueError(f"need 0 <= burn_in < steps, got {burn_in} and {steps}")
    if inputs.ndim != 2 or inputs.shape[1] != model.input_size:
        raise ValueError(
            f"inputs must have shape (k, {model.input_size}), got {inputs.shape}"
        )
    if inits.ndim != 2 or inits.shape[1] != model.state_size:
        raise ValueError(
            f"inits must have shape (i, {model.state_size}), got {inits.shape}"
        )
    return _orbits(model, params, inputs, inits, steps, burn_in)


@ft.partial(jax.jit, static_argnums=(0, 4, 5))
def _orbits(model, params, inputs, inits, steps, burn_in):
    def one(x0, u):
        us = jnp.broadcast_to(u, (steps, u.shape[0]))
        return _rollout(model, params, x0, us).outputs[burn_in:]

    per_input = jax.vmap(one, in_axes=(None, 0), out_axes=1)  # (s, k, p)
    return jax.vmap(per_input, in_axes=(0, None), out_axes=1)(inits, inputs)


def append_orbit(
    path: str | os.PathLike[str], outputs: Any, epoch: int, **meta: Any
) -> Path:
    """Append one record to ``path`` (created if absent), atomically.

    Args:
        path: The ``orbit.npz``.
        outputs: One record, shape `(steps, n_init, n_inputs, n_outputs)`.
        epoch: Its epoch.
        **meta: Arrays stored once (inputs, initial states, labels); they
            must equal what the file already holds.

    Returns:
        The path.

    Raises:
        ValueError: If the record does not fit the records already stored.
    """
    path = Path(path)
    outputs = np.asarray(outputs)[..., None]
    epochs = np.asarray([epoch])
    if path.exists():
        with np.load(path) as old:
            stored = {k: old[k] for k in old.files}
        if stored["outputs"].shape[:-1] != outputs.shape[:-1]:
            raise ValueError(
                f"{path}: records of shape {stored['outputs'].shape[:-1]}, "
                f"got {outputs.shape[:-1]}"
            )
        keep = stored["epochs"] != epoch  # recording an epoch again replaces it
        outputs = np.concatenate([stored["outputs"][..., keep], outputs], axis=-1)
        epochs = np.concatenate([stored["epochs"][keep], epochs])
    return save_npz(path, outputs=outputs, epochs=epochs, **meta)
