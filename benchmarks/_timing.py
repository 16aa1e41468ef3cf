"""Shared timing helpers for the benchmarks (STYLE.md section 8).

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
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


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
