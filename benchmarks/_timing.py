"""Shared timing, torch worker and options of the benchmarks (STYLE.md section 8).

Every benchmark case goes through `time_jax` (or `time_callable` for code that is
not JAX), which

- times tracing/lowering and XLA compilation separately from execution, by
  ``jax.jit(fn).lower(*args)`` and ``.compile()``;
- runs the compiled executable once (the first call, reported apart and left
  out of the minimum), then ``repeat`` more times, each call wrapped in
  ``jax.block_until_ready``;
- reports the minimum of the repeats (and the median, for information);
- reads the executable's static buffer sizes from ``compiled.memory_analysis()``.

`emit` prints one JSON line per case; `environment` supplies the fields every
line carries (device kind, backend, versions).

The scripts also share their command-line options (`BenchParser`, `int_list`,
`fill_defaults`, `quick_xla_flags`, `torch_last`); the PyTorch worker protocol
(`run_torch_worker` re-invokes a script with ``--torch-worker PATH`` in a fresh
process, `torch_lines` once per ``--torch-threads`` value; in the worker,
`load_case`, `by_prefix`, `rss_baseline`/`rss_growth`, `torch_fields`, and
`time_torch_epochs` for training epochs); `time_fit` for ``rnn_dyn.train.fit``
and `beat_torch_targets` for the summary line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def environment() -> dict[str, Any]:
    """Return the fields that identify the machine, for every JSON line."""
    import jax

    dev = jax.devices()[0]
    return {
        "device_kind": dev.device_kind,
        "backend": jax.default_backend(),
        "n_devices": jax.device_count(),
        "jax_version": jax.__version__,
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "loadavg_1m": os.getloadavg()[0],
    }


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or platform.processor()."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def jax_memory(compiled: Any) -> dict[str, Any]:
    """Return the executable's buffer sizes from ``memory_analysis()``.

    ``peak_bytes`` is temp + argument + output - alias: XLA's static buffer
    assignment, i.e. what the executable needs live at once, not a measured RSS.
    Backends that do not implement the analysis give ``peak_bytes: None``.
    """
    try:
        stats = compiled.memory_analysis()
    except Exception as err:  # any backend failure means "unknown"
        return {"peak_bytes": None, "memory_source": f"unavailable: {err!r}"}
    if stats is None:
        return {"peak_bytes": None, "memory_source": "unavailable: None"}
    fields = (
        "temp_size_in_bytes",
        "argument_size_in_bytes",
        "output_size_in_bytes",
        "alias_size_in_bytes",
        "generated_code_size_in_bytes",
    )
    out: dict[str, Any] = {
        f.removesuffix("_size_in_bytes") + "_bytes": getattr(stats, f, None)
        for f in fields
    }
    parts = [out["temp_bytes"], out["argument_bytes"], out["output_bytes"]]
    if any(p is None for p in parts):
        out["peak_bytes"] = None
    else:
        out["peak_bytes"] = int(sum(parts) - (out["alias_bytes"] or 0))
    out["memory_source"] = "xla_memory_analysis"
    return out


def _n_repeats(first: float, repeat: int, budget_s: float | None) -> int:
    """Cut ``repeat`` so that first call + repeats stay within ``budget_s``.

    At least one repeat is always made.
    """
    if budget_s is None or first <= 0:
        return repeat
    return max(1, min(repeat, int((budget_s - first) / first)))


def _timed_calls(call: Callable[[], Any], n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return times


def time_repeats(
    call: Callable[[], Any], first: float, *, repeat: int, budget_s: float | None
) -> list[float]:
    """Time the repeats that follow a first call of ``call`` that took ``first``.

    ``repeat`` calls, cut as `_n_repeats` does to stay within ``budget_s``.
    """
    return _timed_calls(call, _n_repeats(first, repeat, budget_s))


def summarise(first: float, times: list[float]) -> dict[str, Any]:
    """Return the timing fields of a JSON line from the raw times."""
    return {
        "first_run_s": first,
        "run_s": min(times),
        "run_median_s": statistics.median(times),
        "repeats": len(times),
    }


def time_jax(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    repeat: int,
    budget_s: float | None = None,
    max_bytes: int | None = None,
) -> tuple[dict[str, Any], Any]:
    """Compile ``fn`` for ``args``, time compilation and execution separately.

    Args:
        fn: A JAX-traceable function (not yet jitted).
        args: Its arguments (concrete arrays; their shapes fix the compilation).
        repeat: Number of timed calls after the first; the minimum is reported.
        budget_s: Optional cap on the time of the first call plus the repeats;
            at least one repeat is made.
        max_bytes: If the executable's ``peak_bytes`` exceeds this, it is not
            run: the record gets ``status: "skipped"`` and the output is None.

    Returns:
        ``(record, output)``: the timing/memory fields and the output of the
        first call, for correctness checks.
    """
    import jax  # imported here so the torch worker process never loads JAX

    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    memory = jax_memory(compiled)
    record: dict[str, Any] = {"lower_s": t1 - t0, "compile_s": t2 - t1}
    peak = memory["peak_bytes"]
    if max_bytes is not None and peak is not None and peak > max_bytes:
        reason = f"needs {peak / 2**30:.1f} GiB > {max_bytes / 2**30:.1f} GiB allowed"
        return record | memory | {"status": "skipped", "skip_reason": reason}, None
    t2 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    first = time.perf_counter() - t2
    times = _timed_calls(
        lambda: jax.block_until_ready(compiled(*args)),
        _n_repeats(first, repeat, budget_s),
    )
    return record | summarise(first, times) | memory | {"status": "ok"}, out


def time_callable(
    call: Callable[[], Any], *, repeat: int, budget_s: float | None = None
) -> dict[str, Any]:
    """Time a plain (already blocking) callable: a first call, then repeats."""
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    return summarise(first, _timed_calls(call, _n_repeats(first, repeat, budget_s)))


def available_memory_bytes() -> int | None:
    """Return MemAvailable from /proc/meminfo in bytes, or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def max_rss_bytes() -> int:
    """Return this process's peak resident set size so far, in bytes."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def rss_now() -> int | None:
    """Return the current RSS from /proc/self/status in bytes, or None."""
    try:
        with open("/proc/self/status") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        return int(fields["VmRSS"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def rss_peak_reset() -> bool:
    """Reset the kernel's peak-RSS counter VmHWM (Linux >= 4.0); report success."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def rss_peak() -> int:
    """Return the peak RSS (VmHWM) in bytes; ru_maxrss where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return max_rss_bytes()


def emit(record: dict[str, Any]) -> None:
    """Print ``record`` as one JSON line and flush."""
    print(json.dumps(record, sort_keys=False), flush=True)


# --------------------------------------------------------------------------- options


def int_list(text: str) -> list[int]:
    """Parse a comma-separated list of integers (an argparse ``type``)."""
    return [int(t) for t in text.split(",") if t.strip()]


class BenchParser(argparse.ArgumentParser):
    """The benchmarks' argument parser, with the options that they share."""

    def add_methods(self, choices: tuple[str, ...]) -> None:
        """Add ``--methods``: a comma-separated subset of ``choices``."""
        self.add_argument(
            "--methods",
            type=lambda s: [m for m in s.split(",") if m],
            default=None,
            help=f"comma-separated subset of {choices}",
        )

    def pick_methods(
        self,
        methods: list[str] | None,
        default: tuple[str, ...],
        allowed: tuple[str, ...],
    ) -> list[str]:
        """Return ``--methods`` (``default`` where not given); exit on unknown ones."""
        methods = methods or list(default)
        unknown = set(methods) - set(allowed)
        if unknown:
            self.error(f"unknown methods {sorted(unknown)}")
        return methods

    def add_max_seconds(self, default: float, quick: float, *, per_case: bool) -> None:
        """Add ``--max-seconds``, whose help says ``default`` and ``quick``.

        ``per_case``: a budget per case, which also skips a case estimated to
        exceed it; otherwise the budget of a method's timed epochs.
        """
        if per_case:
            what = (
                "per-case time budget: skip a case whose estimated first call plus "
                "one repeat exceeds it, and cut the repeats to fit it"
            )
        else:
            what = (
                "cut a method's timed epochs so that the first one plus the "
                "repeats stay within this"
            )
        self.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help=f"{what} (default {default:g}; {quick:g} with --quick)",
        )

    def add_torch_worker(self) -> None:
        """Add the hidden ``--torch-worker PATH`` (see `run_torch_worker`)."""
        self.add_argument("--torch-worker", default=None, help=argparse.SUPPRESS)

    def add_train_options(
        self, methods: tuple[str, ...], threads: str, max_seconds: float
    ) -> None:
        """Add the options shared by the training benchmarks, in this order.

        ``--methods`` (a subset of ``methods``), ``--torch-threads``
        (``threads`` says what its default is), ``--max-seconds`` (default
        ``max_seconds``, 10 with ``--quick``) and the hidden ``--torch-worker``.
        """
        self.add_methods(methods)
        self.add_argument(
            "--torch-threads",
            type=int_list,
            default=None,
            help="torch.set_num_threads for the torch worker; a list runs one "
            f"torch line per value; 0 keeps torch's default (default: {threads})",
        )
        self.add_max_seconds(max_seconds, 10, per_case=False)
        self.add_torch_worker()


