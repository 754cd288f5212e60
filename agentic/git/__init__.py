"""The harness's git: one hardened way to run it on the host (`cmd`), staging whatever a worktree holds,
submodules, the git a sandboxed command sees (`view`), and the lock files a dead git left (`locks`)."""
