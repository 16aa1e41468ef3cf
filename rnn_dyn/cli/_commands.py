"""One function per subcommand: read the flags, call the library, report.

JAX is imported inside each command, after `setup_jax` has set XLA's flags.
Each returns the exit code; a `UsageError` or `ValueError` becomes one line
on stderr with exit code 2 (`rnn_dyn.cli.main`).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ._inputs import (
    UsageError,
    check_system_mode,
    constant_input,
    given_flags,
    model_from_args,
    setup_jax,
    system_from_args,
    train_config,
)
from ._report import Report, emit
from ._reproduce import reproduce as reproduce


def _below(name: str, value: int, limit_name: str, limit: int) -> None:
    if value >= limit:
        raise UsageError(f"{name} must be below {limit_name} ({limit}), got {value}")


def _finite_rows(states: Any) -> Any:
    """The rows of ``states`` without a NaN or inf (what a figure can draw)."""
    states = np.asarray(states)
    return states[np.all(np.isfinite(states), axis=1)]


def _attractor_figure(states: Any, title: str, **kwargs: Any) -> Any:
    """Draw the finite states (None if there are none)."""
    from .. import plotting

    kept = _finite_rows(states)
    return plotting.attractor(kept, title=title, **kwargs) if kept.size else None


def _h_labels(args: argparse.Namespace) -> tuple[str, str] | None:
    chaotic = args.model == "chaotic-lstm" or (
        args.model is None and getattr(args, "system", None) == "chaotic-lstm"
    )
    return ("$h_1$", "$h_2$") if chaotic else None


def _system_command(args: argparse.Namespace, report_name: str, steps: int) -> tuple:
    """How the system commands begin: ``(report, system, name, u, us)``.

    ``system`` is ``(model, params, x0)`` and ``us`` the constant input ``u``
    for ``steps`` steps.
    """
    report = Report(args, report_name)
    setup_jax(args)
    model, params, x0, name = system_from_args(args)
    u, us = constant_input(args, model, x0.dtype, steps)
    return report, (model, params, x0), name, u, us


def simulate(args: argparse.Namespace) -> int:
    """Simulate a system; write trajectory.npz and attractor.png."""
    _below("--burn-in", args.burn_in, "--steps", args.steps)
    report, system, name, _, us = _system_command(args, "simulate", args.steps)
    model, params, x0 = system
    import jax

    import rnn_dyn as rd

    start = time.perf_counter()
    traj = jax.block_until_ready(
        jax.jit(rd.simulate, static_argnums=0)(model, params, x0, us)
    )
    seconds = time.perf_counter() - start
    states, outputs = np.asarray(traj.states), np.asarray(traj.outputs)
    kept = states[args.burn_in :]
    report.arrays(
        "trajectory.npz",
        states=states,
        outputs=outputs,
        x0=np.asarray(x0),
        burn_in=args.burn_in,
    )
    report.figure(
        "attractor.png", lambda: _attractor_figure(kept, name, labels=_h_labels(args))
    )
    finite = _finite_rows(kept)
    summary = {
        "system": args.model or args.system,
        "variant": args.variant if _h_labels(args) else None,
        "steps": args.steps,
        "burn_in": args.burn_in,
        "dtype": str(states.dtype),
        "nonfinite_steps": len(kept) - len(finite),
        "state_min": finite.min(axis=0).tolist() if finite.size else None,
        "state_max": finite.max(axis=0).tolist() if finite.size else None,
        "seconds": round(seconds, 4),
    }
    return report.finish(
        summary,
        f"simulated {name} for {args.steps} steps in "
        f"{seconds:.2f} s ({summary['nonfinite_steps']} non-finite "
        "after burn-in)",
    )


def landscape(args: argparse.Namespace) -> int:
    """Evaluate the loss along a line and over a plane; write figures and data."""
    _below("--burn-in", args.burn_in, "--seq-len", args.seq_len)
    report = Report(args, "summary")
    setup_jax(args)
    model, theta, x0, title = model_from_args(args)
    from rnn_dyn.models import GridMinor

    if args.layout == "minor" and not isinstance(model, GridMinor):
        raise UsageError(
            "--layout minor needs a cell model (lstm, gru, rnn, slstm, "
            f"chaotic-lstm), got {args.model}"
        )
    line, plane, plane_points, us = _evaluate_landscape(args, model, theta, x0)
    summary = _landscape_summary(args, line, plane, plane_points.at_theta)
    report.arrays("landscape.npz", **_landscape_arrays(theta, line, plane))
    _landscape_figures(report, args, (model, theta, x0, us), line, plane, title)
    return report.finish(
        summary,
        f"{title}: loss at θ_true {summary['loss_at_true']:g}; "
        f"line of {line.loss.size} points with {summary['line']['local_minima']} "
        f"local minima; plane {plane.loss.shape} with "
        f"{summary['grid']['nonfinite']} non-finite; "
        f"{summary['points_per_second']} points/s",
    )


def _evaluate_landscape(args: argparse.Namespace, model, theta, x0) -> tuple:
    """``(line, plane, plane_points, us)``: V along s·θ and over the plane."""
    import jax
    import jax.numpy as jnp

    from rnn_dyn import landscape as ls

    key = jax.random.key(args.seed)
    shape = (args.seq_len, model.input_size)
    us = jax.random.normal(jax.random.fold_in(key, 1), shape, x0.dtype)
    ys = ls.reference_outputs(model, theta, x0, us, layout=args.layout)
    options = dict(
        burn_in=args.burn_in,
        chunk_size=args.chunk_size,
        layout=args.layout,
        progress=not args.quiet,
    )
    s = ls.coordinates(*args.s_range, args.line, exact=[1.0])
    zero = jax.tree_util.tree_map(jnp.zeros_like, theta)
    steady = args.seq_len - args.burn_in
    line = ls.line(model, theta, zero, x0, us, ys, s, steady_steps=steady, **options)
    if args.centered:
        points = ls.centered_plane(theta, key)
    else:
        points = ls.paper_plane(theta, key, distribution=args.distribution)
    s1 = ls.coordinates(*args.s1_range, args.grid[0], exact=[0.0, 1.0])
    s2 = ls.coordinates(*args.s2_range, args.grid[1], exact=[0.0])
    plane = ls.grid_2d(model, *points[:3], x0, us, ys, s1, s2, **options)
    return line, plane, points, us


def _landscape_figures(report, args, problem, line, plane, title) -> None:
    """The attractor at θ, the loss line and the loss plane."""
    import jax.numpy as jnp

    import rnn_dyn as rd
    from rnn_dyn import plotting

    model, theta, x0, us = problem
    if model.input_size == 0:  # an autonomous system: a longer look at it
        us = jnp.zeros((max(5000, args.seq_len), 0), x0.dtype)
    if model.state_size >= 1:
        states = lambda: rd.simulate(model, theta, x0, us).states[args.burn_in :]
        report.figure(
            "attractor.png",
            lambda: _attractor_figure(states(), title, labels=_h_labels(args)),
        )
    (s,), (s1, s2) = line.axes, plane.axes
    report.figure(
        "line.png", lambda: plotting.loss_line(s, line.loss, line.steady, title=title)
    )
    at = (0.0, 0.0) if args.centered else (1.0, 0.0)
    mark = {r"$\theta$" if args.centered else r"$\theta_{true}$": at}
    report.figure(
        "plane.png",
        lambda: plotting.loss_plane(s1, s2, plane.loss, marks=mark, title=title),
    )


chaotic_lstm = landscape  # ``rnn-dyn chaotic-lstm``: the landscape of Appendix C


def _landscape_summary(
    args: argparse.Namespace, line: Any, plane: Any, at_theta: tuple[float, float]
) -> dict[str, Any]:
    import jax

    from rnn_dyn import landscape as ls

    s = line.axes[0]
    finite = plane.loss[np.isfinite(plane.loss)]
    run = line.run_seconds + plane.run_seconds
    n_points = line.loss.size + plane.loss.size
    return {
        "variant": args.variant if args.model == "chaotic-lstm" else None,
        "model": args.model,
        "loss_at_true": ls.value_at(line, 1.0),
        "loss_at_true_plane": ls.value_at(plane, *at_theta),
        "line": {
            "n": int(s.size),
            "s_min": float(s[0]),
            "s_max": float(s[-1]),
            "nonfinite": int((~np.isfinite(line.loss)).sum()),
            "local_minima": ls.local_minima(line.loss),
        },
        "grid": {
            "shape": list(plane.loss.shape),
            "nonfinite": int((~np.isfinite(plane.loss)).sum()),
            "min": float(finite.min()) if finite.size else None,
            "max": float(finite.max()) if finite.size else None,
        },
        "seconds": {
            "compile": round(line.compile_seconds + plane.compile_seconds, 4),
            "line": round(line.run_seconds, 4),
            "grid": round(plane.run_seconds, 4),
        },
        "points_per_second": round(n_points / run) if run > 0 else None,
        "layout": plane.layout,
        "devices": [str(d) for d in jax.devices()],
        "dtype": str(line.loss.dtype),
        "seq_len": args.seq_len,
        "burn_in": args.burn_in,
        "seed": args.seed,
    }


def _landscape_arrays(theta: Any, line: Any, plane: Any) -> dict[str, Any]:
    import jax

    flat = lambda tree: jax.flatten_util.ravel_pytree(tree)[0]
    directions = jax.vmap(flat)(plane.subspace.directions)
    return dict(
        line_s=line.axes[0],
        line_loss=line.loss,
        line_steady=line.steady,
        grid_s1=plane.axes[0],
        grid_s2=plane.axes[1],
        grid_loss=plane.loss,
        theta=flat(theta),
        plane_origin=flat(plane.subspace.origin),
        plane_directions=np.asarray(directions),
    )


def smoothness(args: argparse.Namespace) -> int:
    """Measure L_V(N) and L'_V(N) of a system or saved model beside Theorem 1."""
    report = Report(args, "smoothness")
    setup_jax(args)
    import jax

    from rnn_dyn import plotting
    from rnn_dyn.examples import regime_example
    from rnn_dyn.smoothness import measure_smoothness

    k_model, k_measure = jax.random.split(jax.random.key(args.seed))
    n = max(args.lengths)
    if check_system_mode(args):
        if "variant" in given_flags(args):
            raise UsageError(
                "--variant is for --model chaotic-lstm; --system chaotic-lstm "
                "has the authors' weights"
            )
        system = args.system
        model, theta, x0, us = regime_example(system, n, key=k_model)
    else:
        model, theta, x0, system = model_from_args(args)
        us = jax.random.normal(k_model, (n, model.input_size), x0.dtype)
    r = measure_smoothness(
        model,
        theta,
        x0,
        us,
        lengths=args.lengths,
        radius=args.radius,
        num_samples=args.samples,
        key=k_measure,
    )
    summary = {"system": system, "radius": args.radius, "samples": args.samples}
    for name, value in r._asdict().items():
        if isinstance(value, tuple):  # a Growth
            value = value._asdict()
        summary[name] = value.tolist() if hasattr(value, "tolist") else value
    summary["note"] = "measured values are maxima over samples: lower bounds"
    title = f"{system}: max ‖A_t‖ = {r.L_f_state:.3g} ({r.regime})"
    report.figure(
        "smoothness.png",
        lambda: plotting.smoothness_curves(
            r.lengths,
            {"L_V": r.L_V, "L_V_grad": r.L_V_grad},
            {"L_V": r.bound_L_V, "L_V_grad": r.bound_L_V_grad},
            title=title,
        ),
    )
    return report.finish(
        summary,
        f"{system}: max ‖A_t‖ {r.L_f_state:.3g} ({r.regime}); "
        f"L_V {_growth(r.growth_L_V)}, L'_V {_growth(r.growth_L_V_grad)}",
    )


