"""From flags to library objects: the system, the model, the input, the config.

Each function checks what only the command line knows (which flags go
together); the library checks the rest, once, at its public boundary.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
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


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def given_flags(args: argparse.Namespace) -> set[str]:
    """The flags of the command given: on its command line, or off their default.

    Worked out once per command and kept on ``args``.
    """
    from ._parser import given

    if not hasattr(args, "given"):
        args.given = given(args, getattr(args, "argv", ()))
    return args.given


# Flags of one built-in system alone.
_SYSTEM_ONLY = {"r": "logistic", "a": "henon", "b": "henon", "variant": "chaotic-lstm"}


def _check_system_flags(args: argparse.Namespace, target: str) -> None:
    """Refuse a flag of one built-in system given for another system or model."""
    for name in sorted(given_flags(args) & set(_SYSTEM_ONLY)):
        if target != _SYSTEM_ONLY[name]:
            raise UsageError(f"{_flag(name)} is for {_SYSTEM_ONLY[name]}, not {target}")


def check_system_mode(args: argparse.Namespace) -> bool:
    """Whether ``--system`` names the model (no ``--model``, no ``--params``).

    Refuses the flags the other way would ignore: ``--system`` beside
    ``--model``; the sizes of ``--model`` (``--hidden``, except for the linear
    system's size, ``--input-size``, ``--readout``) and another system's
    parameters beside ``--system``.
    """
    given = given_flags(args)
    if args.model is not None or args.params is not None:
        if "system" in given:
            raise UsageError("--system and --model exclude each other: give one")
        return False
    sizes = {"input_size", "readout"} | (
        {"hidden"} if args.system != "linear" else set()
    )
    for name in sorted(given & sizes):
        raise UsageError(f"{_flag(name)} is for --model, not --system {args.system}")
    _check_system_flags(args, args.system)
    return True


def system_from_args(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    """Return ``(model, params, x0, name)``: ``--model`` if given, else ``--system``."""
    from ..examples import system

    if not check_system_mode(args):
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

    _check_system_flags(args, args.model or f"the run in {args.params}")
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


# Flags of the lm task alone; flags that act only under one schedule.
LM_ONLY = (
    "data",
    "embed",
    "dropout",
    "max_tokens",
    "train_split",
    "bptt",
    "tied",
    "cache_corpus",
    "orbit_words",
    "orbit_projections",
    "orbit_space",
    "orbit_word_pool",
)
_SCHEDULE_ONLY = {
    "milestones": "multistep",
    "gamma": "multistep",
    "patience": "plateau",
    "factor": "plateau",
    "min_lr": "plateau",
}
# Flags that shape the process, not the run.
_PROCESS = {
    "epochs",
    "resume",
    "cache_corpus",
    "out",
    "json",
    "x64",
    "no_plot",
    "quiet",
}


def _as_flags(message: str) -> str:
    """A `TrainConfig` message with its field names written as the flags."""
    from ..train import TrainConfig

    names = "|".join(f.name for f in dataclasses.fields(TrainConfig))
    return re.sub(rf"\b({names})\b", lambda m: _flag(m.group(1)), message)


def _resumed_config(args: argparse.Namespace, given: set[str]) -> Any:
    """The saved config of the run in ``--out``, with the new ``--epochs``."""
    from ..train import Run

    try:
        saved = Run(args.out).config()
    except ValueError as err:
        raise UsageError(f"cannot resume: {err}") from None
    if saved.task != args.task:
        raise UsageError(f"cannot resume: {args.out} is a {saved.task} run")
    for name in sorted(given - _PROCESS):
        value, was = getattr(args, name), getattr(saved, name)
        if (tuple(value) if isinstance(value, list) else value) != was:
            raise UsageError(
                f"{_flag(name)} {_show(value)} differs from the run's {_show(was)}: "
                f"--resume continues {args.out} as it started (only --epochs may "
                "change)"
            )
    return dataclasses.replace(saved, epochs=args.epochs or saved.epochs)


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple | list) else str(value)


def train_config(args: argparse.Namespace) -> Any:
    """The `TrainConfig` of ``rnn-dyn train``: from the flags, or the run to resume.

    Flags not given stay None, so `TrainConfig` fills them from the protocol's
    values for the task (`rnn_dyn.train.PROTOCOLS`), exactly as for a config
    built in Python.
    """
    from ..train import TrainConfig

    given = given_flags(args)
    if args.resume:
        return _resumed_config(args, given)
    lm = args.task == "lm"
    if lm and not args.data:
        raise UsageError("train lm needs --data DIR, a WikiText directory")
    lm_flags = [f for f in LM_ONLY if f in given]
    if not lm and lm_flags:
        raise UsageError(f"{_flag(lm_flags[0])} is for the lm task only")
    if lm and "shuffle" in given:
        raise UsageError(
            "--no-shuffle is for sine and symbols: lm windows are in order"
        )
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in fields - _PROCESS - {"task"}}
    values["orbit_words"] = args.orbit_words or ()
    try:
        config = TrainConfig(task=args.task, epochs=args.epochs or 100, **values)
    except ValueError as err:
        raise UsageError(_as_flags(str(err))) from None
    for name, schedule in _SCHEDULE_ONLY.items():
        if name in given and config.schedule != schedule:
            raise UsageError(
                f"{_flag(name)} is for --schedule {schedule}; this run's schedule "
                f"is {config.schedule}"
            )
    orbit_flags = sorted(
        f for f in given if f.startswith("orbit_") and f != "orbit_every"
    )
    if orbit_flags and not config.orbit_every:
        raise UsageError(f"{_flag(orbit_flags[0])} needs --orbit-every k > 0")
    for name, model in (("stabilize", "slstm"), ("ornn_variant", "ornn")):
        if name in given and config.model != model:
            raise UsageError(
                f"{_flag(name)} is for --model {model}, not {config.model}"
            )
    return config
