"""The base tree of a side-by-side run: a temporary git worktree of REF, or a directory.

Every failure here is the user's to fix before anything is measured, so each raises
`AgainstError` with the cause and the fix; the plugin turns it into exit 4.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class AgainstError(RuntimeError):
    """--vidbench-against cannot be honoured; the message names the cause and the fix."""


def git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise AgainstError(f"git {' '.join(args)} failed: {error}") from None
    if done.returncode != 0:
        raise AgainstError(done.stderr.strip() or f"git {' '.join(args)} exited "
                           f"{done.returncode}")
    return done.stdout.strip()


def toplevel(path: Path) -> Path:
    try:
        return Path(git(["rev-parse", "--show-toplevel"], path))
    except AgainstError:
        raise AgainstError(f"--vidbench-against needs a git repository, and {path} is not in "
                           "one: run from your checkout, or give a directory that holds the "
                           "base checkout") from None


@dataclass(frozen=True)
class TreeState:
    commit: str | None
    tree: str | None
    dirty: bool = False


def state(top: Path) -> TreeState:
    """The checked-out commit, its tree hash, and whether tracked files differ from it."""
    try:
        commit = git(["rev-parse", "HEAD"], top)
        tree = git(["rev-parse", "HEAD^{tree}"], top)
    except AgainstError:
        return TreeState(None, None)
    dirty = bool(git(["status", "--porcelain", "--untracked-files=no"], top))
    return TreeState(commit, tree, dirty)


@dataclass
class BaseTree:
    ref: str
    root: Path  # the base checkout's top level
    state: TreeState
    temporary: Path | None = None  # the directory holding our worktree, removed at the end
    head_top: Path | None = None

    def remove(self) -> None:
        if self.temporary is None:
            return
        if self.head_top is not None:
            with contextlib.suppress(AgainstError):  # removed below, and pruned
                git(["worktree", "remove", "--force", str(self.root)], self.head_top)
        shutil.rmtree(self.temporary, ignore_errors=True)
        if self.head_top is not None:
            with contextlib.suppress(AgainstError):
                git(["worktree", "prune"], self.head_top)
        self.temporary = None


def open_base(ref: str, head_top: Path, invocation_dir: Path) -> BaseTree:
    """A directory that exists is used as it is; anything else is a git revision, checked
    out into a temporary worktree outside the repository."""
    directory = (invocation_dir / ref).resolve()
    if directory.is_dir() and not _is_revision(ref, head_top):
        if directory == head_top.resolve():
            raise AgainstError(f"--vidbench-against {ref}: that is this checkout itself; give "
                               "another checkout's directory, or a revision such as HEAD")
        try:
            top = toplevel(directory)
        except AgainstError:
            top = directory  # a plain directory: state() finds no commit to name
        if top.resolve() == head_top.resolve():  # a plain folder inside this checkout
            return BaseTree(ref, directory, TreeState(None, None))
        return BaseTree(ref, top, state(top))
    if not _is_revision(ref, head_top):
        raise AgainstError(f"--vidbench-against {ref}: no such revision in {head_top} and no "
                           "such directory; give a commit, branch or tag (for CI: the merge "
                           "base, with `fetch-depth: 0`), or the path of another checkout")
    commit = git(["rev-parse", "--verify", f"{ref}^{{commit}}"], head_top)
    holder = Path(tempfile.mkdtemp(prefix="vidbench-base-"))
    root = holder / "tree"
    try:
        git(["worktree", "add", "--detach", str(root), commit], head_top)
    except AgainstError as error:
        shutil.rmtree(holder, ignore_errors=True)
        raise AgainstError(f"--vidbench-against {ref}: could not make a git worktree of "
                           f"{commit[:12]}: {error}") from None
    return BaseTree(ref, root, state(root), holder, head_top)


def _is_revision(ref: str, top: Path) -> bool:
    try:
        git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    except AgainstError:
        return False
    return True
