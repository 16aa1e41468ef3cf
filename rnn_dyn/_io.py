"""Run directories and atomic writes: an interrupted run never leaves a half file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

# Paths this process is writing right now (temporary files, staging
# directories, lock files), removed by `remove_pending` when Ctrl-C ends the
# process at once (`rnn_dyn.cli.entry`), so an interrupt leaves nothing
# behind. A path is created and registered under one lock, which
# `remove_pending` keeps: no new path can appear after it has run.
_PENDING: set[Path] = set()
_PENDING_LOCK = threading.Lock()


@contextlib.contextmanager
def pending(make: Callable[[], Path]) -> Iterator[Path]:
    """Create a path with ``make()`` and mark it in progress while the block runs."""
    with _PENDING_LOCK:
        path = make()
        _PENDING.add(path)
    try:
        yield path
    finally:
        with _PENDING_LOCK:
            _PENDING.discard(path)


def remove_pending() -> None:
    """Remove every path in progress; only for ending the process right after.

    The registry stays locked, so a thread still writing blocks before it
    creates another temporary file.
    """
    import shutil

    _PENDING_LOCK.acquire()
    for path in list(_PENDING):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()


def _mkstemp(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def _file_mode() -> int:
    """The mode a new file gets from the process's umask (``0o666 & ~umask``)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place on success.

    The temporary file lives in the same directory, so the final
    `os.replace` is atomic; it is flushed to disk first, and given the mode
    the umask allows (`tempfile.mkstemp` alone makes it private). On any
    exception it is removed and ``path`` is left untouched.
    """
    path = Path(path)
    with pending(lambda: _mkstemp(path)) as tmp:
        try:
            yield tmp
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, _file_mode())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]
) -> Path:
    """Write ``path`` atomically with ``write(fileobj)``; return the path."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)
    return Path(path)


def save_npz(path: str | os.PathLike[str], **arrays: Any) -> Path:
    """Save arrays to an ``.npz`` file atomically."""
    return atomic_write(
        path, lambda fh: np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})
    )


def read_npz(path: str | os.PathLike[str], what: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, read in full and checked.

    ``what`` names the file in messages (``"params file"``, say).

    Raises:
        ValueError: One line saying what is wrong: missing, empty, not an
            ``.npz``, truncated or corrupt, or holding object (pickled)
            arrays, which are never loaded.
    """
    name = f"{what} {str(path)!r}"
    try:
        with open(path, "rb") as fh:  # a directory or an unreadable file: OSError
            is_zip = zipfile.is_zipfile(fh)
        if os.path.getsize(path) == 0:
            raise ValueError(f"{name} is empty")
        if not is_zip:
            raise ValueError(
                f"{name} is not a whole .npz archive (a zip of .npy arrays): "
                "truncated, or another kind of file"
            )
        with np.load(path, allow_pickle=False) as data:
            stored = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ValueError(f"cannot read {name}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"cannot read {name}: it is a directory") from None
    except OSError as err:
        raise ValueError(f"cannot read {name}: {err.strerror or err}") from None
    except ValueError as err:
        if str(err).startswith(name):
            raise
        if "pickle" in str(err):
            message = f"{name} holds object (pickled) arrays; expected numbers"
        else:
            message = f"{name} is truncated or corrupt ({err})"
        raise ValueError(message) from None
    except (EOFError, zipfile.BadZipFile, zlib.error, KeyError) as err:
        raise ValueError(f"{name} is truncated or corrupt ({err})") from None
    odd = sorted(k for k, v in stored.items() if not isinstance(v, np.ndarray))
    if odd:
        raise ValueError(f"{name} holds members that are not .npy arrays: {odd}")
    return stored


def _json_ready(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, ±inf) replaced by None.

    Strict JSON has no NaN or Infinity; rnn_dyn writes them as ``null`` (the
    count of non-finite values is reported beside them where it matters).
    """
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, float | np.floating) and not np.isfinite(obj):
        return None
    return obj


def to_json(obj: Any, **kwargs: Any) -> str:
    """Strict JSON of ``obj`` (non-finite floats as ``null``, see `_json_ready`)."""
    return json.dumps(_json_ready(obj), allow_nan=False, **kwargs)


def save_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Save ``obj`` as indented, strict JSON atomically (see `_json_ready`)."""
    text = to_json(obj, indent=2, sort_keys=True) + "\n"
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def check_out_dir(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` is, or can be made, a writable directory; create nothing.

    Raises:
        ValueError: If it is a file, or it (or the nearest existing parent
            when it does not exist yet) is not a writable directory.
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ValueError(
            f"cannot write to output directory {str(path)!r}: "
            f"{str(existing)!r} is a file, not a directory"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"cannot write to output directory {str(path)!r}: "
            f"{str(existing)!r} is not writable"
        )
    return path


def check_out_file(path: str | os.PathLike[str]) -> Path:
    """Check that a file can be written at ``path``; create nothing.

    Raises:
        ValueError: If ``path`` is a directory, or its directory is a file or
            cannot be made or written to.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"cannot write to {str(path)!r}: it is a directory")
    check_out_dir(path.parent)
    return path


def prepare_out_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` if needed and check that it is writable.

    Raises:
        ValueError: If the directory cannot be created or written to.
    """
    path = check_out_dir(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise ValueError(
            f"cannot write to output directory {str(path)!r}: {err.strerror}"
        ) from None
    return path


def _leaf_names(tree: Any) -> list[tuple[str, Any]]:
    import jax

    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in leaves]


def save_params(path: str | os.PathLike[str], params: Any) -> Path:
    """Save a params pytree as ``.npz``, one array per leaf named by its path."""
    return save_npz(path, **dict(_leaf_names(params)))


def load_params(path: str | os.PathLike[str], like: Any) -> Any:
    """Load a params pytree saved by `save_params`, with the structure of ``like``.

    Args:
        path: The ``.npz`` file.
        like: A pytree of the expected structure (arrays or ShapeDtypeStructs).

    Returns:
        The params pytree, leaves as NumPy arrays in the dtype of ``like``.

    Raises:
        ValueError: If the file cannot be read, or a leaf is missing or has the
            wrong shape.
    """
    import jax

    stored = read_npz(path, "params file")
    leaves = []
    for name, leaf in _leaf_names(like):
        if name not in stored:
            raise ValueError(
                f"params file {str(path)!r} has no array {name!r}; "
                f"it has {sorted(stored)}"
            )
        if stored[name].shape != tuple(leaf.shape):
            raise ValueError(
                f"params file {str(path)!r}: {name} must have shape "
                f"{tuple(leaf.shape)}, got {stored[name].shape}"
            )
        if stored[name].dtype.kind not in "fiu":  # float, int or unsigned
            raise ValueError(
                f"params file {str(path)!r}: {name} must hold real numbers, got "
                f"dtype {stored[name].dtype}"
            )
        leaves.append(stored[name].astype(leaf.dtype))
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), leaves)