def _growth(growth: Any) -> str:
    """A growth verdict, with the count of non-finite values it saw."""
    if not growth.nonfinite:
        return growth.kind
    return f"{growth.kind} ({growth.nonfinite} non-finite values)"


def lyapunov(args: argparse.Namespace) -> int:
    """Lyapunov spectrum, its convergence and the attractor of a system."""
    steps = args.burn_in + args.steps
    report, system, name, u, us = _system_command(args, "lyapunov", steps)
    model, params, x0 = system
    if args.k is not None and args.k > model.state_size:
        raise UsageError(
            f"--k must be at most the state size {model.state_size}, got {args.k}"
        )
    start = time.perf_counter()
    spec, two, kind, states = _lyapunov_analysis(args, model, params, x0, u, us)
    summary = _lyapunov_summary(name, args, spec, two, kind, u)
    summary["seconds"] = round(time.perf_counter() - start, 3)
    if args.model is None and args.system == "linear":  # log|eig A|, closed form
        moduli = abs(np.linalg.eigvals(np.asarray(params.a)))
        summary["expected"] = sorted(np.log(moduli).tolist(), reverse=True)[
            : len(summary["exponents"])
        ]
    report.arrays(
        "lyapunov.npz",
        **{k: getattr(spec, k) for k in ("exponents", "stderr", "history")},
        local_rates=spec.local_rates,
        states=states,
    )
    _lyapunov_figures(report, name, spec, kind, states)
    shown = ", ".join(
        f"{e:.4g} ± {s:.1g}"
        for e, s in zip(summary["exponents"], summary["stderr"], strict=True)
    )
    period = f" (period {kind.period})" if kind.period else ""
    return report.finish(
        summary,
        f"{name}: λ = {shown}; {kind.kind}{period}; "
        f"{summary['nonfinite_steps']} non-finite steps",
    )