def fill_defaults(args: argparse.Namespace, **values: Any) -> None:
    """Give each option named in ``values`` that value where it is unset.

    ``args.name = args.name or value``, in order: 0 and empty lists count as
    unset too.
    """
    for name, value in values.items():
        setattr(args, name, getattr(args, name) or value)


def torch_last(methods: list[str]) -> list[str]:
    """Return ``methods`` with "torch" moved to the end (its checks need JAX's)."""
    return [m for m in methods if m != "torch"] + ["torch"] * ("torch" in methods)


def quick_xla_flags(quick: bool) -> None:
    """With ``--quick``, compile at ``--xla_backend_optimization_level=0``.

    Compilation is most of a smoke run, which needs no optimised code. An
    XLA_FLAGS that already sets a level is kept. Call it before JAX starts.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if quick and "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = (
            flags + " --xla_backend_optimization_level=0"
        ).strip()


# --------------------------------------------------------------------------- torch
# A torch case runs in a fresh process: the script re-invokes itself with
# ``--torch-worker PATH``, PATH an .npz of the case's arrays and its ``meta``
# (JSON). The worker never loads JAX, so that the peak-RSS growth over the timed
# calls is the memory they needed (plus allocator and thread-pool overhead); it
# prints one JSON object on stdout.


def torch_installed() -> bool:
    """Whether torch is installed, probed without importing it.

    The main process never loads torch: it runs only in the worker subprocess.
    """
    return importlib.util.find_spec("torch") is not None


def run_torch_worker(
    script: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> dict[str, Any]:
    """Write the case to an .npz, run ``script``'s torch worker on it, parse it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "case.npz")
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, os.path.abspath(script), "--torch-worker", path],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"torch worker failed:\n{proc.stderr}")
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    record["worker_wall_s"] = wall
    return record


