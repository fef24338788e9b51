"""Output directories that never destroy what infoplane did not write.

A run or sweep directory is written under a hidden temporary name beside its target,
``.NAME.infoplane~HOST~PID~XXXX``, and appears by one ``rename``: a rename onto a
directory that is not empty fails, so two runs into the same ``--out`` cannot both
land, and nothing half-written is ever visible. Overwriting (``--force``) replaces only
a directory that infoplane recognises as its own: a run directory (``result.json`` of
an infoplane result and the files a run writes) or a sweep directory (its
``sweep.json``, the files a sweep writes and the run directories of its points): never
a folder of separate runs. Temporary folders of processes that died (SIGKILL, a
power cut) are removed by the next run into the same parent folder.
"""

import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Collection
from pathlib import Path

import numpy as np

__all__ = [
    "atomic_directory",
    "check_output_dir",
    "check_output_file",
    "is_run_directory",
    "is_sweep_directory",
    "keep",
    "refuse_foreign",
    "remove_stale_temporaries",
    "scratch_directory",
    "write_csv",
]

# Every file a run directory may hold, and every file a sweep directory may hold
# beside its run directories.
RUN_FILES = frozenset(
    {
        "result.json",
        "arrays.npz",
        "information.csv",
        "plane.png",
        "plane.gif",
        "plane.mp4",
        "curves.png",
        "snr.png",
        "ib_distance.csv",
        "ib_bound.csv",
    }
)
SWEEP_FILES = frozenset(
    {"sweep.json", "sweep.png", "summary.csv", "verdict.txt", "depth.png"}
)

_HOST = socket.gethostname().replace("~", "-") or "host"
_TAG = f"infoplane~{_HOST}~{os.getpid()}~"
_TEMPORARY = re.compile(r"\.infoplane~(?P<host>[^~]+)~(?P<pid>\d+)~[^~/]*$")


def is_run_directory(path: "str | Path") -> bool:
    """Whether ``path`` is a run directory infoplane wrote, and holds nothing else."""
    path = Path(path)
    try:
        meta = json.loads((path / "result.json").read_text())
        names = {entry.name for entry in path.iterdir()}
    except (OSError, ValueError):
        return False
    return (
        isinstance(meta, dict)
        and {"format", "experiment", "layers"} <= set(meta)
        and names <= RUN_FILES
        and all((path / name).is_file() for name in names)
    )


def is_sweep_directory(path: "str | Path") -> bool:
    """Whether ``path`` is a sweep directory infoplane wrote: its ``sweep.json``, the
    run directories of points it names, the files a sweep writes and temporary
    folders of infoplane processes, and nothing else. A folder of separate runs
    (``runs/``) is not a sweep, however alike its runs."""
    path = Path(path)
    try:
        points = json.loads((path / "sweep.json").read_text())["points"]
        entries = list(path.iterdir())
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not isinstance(points, list):
        return False
    for entry in entries:
        ours = (
            (entry.name in SWEEP_FILES and entry.is_file())
            or (entry.name in points and is_run_directory(entry))
            or (entry.name.startswith(".") and _TEMPORARY.search(entry.name))
        )
        if not ours:
            return False
    return True


def _refuse_special(path: Path, option: str) -> Path:
    """``path`` made absolute; refuses '', '.', '..' and folders holding the cwd."""
    if not str(path).strip() or path.name in ("", ".", ".."):
        raise ValueError(
            f"{option} {str(path)!r} names no new folder or file; give one, "
            "e.g. runs/NAME"
        )
    resolved = path.expanduser().resolve()
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    if resolved in (cwd, home, *cwd.parents, *home.parents):
        raise ValueError(
            f"{option} {str(path)!r} is the current, home or a parent folder; "
            "infoplane writes into a folder of its own, e.g. runs/NAME"
        )
    return resolved