def _lyapunov_analysis(args, model, params, x0, u, us) -> tuple:
    """``(spectrum, two-trajectory estimate, attractor kind, states)``."""
    import jax

    import rnn_dyn as rd

    key = jax.random.key(args.seed)
    burn_in = args.burn_in
    spec = rd.lyapunov_spectrum(
        model, params, x0, us, burn_in=burn_in, k=args.k, key=key
    )
    two = rd.largest_lyapunov_exponent(model, params, x0, us, burn_in=burn_in)
    window = min(args.steps, 5000)
    kind = rd.classify_attractor(
        model,
        params,
        x0,
        u,
        n_steps=window,
        burn_in=burn_in,
        max_period=min(64, window - 1),
        key=key,
    )
    states = np.asarray(rd.simulate(model, params, x0, us).states[burn_in:])
    return spec, two, kind, states


def _lyapunov_figures(report: Report, name: str, spec, kind, states) -> None:
    """The convergence of the exponents; the attractor coloured by log|R_11|."""
    from rnn_dyn import plotting

    history = np.asarray(spec.history)
    report.figure(
        "convergence.png", lambda: plotting.lyapunov_convergence(history, title=name)
    )
    finite = np.all(np.isfinite(states), axis=1)
    rate = np.asarray(spec.local_rates)[:, 0]
    report.figure(
        "attractor.png",
        lambda: _attractor_figure(
            states[finite][-20_000:],
            f"{name}: {kind.kind}",
            color=rate[finite][-20_000:],
            color_label=r"local expansion rate $\log|R_{11}|$",
        ),
    )