def load_case(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read the case that `run_torch_worker` wrote: its arrays and its ``meta``."""
    data = dict(np.load(path, allow_pickle=False))
    meta = json.loads(str(data.pop("meta")))
    return data, meta


def by_prefix(data: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays of ``data`` whose names start with ``prefix``, without it."""
    return {k.removeprefix(prefix): v for k, v in data.items() if k.startswith(prefix)}


def rel_err(a: dict[str, Any], b: dict[str, np.ndarray]) -> float:
    """Relative 2-norm error of ``a`` against ``b`` over all entries."""
    keys = sorted(b)
    diff = np.concatenate([(np.asarray(a[k]) - b[k]).ravel() for k in keys])
    ref = np.concatenate([b[k].ravel() for k in keys])
    return float(np.linalg.norm(diff) / np.linalg.norm(ref))


def rss_baseline() -> tuple[int | None, bool]:
    """Start a peak-RSS measurement: the RSS now, then reset VmHWM (success)."""
    return rss_now(), rss_peak_reset()


def rss_growth(baseline: tuple[int | None, bool]) -> dict[str, Any]:
    """Return ``peak_bytes``: the peak RSS since `rss_baseline` less the RSS then."""
    rss0, reset = baseline
    peak = rss_peak()
    return {
        "peak_bytes": None if rss0 is None else int(peak - rss0),
        "memory_source": (
            "rss_growth_fresh_process" if reset else "maxrss_growth_fresh_process"
        ),
    }


def torch_fields() -> dict[str, Any]:
    """Return the torch version and thread count, for the worker's record."""
    import torch  # only ever called in the torch worker

    return {
        "torch_version": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
    }


def time_torch_epochs(
    *,
    epoch: Callable[[], None],
    first_backward: Callable[[], None],
    opt: Any,
    named: Callable[[], dict[str, Any]],
    data: dict[str, np.ndarray],
    meta: dict[str, Any],
    grad_reference: str,
    param_reference: str,
) -> dict[str, Any]:
    """Time epochs of PyTorch training steps; check them against the JAX arrays.

    ``data`` holds the initial parameters (``param/``), the JAX gradient of the
    first step (``grad/``) and the JAX parameters after the first epoch
    (``after/``, may be absent), all by ``named()``'s names. Peak-RSS growth is
    measured from before ``first_backward()``, which computes the first step's
    gradient (untimed, no update) for the gradient check. Then ``epoch()``
    runs once (``first_run_s``, left out of the minimum; it gives the parameter
    check) and ``meta["repeat"]`` more times, cut to ``meta["budget_s"]``.
    """
    init = by_prefix(data, "param/")
    baseline = rss_baseline()
    # The gradient check: the first step's gradient, untimed, no update.
    first_backward()
    grads = {k: p.grad.numpy() for k, p in named().items()}
    grad_rel = rel_err(grads, by_prefix(data, "grad/"))
    opt.zero_grad(set_to_none=True)
    # The first epoch (left out of the minimum) gives the parameter check.
    t0 = time.perf_counter()
    epoch()
    first = time.perf_counter() - t0
    after = {k: p.detach().numpy().copy() for k, p in named().items()}
    after_ref = by_prefix(data, "after/")
    param_rel = rel_err(after, after_ref) if after_ref else None
    update_rel = (
        rel_err(
            {k: after[k] - init[k] for k in after_ref},
            {k: after_ref[k] - init[k] for k in after_ref},
        )
        if after_ref
        else None
    )
    times = time_repeats(epoch, first, repeat=meta["repeat"], budget_s=meta["budget_s"])
    record = summarise(first, times) | rss_growth(baseline) | torch_fields()
    record["grad_check"] = {
        "reference": grad_reference,
        "rel_err": grad_rel,
        "rtol": meta["grad_rtol"],
        "passed": bool(grad_rel <= meta["grad_rtol"]),
    }
    if param_rel is not None:
        record["param_check"] = {
            "reference": param_reference,
            "rel_err": param_rel,
            "update_rel_err": update_rel,
            "rtol": meta["param_rtol"],
            "passed": bool(param_rel <= meta["param_rtol"]),
        }
    return record


def torch_lines(
    script: str,
    arrays: dict[str, np.ndarray] | None,
    meta: dict[str, Any],
    args: argparse.Namespace,
    base: dict[str, Any],
    rates: Callable[[float], dict[str, float]],
) -> list[dict[str, Any]]:
    """Run ``script``'s torch worker once per ``--torch-threads`` value.

    Each run gets ``meta`` with its ``threads`` and ``--lr``, ``--clip``,
    ``--repeat`` and ``--max-seconds``, and prints its line: ``base``, the
    `environment`, the worker's record with ``status: "ok"`` and
    ``rates(run_s)``. ``arrays`` None means that torch is not installed: each
    line is then skipped. Returns the records of the lines that ran.
    """
    ran = []
    for threads in args.torch_threads:
        if arrays is None:
            rec = {"status": "skipped", "skip_reason": "torch not installed"}
            emit(base | environment() | rec)
            continue
        case = {"threads": threads} | meta
        case |= {"lr": args.lr, "clip": args.clip, "repeat": args.repeat}
        case["budget_s"] = args.max_seconds
        rec = run_torch_worker(script, arrays, case) | {"status": "ok"}
        rec |= rates(rec["run_s"])
        ran.append(rec)
        emit(base | environment() | rec)
    return ran


# --------------------------------------------------------------------------- fit


def time_fit(fit: Callable[..., Any], config: Any, **kwargs: Any) -> dict[str, Any]:
    """Run ``fit(config, **kwargs)`` in memory; time its epochs by the wall clock.

    An epoch's time is the interval between two ``on_epoch`` calls: ``fit``
    makes that call once the epoch's work is done (it reads the epoch's losses
    back, after any validation pass). The first epoch includes compilation and
    is left out of the minimum. The shortest ``seconds`` that ``fit`` itself
    logged is kept for comparison (``history_seconds_min``).
    """
    stamps = [time.perf_counter()]
    logged: list[float] = []

    def on_epoch(row: dict[str, Any]) -> None:
        stamps.append(time.perf_counter())
        logged.append(row["seconds"])

    fit(config, on_epoch=on_epoch, **kwargs)
    epochs = np.diff(stamps).tolist()
    rec = summarise(epochs[0], epochs[1:])
    rec |= {"history_seconds_min": min(logged[1:]), "fit_wall_s": sum(epochs)}
    return rec | {"peak_bytes": None, "memory_source": "not measured", "status": "ok"}


def beat_torch_targets(
    rates: dict[str, float],
    names: tuple[str, ...],
    torch_rates: list[tuple[int, float]],
) -> list[dict[str, Any]]:
    """The summary's targets "NAME >= torch", against the fastest torch line."""
    targets = []
    if torch_rates:
        threads, best = max(torch_rates, key=lambda tr: tr[1])
        for name in names:
            if name in rates:
                targets.append(
                    {
                        "target": f"{name} >= torch",
                        "torch_reference": "fastest torch line of this run",
                        "torch_num_threads": threads,
                        "ratio": rates[name] / best,
                        "limit": 1.0,
                        "met": bool(rates[name] >= best),
                    }
                )
    return targets
