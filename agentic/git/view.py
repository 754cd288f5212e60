"""What commands in the sandbox see of git: the run's branch and its history, nothing else of yours.

A run's worktree (and a gate's checkout) is a linked worktree under `<checkout>/.agentic/`. The
sandbox shows it at `<checkout>` itself, the person's working tree path, so editable installs,
`.pth` files and absolute paths in the project's configuration resolve to the run's code. Git
there finds `<checkout>/.git`, a file naming `GIT_AT`, where a git directory synthesized for the
run is bound read-only: the worktree's HEAD, one ref (the run's branch) and the tags, a config of
nothing but the repository format, the shallow list and an index copy; an object store beneath it. The person's own git directory (config and its credentials, index,
stash, other branches and worktrees, hooks, the journals under `.agentic`) is hidden, and so is a
superproject when the repository is a submodule. The objects come from a store of their own with
only what the view's refs reach, so not even a scan of the packs finds the person's stash. This holds for every layout git has: a `.git`
directory, `--separate-git-dir` / a `gitdir:` file, a linked worktree, a submodule. An eval's clone
of a person's local repository is shown at that repository's path instead (show_at), which is hidden
beneath it with its git dir.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from agentic.git.cmd import dot_git_file, git, run_git, run_git_bytes
from agentic.util import globs

GIT_AT = "/tmp/.agentic-git"  # where the synthesized git dir is bound, read-only
VIEW = "agentic-view"  # in the worktree's admin dir: the synthesized git dir
DOT_GIT = "agentic-dotgit"  # in the worktree's admin dir: the .git file commands see
STATE_DIRS = ("worktrees", "checkouts")
SHOWN_AT = "shown-at"  # <checkout>/.agentic/shown-at: where its worktrees are shown, when not at <checkout> (show_at)
OBJECTS = "objects"  # <checkout>/.agentic/objects: what the views' refs reach, packed
EMPTY_PACK = 32  # bytes: a pack's header and checksum, no object
MAX_PACKS = (
    32  # then the store is packed again as one  # .agentic/<one of these>/<name> are the harness's worktrees
)


@dataclass(frozen=True)
class GitView:
    at: str  # the person's working tree: where commands see the worktree
    view: str  # the synthesized git dir (host), bound at GIT_AT
    objects: str  # the repository's object store, bound at GIT_AT/objects
    dot_git: str  # the .git file bound at <at>/.git
    hide: tuple[str, ...]  # the person's git dir, a superproject's working tree
    expose: tuple[str, ...]  # object stores the repository borrows from (alternates), read-only


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def linked_gitdir(worktree: Path) -> Path | None:
    """The git dir a `.git` file names (never a link), as a real path; None without one."""
    named = dot_git_file(str(worktree))
    if named is None:
        return None
    real = Path(os.path.realpath(named))
    return real if real.is_dir() else None


def git_common_dir(worktree: Path) -> Path | None:
    """The repository's git dir behind a `.git` file (its commondir, for a linked worktree)."""
    gitdir = linked_gitdir(worktree)
    if gitdir is None:
        return None
    try:
        common = (gitdir / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return gitdir
    real = Path(os.path.realpath(Path(common) if Path(common).is_absolute() else gitdir / common))
    return real if real.is_dir() else None


def checkout_common_dir(checkout: Path) -> Path | None:
    """The git dir of a person's working tree, whatever its layout."""
    dot_git = checkout / ".git"
    if dot_git.is_dir() and not dot_git.is_symlink():
        return Path(os.path.realpath(dot_git))
    return git_common_dir(checkout)


def index_of(worktree: str, view: GitView | None) -> Path | None:
    """The index git reads for `worktree` (a real path) in the sandbox: the view's copy, else the
    worktree's own (a `.git` directory's, or that of the git dir a `.git` file names); None without one."""
    if view is not None:
        index = Path(view.view) / "index"
    else:
        dot_git = Path(worktree) / ".git"
        admin = dot_git if dot_git.is_dir() and not dot_git.is_symlink() else linked_gitdir(Path(worktree))
        if admin is None:
            return None
        index = admin / "index"
    return index if index.is_file() and not index.is_symlink() else None


def checkout_of(worktree: str) -> str | None:
    """The person's working tree a harness worktree (`<checkout>/.agentic/worktrees/<run>`) belongs to."""
    path = Path(worktree)
    if path.parent.name in STATE_DIRS and path.parent.parent.name == ".agentic":
        return str(path.parent.parent.parent)
    return None


def show_at(checkout: Path, path: str) -> None:
    """Have the sandbox show `checkout`'s worktrees and checkouts at `path`, another working tree,
    instead of at `checkout`: an eval's clone of a person's local repository is shown at that
    repository's path, so its editable installs, `.pth` files, virtual environment and absolute
    paths resolve to the attempt's code. Written in the harness's own `.agentic/`, never in a
    repository's content; a `path` that is no working tree, or lies in the clone, is ignored
    (shown_at). The clone may lie in it (an eval's --workdir inside the repository), as a run's
    worktree lies in the checkout it is shown at."""
    state = checkout / ".agentic"
    state.mkdir(exist_ok=True)
    (state / SHOWN_AT).write_text(os.path.realpath(path) + "\n", encoding="utf-8", errors="surrogateescape")


def shown_at(checkout: str) -> str:
    """Where `checkout`'s worktrees are shown: the working tree show_at named, else the checkout."""
    marker = os.path.join(checkout, ".agentic", SHOWN_AT)
    try:
        if not os.path.isfile(marker) or os.path.islink(marker):
            return checkout
        with open(marker, encoding="utf-8", errors="surrogateescape") as fh:
            path = fh.read(8192).rstrip("\n")
    except OSError:
        return checkout
    real = os.path.realpath(path) if os.path.isabs(path) else ""
    if not real or real == "/" or _under(real, checkout) or not os.path.isdir(real):
        return checkout
    return real if os.path.lexists(os.path.join(real, ".git")) else checkout


def git_view(worktree: str, masked: Sequence[str] = (), secret: Sequence[str] = (),
             rebuild: bool = True) -> GitView | None:  # fmt: skip
    """The view of a harness worktree (a real path), built now; None when it is not one. `masked`:
    worktree paths commands see empty, which the view's index takes as unchanged (so neither
    `git status` nor `git diff` shows what they hold in the base). `secret`: globs of paths whose
    content no commit in the view shows (the contract's read_file deny): their blobs are left out
    of the view's object store and replaced by the empty blob (`refs/replace`). `rebuild=False`
    takes the view the worktree has: a sandbox beside the run's own (a hook's, an MCP server's) must
    not replace the directory the run's sandbox has bound."""
    admin, common, checkout = (
        linked_gitdir(Path(worktree)),
        git_common_dir(Path(worktree)),
        checkout_of(worktree),
    )
    if admin is None or common is None or checkout is None or not _under(str(admin), str(common)):
        return None
    if checkout_common_dir(Path(checkout)) != common or _under(checkout, str(common)):
        return None
    reuse = not rebuild and (admin / VIEW).is_dir()
    view = admin / VIEW if reuse else build(admin, common, Path(worktree), masked)
    objects = object_store(common, Path(checkout) / ".agentic" / OBJECTS / _key(secret), _tips(view), secret)
    if objects is not None and not reuse:  # a view reused has its replacements already
        _replace_secrets(view, objects)
    dot_git = admin / DOT_GIT
    _write_if_changed(dot_git, f"gitdir: {GIT_AT}\n")
    at = shown_at(checkout)
    hide = [str(common)] if not _under(str(common), checkout) else []
    if at != checkout and (other := checkout_common_dir(Path(at))) is not None and not _under(str(other), at):
        hide.append(str(other))  # the git dir of the working tree shown over (a linked worktree's, a --separate-git-dir)
    hide += [os.path.realpath(above) for above in dict.fromkeys([_superproject(checkout), _superproject(at)]) if above]
    borrowed = _alternates(common) if objects is None else ()
    return GitView(at, str(view), str(objects or common / "objects"), str(dot_git), tuple(hide), borrowed)


@lru_cache(maxsize=64)
def _superproject(checkout: str) -> str:
    """The working tree of the repository whose submodule `checkout` is ("" when none): it does not
    change while the harness runs on the checkout. Git is asked only when a directory above the
    checkout holds a `.git`: without one there is no superproject for it to find."""
    if not any(os.path.lexists(os.path.join(above, ".git")) for above in Path(checkout).parents):
        return ""
    return run_git(["rev-parse", "--show-superproject-working-tree"], Path(checkout)).stdout.strip()


def _tips(view: Path) -> list[str]:
    """The commits and tags the view's refs name (HEAD included): what its objects must reach."""
    head = (view / "HEAD").read_text(encoding="utf-8").strip()
    refs = [line.split(" ", 1)[0] for line in (view / "packed-refs").read_text(encoding="utf-8").splitlines()
            if line and line[0] not in "#^"]  # fmt: skip
    return list(dict.fromkeys([*([] if head.startswith("ref:") else [head]), *refs]))


def _key(secret: Sequence[str]) -> str:
    """Stores differ by what they leave out: a store built for fewer secrets never serves more."""
    return hashlib.sha256("\0".join(sorted(secret)).encode()).hexdigest()[:16] if secret else "all"


def object_store(common: Path, store: Path, tips: Sequence[str], secret: Sequence[str] = ()) -> Path | None:
    """An object store holding only what `tips` reach (the run's history, the tags), less the blobs
    of paths matching `secret`: never the objects of the person's stash, other branches or
    unreachable work, which share the repository's. Packs are added as new tips come (a new base, a
    gate's candidate), each with only what is new, under a lock: shared by the runs of the
    repository. The blobs left out are listed in `<store>/secret`. None when git cannot list or
    pack (a partial clone missing objects): the repository's own store is used then."""
    (store / "pack").mkdir(parents=True, exist_ok=True)
    with open(store / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        listed = store / "tips"
        known = listed.read_text(encoding="utf-8").split() if listed.is_file() else []
        new = [t for t in tips if t not in set(known)]
        if not new:
            return store
        old_packs = sorted((store / "pack").glob("pack-*.pack"))
        whole = len(old_packs) >= MAX_PACKS  # many small packs slow git down: one pack of everything instead
        wanted = "".join(f"{t}\n" for t in [*(known if whole else []), *new])
        wanted += "" if whole else "".join(f"^{k}\n" for k in known)
        listing = run_git(
            ["--git-dir", str(common), "rev-list", "--objects", "--stdin"], common, input=wanted
        )
        if listing.returncode != 0:
            return None
        keep, left_out = _leave_out(common, listing.stdout.splitlines(), secret)
        done = run_git_bytes(["--git-dir", str(common), "pack-objects", "--quiet", str(store / "pack" / "pack")],
                             common, input="".join(f"{line}\n" for line in keep).encode("utf-8", "surrogateescape"))  # fmt: skip
        if done.returncode != 0:
            return None
        packed = store / "pack" / f"pack-{done.stdout.decode().strip()}.pack"
        if packed.is_file() and packed.stat().st_size <= EMPTY_PACK:
            packed.unlink()
            packed.with_suffix(".idx").unlink(missing_ok=True)
        if whole:  # the empty blob may have been in an old pack only, and left out of the new one
            (store / "empty").unlink(missing_ok=True)
        for pack in old_packs if whole else []:  # a sandbox still reading an old pack keeps its open file
            if pack != packed:
                pack.with_suffix(".idx").unlink(missing_ok=True)
                pack.unlink(missing_ok=True)
        if left_out:
            with open(store / "secret", "a", encoding="utf-8") as fh:
                fh.write("".join(f"{sha}\n" for sha in left_out))
        with open(listed, "a", encoding="utf-8") as fh:
            fh.write("".join(f"{t}\n" for t in new))
    return store


def _leave_out(common: Path, lines: list[str], secret: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split `rev-list --objects` lines into those to pack and the blobs of secret paths."""
    if not secret:
        return lines, []
    matched = {line.split(" ", 1)[0] for line in lines
               if " " in line and globs.match_any(secret, line.split(" ", 1)[1]) is not None}  # fmt: skip
    if not matched:
        return lines, []
    kinds = run_git(["--git-dir", str(common), "cat-file", "--batch-check=%(objectname) %(objecttype)"], common,
                    input="".join(f"{sha}\n" for sha in matched)).stdout.split()  # fmt: skip
    blobs = {kinds[i] for i in range(0, len(kinds) - 1, 2) if kinds[i + 1] == "blob"}
    return [line for line in lines if line.split(" ", 1)[0] not in blobs], sorted(blobs)


def _replace_secrets(view: Path, store: Path) -> None:
    """refs/replace: each blob left out of the store reads as the empty blob (which the store holds)."""
    listed = store / "secret"
    secrets = listed.read_text(encoding="utf-8").split() if listed.is_file() else []
    if not secrets:
        return
    empty = _empty_blob(view, store)
    with open(view / "packed-refs", "a", encoding="utf-8") as fh:
        fh.write("".join(f"{empty} refs/replace/{sha}\n" for sha in dict.fromkeys(secrets)))


def _empty_blob(view: Path, store: Path) -> str:
    """The empty blob's id, written into the store once and noted beside it. The note stands while
    the object does: git writes no loose copy of an object the store's packs hold already, and a
    repack of the whole store (object_store) drops the note with the packs."""
    noted = store / "empty"
    try:
        empty = noted.read_text(encoding="utf-8").strip()
        if len(empty) >= 40:
            return empty
    except OSError:
        pass
    env = {"GIT_OBJECT_DIRECTORY": str(store)}
    empty = git(["--git-dir", str(view), "hash-object", "-w", "--stdin"], view, env=env, input="").strip()
    _write_if_changed(noted, empty + "\n")
    return empty


def build(admin: Path, common: Path, worktree: Path, masked: Sequence[str] = ()) -> Path:
    """(Re)write the synthesized git dir for the worktree whose admin dir this is."""
    view, work = admin / VIEW, admin / f"{VIEW}.{os.getpid()}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("objects", "refs/heads", "refs/tags", "info"):
        (work / sub).mkdir(parents=True)
    head = (admin / "HEAD").read_text(encoding="utf-8")
    (work / "HEAD").write_text(head, encoding="utf-8")
    branch = head[len("ref:") :].strip() if head.startswith("ref:") else None
    # the tags, and the branch HEAD names (its line first); one git for both
    listed = git(["--git-dir", str(common), "for-each-ref", "--format=%(objectname) %(refname)", "refs/tags",
                  *([branch] if branch else [])], admin).splitlines(keepends=True)  # fmt: skip
    own = [line for line in listed if line.rstrip("\n").partition(" ")[2] == branch]
    refs = "".join(own + [line for line in listed if line not in own])
    (work / "packed-refs").write_text(refs, encoding="utf-8")
    (work / "config").write_text(_config(common), encoding="utf-8")
    for name, source in (("shallow", common / "shallow"), ("index", admin / "index")):
        if source.is_file():
            shutil.copyfile(source, work / name)
    if masked and (work / "index").is_file():
        _assume_unchanged(admin, worktree, work / "index", masked)
    shutil.rmtree(view, ignore_errors=True)
    os.replace(work, view)
    return view


def _assume_unchanged(admin: Path, worktree: Path, index: Path, masked: Sequence[str]) -> None:
    explicit = ["--literal-pathspecs", f"--git-dir={admin}", f"--work-tree={worktree}"]
    env = {"GIT_INDEX_FILE": str(index)}
    tracked = git([*explicit, "ls-files", "-z", "--", *masked], worktree, env=env)
    if tracked:
        git(
            [*explicit, "update-index", "-z", "--assume-unchanged", "--stdin"],
            worktree,
            env=env,
            input=tracked,
        )


def _config(common: Path) -> str:
    """Only what reading the repository needs: its format and extensions (no remote, no credential)."""
    values = common_config(common) or {}
    lines = ["[core]", f"\trepositoryformatversion = {values.get('core.repositoryformatversion', '0')}",
             "\tbare = false"]  # fmt: skip
    extensions = {k: v for k, v in values.items() if k.startswith("extensions.")}
    if extensions:
        lines.append("[extensions]")
        lines += [f"\t{key.split('.', 1)[1]} = {value}" for key, value in extensions.items()]
    return "\n".join(lines) + "\n"


def common_config(common: Path) -> dict[str, str] | None:
    """The keys of the repository's own config file (`LAYOUT_KEYS`) that say how its git dir and
    worktrees are laid out: its format, its extensions, a sparse checkout, a bare repository, per-worktree
    settings. Read again whenever the file changes; empty without one, None when git cannot read it."""
    try:
        info = os.stat(common / "config")
    except OSError:
        return {}
    found = _read_common_config(common, (info.st_mtime_ns, info.st_size))
    return dict(found) if found is not None else None


LAYOUT_KEYS = r"^(core\.(repositoryformatversion|bare|worktree|sparsecheckout)|extensions\..*|worktree\..*)$"


@lru_cache(maxsize=64)
def _read_common_config(common: Path, stamp: tuple[int, int]) -> tuple[tuple[str, str], ...] | None:
    done = run_git(["--git-dir", str(common), "config", "--file", str(common / "config"), "--includes", "-z",
                    "--get-regexp", LAYOUT_KEYS], common)  # fmt: skip
    if done.returncode not in (0, 1):  # 1: none of the keys is set
        return None
    return tuple((key, value) for key, _, value in (item.partition("\n") for item in done.stdout.split("\0") if item))


def _alternates(common: Path) -> tuple[str, ...]:
    try:
        text = (common / "objects" / "info" / "alternates").read_text(encoding="utf-8")
    except OSError:
        return ()
    base = common / "objects"
    dirs = (
        os.path.realpath(base / line.strip()) for line in text.splitlines() if line.strip() and line[0] != "#"
    )
    return tuple(d for d in dirs if os.path.isdir(d))


def _write_if_changed(path: Path, content: str) -> None:
    if path.is_file() and path.read_text(encoding="utf-8") == content:
        return
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(content, encoding="utf-8")
    os.replace(partial, path)