def _lyapunov_summary(name, args, spec, two, kind, u) -> dict[str, Any]:
    from rnn_dyn import kaplan_yorke_dimension

    exponents = np.asarray(spec.exponents)
    return {
        "system": name,
        "steps": args.steps,
        "burn_in": args.burn_in,
        "k": int(exponents.size),
        "input": np.asarray(u).tolist(),
        "dtype": str(exponents.dtype),
        "exponents": exponents.tolist(),
        "stderr": np.asarray(spec.stderr).tolist(),
        "sum": float(exponents.sum()),
        "kaplan_yorke_dimension": kaplan_yorke_dimension(exponents),
        "two_trajectory": {
            "exponent": float(two.exponents[0]),
            "stderr": float(two.stderr[0]),
        },
        "attractor": kind.kind,
        "period": kind.period,
        "nonfinite_steps": int(spec.nonfinite_steps),
    }


def fixed_points(args: argparse.Namespace) -> int:
    """Fixed points and cycles of a system under a constant input."""
    report, system, name, u, us = _system_command(args, "fixed_points", 2000)
    model, params, x0 = system
    import jax

    import rnn_dyn as rd
    from rnn_dyn import plotting

    starts = rd.fixed_point_starts(
        model, params, x0, u, args.starts, std=args.std, key=jax.random.key(args.seed)
    )
    start = time.perf_counter()
    found = rd.cycles(model, params, u, starts, max_period=args.max_period)
    seconds = time.perf_counter() - start
    cycles = [
        _cycle_entry(result, i)
        for result in found
        for i in range(len(result.stability))
    ]
    arrays = {"starts": starts, "input": u}
    for result in found:
        arrays[f"points_{result.period}"] = result.points
        arrays[f"eigenvalues_{result.period}"] = result.eigenvalues
    report.arrays("fixed_points.npz", **arrays)

    def draw() -> Any:
        states = rd.simulate(model, params, x0, us).states[200:]
        ax = plotting.attractor(
            _finite_rows(states), title=f"{name}: fixed points and cycles"
        )
        for result in found:
            plotting.mark_cycles(ax, np.asarray(result.points), result.stability)
        return ax

    report.figure("fixed_points.png", draw)
    summary = {
        "system": name,
        "input": np.asarray(u).tolist(),
        "starts": int(starts.shape[0]),
        "max_period": args.max_period,
        "cycles": cycles,
        "diverged": [r.num_diverged for r in found],
        "stalled": [r.num_stalled for r in found],
        "seconds": round(seconds, 3),
    }
    counts = ", ".join(
        f"{sum(c['period'] == k for c in cycles)} of period {k}"
        for k in range(1, args.max_period + 1)
    )
    return report.finish(summary, f"{name}: cycles found: {counts}")