def check_output_dir(
    path: "str | Path",
    *,
    overwrite: bool = False,
    option: str = "--out",
    force: str = "--force",
) -> Path:
    """Check, before any work, that a run or sweep can be written to ``path``.

    Creates the parent folder if needed. Returns the path, made absolute. ``option``
    and ``force`` are how the caller names the path and the overwrite in messages.

    Raises:
        ValueError: ``path`` is empty, ``.``, ``..``, or holds the current or home
            folder.
        FileExistsError: ``path`` is a file; or a non-empty directory and
            ``overwrite`` is False; or, with ``overwrite``, a directory infoplane
            did not write.
        OSError: the parent folder cannot be created or written.
    """
    path = Path(path)
    resolved = _refuse_special(path, option)
    _refuse_inside(resolved, path, option)
    _refuse_link(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{path} already exists and is not empty; choose another directory, "
                f"or replace an earlier infoplane run there with {force}"
            )
        if not (is_run_directory(path) or is_sweep_directory(path)):
            raise FileExistsError(
                f"{path} holds files that infoplane did not write; {force} replaces "
                "only an infoplane run or sweep directory, so choose another directory"
            )
    resolved.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(resolved.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write into {resolved.parent}")
    return resolved


def _refuse_link(path: Path) -> None:
    if path.is_symlink():  # whose target infoplane would write into, or replace
        raise FileExistsError(
            f"{path} is a symbolic link; give the folder it points to, or a new name"
        )


def _refuse_inside(resolved: Path, path: Path, option: str) -> None:
    """Refuse a new folder inside a file, inside an infoplane run, or inside a sweep
    where it is none of the sweep's points: that run or sweep would no longer be
    one infoplane recognises (to draw, load or replace)."""
    for ancestor in resolved.parents:
        if ancestor.exists() and not ancestor.is_dir():
            raise FileExistsError(f"{ancestor} is a file, so {path} cannot be in it")
        if is_run_directory(ancestor):
            raise ValueError(
                f"{option} {str(path)!r} is inside the infoplane run {ancestor}; "
                "write beside it, not into it"
            )
    parent = resolved.parent
    if is_sweep_directory(parent):
        points = json.loads((parent / "sweep.json").read_text())["points"]
        if resolved.name not in points:
            raise ValueError(
                f"{option} {str(path)!r} is inside the infoplane sweep {parent} and "
                "is none of its points; write beside it, not into it"
            )


def refuse_foreign(path: "str | Path", *, allowed) -> None:
    """Refuse a shared sweep directory holding anything infoplane did not write
    there: only ``sweep.json``, the combined files and run directories named in
    ``allowed`` may be in it.

    Raises:
        FileExistsError: a file or folder that is not part of the sweep.
    """
    path = Path(path)
    _refuse_inside(_refuse_special(path, "--out"), path, "--out")
    _refuse_link(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a directory")
    if not path.is_dir():
        return
    for entry in path.iterdir():
        if entry.name.startswith("."):
            continue  # temporaries of running or dead shards
        ours = (entry.name in SWEEP_FILES and entry.is_file()) or (
            entry.name in allowed and is_run_directory(entry)
        )
        if not ours:
            raise FileExistsError(
                f"{path} holds {entry.name!r}, which is not part of this sweep; "
                "choose another --out"
            )


def check_output_file(
    path: "str | Path",
    *,
    suffix: str,
    overwrite: bool = False,
    headers: Collection[str] = (),
    option: str = "--out",
) -> Path:
    """Check, before any work, that a file infoplane writes can be written to ``path``.

    With ``overwrite``, an existing file is replaced only when its first line is one
    of ``headers`` (those infoplane writes); without it, never.

    Raises:
        ValueError: the wrong suffix, or a path like '' or '.'.
        FileExistsError: ``path`` exists and may not be replaced.
    """
    path = Path(path)
    resolved = _refuse_special(path, option)
    _refuse_inside(resolved, path, option)
    if path.suffix != suffix:
        raise ValueError(f"{option} must name a {suffix} file, got {str(path)!r}")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise FileExistsError(
                f"{path} already exists; choose another name or replace it with --force"
            )
        try:
            with open(path) as f:
                ours = path.is_file() and f.readline().rstrip("\n") in headers
        except (OSError, UnicodeDecodeError):
            ours = False
        if not ours:
            raise FileExistsError(
                f"{path} was not written by infoplane; --force replaces only a file "
                "infoplane wrote, so choose another name"
            )
    resolved.parent.mkdir(parents=True, exist_ok=True)
    return resolved


def remove_stale_temporaries(folder: "str | Path") -> None:
    """Remove the temporary folders of dead infoplane processes of this host."""
    with contextlib.suppress(OSError):
        for entry in Path(folder).iterdir():
            match = _TEMPORARY.search(entry.name)
            if not (match and entry.name.startswith(".")):
                continue
            if match["host"] != _HOST or _alive(int(match["pid"])):
                continue
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@contextlib.contextmanager
def scratch_directory(parent: "str | Path", name: str = "scratch"):
    """A temporary folder inside ``parent``, removed afterwards; named so that the
    next run removes it if this process is killed."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.{_TAG}", dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(
    path: "str | Path",
    *,
    overwrite: bool = False,
    force: str = "--force",
    rescue: bool = False,
):
    """Yield a temporary directory that becomes ``path`` only if the block succeeds.

    ``path`` is checked first (:func:`check_output_dir`), so a problem that can be
    known before the work is reported before it. The result appears by one rename,
    which fails if another process created a non-empty ``path`` meanwhile. With
    ``overwrite``, a directory infoplane wrote is replaced (and only such a one).
    With ``rescue``, work that cannot land at ``path`` that way is kept beside it,
    as ``PATH-2`` (or the first free ``PATH-K``), rather than thrown away: the
    command line's runs exist nowhere else.

    Raises:
        FileExistsError: ``path`` exists and may not be replaced, or appeared while
            the block ran (the message names where ``rescue`` kept the work).
    """
    path = check_output_dir(path, overwrite=overwrite, force=force)
    remove_stale_temporaries(path.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{_TAG}", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the result private
    try:
        yield tmp
        _publish(tmp, path, overwrite=overwrite, rescue=rescue)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _publish(tmp: Path, path: Path, *, overwrite: bool, rescue: bool) -> None:
    """Rename ``tmp`` to ``path``; with ``overwrite``, first set aside our old run."""
    with contextlib.suppress(OSError):
        os.rename(tmp, path)  # onto a non-empty directory: fails, atomically
        return
    if overwrite and (is_run_directory(path) or is_sweep_directory(path)):
        old = path.with_name(tmp.name + ".old")
        with contextlib.suppress(OSError):
            os.rename(path, old)
            try:
                os.rename(tmp, path)
            except OSError:
                os.rename(old, path)
                raise
            shutil.rmtree(old, ignore_errors=True)
            return
    where = move_aside(tmp, path) if rescue else None
    raise FileExistsError(
        f"{path} already exists: it was written while this ran; "
        + (f"this one was written to {where} instead" if where else "nothing written")
    )


def keep(tmp: "str | Path", path: "str | Path") -> "Path | None":
    """Move the temporary folder ``tmp`` (of :func:`atomic_directory`) to ``path``,
    or beside it (:func:`move_aside`) if ``path`` is taken: work that was done,
    kept. Returns where it went, or None if it could not be moved."""
    tmp, path = Path(tmp), Path(path)
    with contextlib.suppress(OSError):
        os.rename(tmp, path)  # onto a non-empty directory: fails, atomically
        return path
    return move_aside(tmp, path)


def move_aside(tmp: Path, path: Path) -> "Path | None":
    """Move ``tmp`` to the first free ``PATH-K``; the new path, or None."""
    for k in range(2, 1000):
        target = path.with_name(f"{path.name}-{k}")
        try:
            target.mkdir()  # claims the name; the rename replaces the empty folder
        except OSError:
            continue
        try:
            os.rename(tmp, target)
        except OSError:
            with contextlib.suppress(OSError):
                target.rmdir()
            return None
        return target
    return None


def write_csv(path: "str | Path", header: "list[str]", rows) -> None:
    """A CSV file with a header row; floats written exactly (``repr``)."""
    import csv

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow(
                [
                    repr(float(v)) if isinstance(v, float | np.floating) else v
                    for v in row
                ]
            )
