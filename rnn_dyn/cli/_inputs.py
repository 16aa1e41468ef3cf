"""From flags to library objects: the system, the model, the input, the config.

Each function checks what only the command line knows (which flags go
together); the library checks the rest, once, at its public boundary.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """A bad argument found after parsing; reported as one line, exit code 2."""


def setup_jax(args: argparse.Namespace) -> None:
    """Configure JAX before its first import: float64 and host devices.

    On CPU, XLA runs one device per process on few threads; one host device
    per core lets the sharded grid evaluator use every core. The flag only
    shapes the CPU platform, so on a GPU or TPU machine nothing changes.
    """
    import os

    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = f"--xla_force_host_platform_device_count={os.cpu_count() or 1}"
        os.environ["XLA_FLAGS"] = f"{flags} {count}".strip()
    import jax

    if getattr(args, "x64", False):
        jax.config.update("jax_enable_x64", True)


def system_from_args(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    """Return ``(model, params, x0, name)``: ``--model`` if given, else ``--system``."""
    from ..examples import system

    if args.model is not None or args.params is not None:
        return model_from_args(args)
    model, params, x0 = system(
        args.system,
        variant=args.variant,
        r=args.r,
        a=args.a,
        b=args.b,
        size=args.hidden,
        seed=args.seed,
    )
    variant = f" ({args.variant})" if args.system == "chaotic-lstm" else ""
    return model, params, x0, args.system + variant


def model_from_args(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    """Return ``(model, params, x0, title)`` named by ``--model`` and ``--params``.

    ``--params`` is either a training run's directory (the model comes from its
    ``config.json``, the parameters from its ``params.npz``) or an ``.npz``
    for ``--model``; without it the weights are drawn with ``--seed``. Loaded
    parameters must match the model's structure and be finite.
    """
    import jax
    import jax.numpy as jnp

    from .._io import load_params
    from .._validate import check_finite_params
    from ..examples import chaotic_lstm, random_model
    from ..models._base import param_shapes, params_dtype

    if args.params is not None and Path(args.params).is_dir():
        return _model_from_run(args)
    if args.model == "chaotic-lstm":
        if args.params is not None:
            raise UsageError(
                "--params is not for the chaotic LSTM: its weights are fixed"
            )
        model, theta, x0 = chaotic_lstm(args.variant)
        return model, theta, x0, f"chaotic LSTM ({args.variant})"
    if args.model is None:
        raise UsageError("--params FILE.npz needs --model (or give a run directory)")
    sizes = dict(input_size=args.input_size, hidden=args.hidden, readout=args.readout)
    model, theta, _ = random_model(args.model, **sizes, seed=args.seed)
    title = args.model
    if args.params is not None:
        like = param_shapes(model, params_dtype(theta))
        theta = jax.tree_util.tree_map(jnp.asarray, load_params(args.params, like))
        check_finite_params(theta, f"parameters in {args.params}")
        title += f" ({args.params})"
    return model, theta, model.initial_state(theta), title


def _model_from_run(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    from .._validate import check_finite_params
    from ..train import LMData, Run

    run = Run(args.params)
    config = run.config()
    if config.task == "lm":
        raise UsageError(
            f"--params: {args.params} is a language-model run; this "
            "command takes a sequence model"
        )
    if args.model is not None and args.model != config.model:
        raise UsageError(
            f"--model {args.model} differs from the run's model "
            f"{config.model} in {args.params}"
        )
    model = run.model()
    assert not isinstance(model, LMData)
    theta = run.params(model=model)
    check_finite_params(theta, f"parameters in {args.params}")
    title = f"{config.model} on {config.task} ({args.params})"
    return model, theta, model.initial_state(theta), title


def constant_input(
    args: argparse.Namespace, model: Any, dtype: Any, steps: int = 1
) -> tuple[Any, Any]:
    """Return ``(u, us)``: ``--input`` and it repeated for ``steps`` steps.

    ``u`` has shape `(m,)` (zeros without ``--input``), ``us`` `(steps, m)`.
    """
    import jax.numpy as jnp

    m = model.input_size
    values = args.input or (0.0,)
    if m == 0 and args.input:
        raise UsageError("--input given, but this model takes no input")
    if len(values) not in (1, m):
        raise UsageError(
            f"--input must hold 1 or {m} values (the input size), got {len(values)}"
        )
    u = jnp.broadcast_to(jnp.asarray(values, dtype), (m,))
    return u, jnp.broadcast_to(u, (steps, m))


LM_ONLY = ("data", "embed", "dropout", "max_tokens")
# Flags that only shape the process (not the run) and flags read elsewhere.
_NOT_CONFIG = {
    "task",
    "epochs",
    "resume",
    "cache_corpus",
    "out",
    "json",
    "x64",
    "no_plot",
    "quiet",
    "command",
    "func",
    "orbit_words",
}


def train_config(args: argparse.Namespace) -> Any:
    """The `TrainConfig` of ``rnn-dyn train``: from the flags, or the run to resume.

    Flags not given stay None, so `TrainConfig` fills them from the task's
    `rnn_dyn.train.TASK_DEFAULTS`, exactly as for a config built in Python.
    """
    from ..train import Run, TrainConfig

    if args.resume:
        try:
            saved = Run(args.out).config()
        except ValueError as err:
            raise UsageError(f"cannot resume: {err}") from None
        if saved.task != args.task:
            raise UsageError(f"cannot resume: {args.out} is a {saved.task} run")
        return dataclasses.replace(saved, epochs=args.epochs or saved.epochs)
    lm = args.task == "lm"
    if lm and not args.data:
        raise UsageError("train lm needs --data DIR, a WikiText directory")
    given = [f for f in LM_ONLY if getattr(args, f) is not None]
    if not lm and given:
        raise UsageError(f"--{given[0].replace('_', '-')} is for the lm task only")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in fields - _NOT_CONFIG}
    return TrainConfig(
        task=args.task,
        epochs=args.epochs or 100,
        orbit_words=args.orbit_words or (),
        **values,
    )