def _cycle_entry(result: Any, i: int) -> dict[str, Any]:
    """The JSON entry of cycle ``i`` of a `FixedPoints` result."""
    return {
        "period": result.period,
        "points": np.asarray(result.points[i]).tolist(),
        "stability": result.stability[i],
        "spectral_radius": float(result.spectral_radius[i]),
        "eigenvalues": [
            [float(z.real), float(z.imag)] for z in np.asarray(result.eigenvalues[i])
        ],
        "starts": int(result.counts[i]),
    }


def entropy(args: argparse.Namespace) -> int:
    """Ensemble entropy H_t against the per-step bound of Theorem 2."""
    _below("--k", args.k, "--samples", args.samples)
    report, system, name, _, us = _system_command(args, "entropy", args.steps)
    model, params, x0 = system
    import jax

    import rnn_dyn as rd
    from rnn_dyn import plotting

    noise = jax.random.normal(
        jax.random.key(args.seed), (args.samples, model.state_size), x0.dtype
    )
    start = time.perf_counter()
    result = rd.ensemble_entropy(
        model, params, x0[None] + args.std * noise, us, k=args.k, tol=args.tol
    )
    seconds = time.perf_counter() - start
    as_list = lambda a: np.asarray(a, float).tolist()
    summary = {
        "system": name,
        **{k: getattr(args, k) for k in ("samples", "steps", "std", "k", "tol")},
        "dtype": str(np.asarray(result.entropy).dtype),
        "H": as_list(result.entropy),
        "bound": as_list(result.bound),
        "log_det_mean": as_list(result.log_det_mean),
        "lipschitz": as_list(result.lipschitz),
        "nonfinite": np.asarray(result.num_nonfinite).tolist(),
        "violations": np.asarray(result.violations).tolist(),
        "printed_violations": np.asarray(result.printed_violations).tolist(),
        "seconds": round(seconds, 3),
    }
    report.arrays(
        "entropy.npz",
        **{k: v for k, v in result._asdict().items() if k not in ("k", "tol")},
    )
    report.figure(
        "entropy.png",
        lambda: plotting.entropy_curves(
            np.asarray(result.entropy),
            np.asarray(result.bound),
            np.asarray(result.log_det_mean),
            violations=np.asarray(result.violations),
            title=f"{name}: Theorem 2, {args.samples} states, std {args.std}",
        ),
    )
    return report.finish(
        summary,
        f"{name}: H_t from {summary['H'][0]:.3g} to "
        f"{summary['H'][-1]:.3g} nats in {args.steps} steps; "
        f"{len(summary['violations'])} violations of H_(t+1) <= H_t + "
        f"n log L_f, {len(summary['printed_violations'])} of the printed (S3)",
    )


def train(args: argparse.Namespace) -> int:
    """Train on a task; write the run directory."""
    if not args.resume:
        from rnn_dyn._io import check_out_dir

        check_out_dir(args.out)  # fit creates it, once the flags are checked
    setup_jax(args)
    config = train_config(args)
    from rnn_dyn.train import fit, lm_splits

    start = time.perf_counter()
    corpus = None
    if config.task == "lm" and args.cache_corpus:
        from rnn_dyn.tasks import read_corpus

        corpus = read_corpus(config.data, splits=lm_splits(config), cache=True)
    progress = not args.quiet and sys.stderr.isatty()
    result = fit(config, args.out, resume=args.resume, progress=progress, corpus=corpus)
    seconds = time.perf_counter() - start
    finals = _final_rows(result)
    summary = {
        "task": config.task,
        "model": config.model,
        "epochs": result.state.epoch,
        "seeds": list(config.seeds),
        "final": finals[0] if finals else None,
        "final_per_seed": finals,
        "seconds": round(seconds, 3),
        "out": str(args.out),
    }
    f = finals[0] if finals else {}
    nan = float("nan")
    acc = "" if math.isnan(f.get("val_acc", nan)) else f" val acc {f['val_acc']:.3f},"
    if "test_ppl" in f:
        acc += f" perplexity val {f['val_ppl']:.1f} test {f['test_ppl']:.1f},"
    emit(
        args,
        summary,
        f"{config.model} on {config.task}: {result.state.epoch} epochs, "
        f"train loss {f.get('train_loss', nan):.4g}, val loss "
        f"{f.get('val_loss', nan):.4g},{acc} {seconds:.1f} s; wrote {args.out}",
    )
    return 0


def _final_rows(result: Any) -> list[dict[str, Any]]:
    """Each seed's last history row, with test scores and perplexities.

    NaN stays NaN here (a diverged run is a result); the JSON writer turns it
    into null.
    """
    last = [row for row in result.history if row["epoch"] == result.state.epoch]
    keys = ("train_loss", "val_loss", "train_acc", "val_acc")
    finals = [{k: row[k] for k in keys} | {"seed": row["seed"]} for row in last]
    for row, test in zip(finals, result.test, strict=False):
        row |= test
        row |= {
            f"{k}_ppl": _perplexity(row[f"{k}_loss"]) for k in ("train", "val", "test")
        }
    return finals


def _perplexity(loss: float) -> float:
    """exp(loss): inf past float64's range, NaN for NaN."""
    if math.isnan(loss) or loss > 709:
        return loss if math.isnan(loss) else math.inf
    return math.exp(loss)


def orbit(args: argparse.Namespace) -> int:
    """Draw the recorded orbits of a run as a bifurcation diagram."""
    from rnn_dyn import plotting
    from rnn_dyn.orbit import read_orbit

    record = read_orbit(Path(args.run) / "orbit.npz")
    out = _figure_path(args, f"orbit_{args.type}.png")
    steps, n_init, n_inputs, n_outputs, _ = record.outputs.shape
    for name, value, size in (
        ("--input", args.input, n_inputs),
        ("--output", args.output, n_outputs),
        ("--init", args.init, n_init),
    ):
        if value is not None and value >= size:
            raise UsageError(f"{name} must be below {size}, got {value}")
    _below("--burn-in", args.burn_in, "the recorded steps - 1", steps - 1)
    keep = np.ones(record.epochs.size, bool)
    if args.epochs:
        keep = (record.epochs >= args.epochs[0]) & (record.epochs <= args.epochs[1])
        if not keep.any():
            raise UsageError(f"no recorded epoch in {args.epochs[0]}:{args.epochs[1]}")
    inits = slice(None) if args.init is None else slice(args.init, args.init + 1)
    outputs = record.outputs[args.burn_in :, inits][..., keep]
    name = Path(args.run).name
    if record.projections is not None and args.type != "transient":
        # A language model's record (Supp. Figs. 5-7): every projection
        # (rows) under every word and its feedback version (columns).
        _warn_nonfinite(outputs, record.epochs[keep])
        fig = plotting.orbit_grid(
            record.epochs[keep],
            outputs,
            rows=list(record.projections),
            columns=list(record.labels or ()),
            kind=args.type,
            title=f"{name}: projections of {_SPACES[record.space]} after the burn-in",
        )
    else:
        label = record.labels[args.input] if record.labels else f"input {args.input}"
        outputs = outputs[:, :, args.input, args.output]
        _warn_nonfinite(outputs, record.epochs[keep])
        fig = plotting.orbit_diagram(
            record.epochs[keep],
            outputs,
            kind=args.type,
            ylabel=f"output {args.output}",
            title=f"{name}: constant input {label}",
        )
    plotting.save_figure(fig, out)
    print(f"wrote {out}")
    return 0


_SPACES = {"hidden": "h", "logits": "the logits"}


def _warn_nonfinite(outputs: np.ndarray, epochs: np.ndarray) -> None:
    """Say which epochs' records hold inf or NaN (a diverged model): not drawn."""
    bad = ~np.isfinite(outputs.reshape(-1, epochs.size))
    if not bad.any():
        return
    which = epochs[bad.any(axis=0)]
    listed = ", ".join(map(str, which[:5])) + (", ..." if which.size > 5 else "")
    what = (
        "every drawn value is"
        if bad.all()
        else f"{int(bad.sum())} of {bad.size} drawn values are"
    )
    warnings.warn(
        f"{what} non-finite (a diverged model) and left out of the figure; "
        f"epochs {listed}",
        stacklevel=2,
    )


def history(args: argparse.Namespace) -> int:
    """Draw the loss and accuracy curves of a run."""
    from rnn_dyn import plotting
    from rnn_dyn.train import Run

    rows = Run(args.run).history()
    if not rows:
        raise UsageError(f"{Path(args.run) / 'history.csv'} has no epochs yet")
    out = _figure_path(args, "history.png")
    fig = plotting.training_curves(rows, title=Path(args.run).name)
    plotting.save_figure(fig, out)
    print(f"wrote {out}")
    return 0


def _figure_path(args: argparse.Namespace, default: str) -> Path:
    """``--out``, or RUN/default when no live process holds the run's lock."""
    from rnn_dyn.train import Run

    if args.out:
        from rnn_dyn._io import check_out_file

        return check_out_file(args.out)
    try:
        Run(args.run).check_unlocked()
    except ValueError as err:
        raise UsageError(f"{err} (or pass --out FILE to draw elsewhere)") from None
    return Path(args.run) / default
