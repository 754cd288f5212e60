"""Command decisions under an allow-list rule: wrappers, dangerous flags, privilege programs, and what
stays allowed (scripts, every part decided: tests/policy/test_shell.py).

Each case is a command → the verdict and a substring of the rule (and optionally of the reason). The
rule set is an allow-list with a few patterns that spell dangerous options.
"""

from __future__ import annotations

import pytest

from agentic.policy.contract import Rule, load_contract
from agentic.policy.decision import Decision
from agentic.policy.engine import decide
from agentic.policy.shell.decide import decide_script
from agentic.policy.shell.flags import dangerous_flags
from agentic.policy.shell.programs import program_name


def decide_command(tool: str, rule: Rule, command: str) -> Decision:
    return decide_script(tool, rule, command, lambda path: Decision("allow", "write"))

RULE = Rule(
    allow=(
        "python -m pytest *",  # 0
        "pytest *",  # 1
        "ruff check *",  # 2
        "ruff format --check *",  # 3
        "git status",  # 4
        "git diff *",  # 5
        "git log *",  # 6
        "pytest -p xdist *",  # 7: spells -p with one plugin
        "pytest --rootdir=* *",  # 8: spells --rootdir with any value
        "python3 -c *",  # 9: spells -c
        "git -C sub config core.fsmonitor *",  # 10: spells -C and config
        "make *",  # 11
        "pip *",  # 12
        "git *",  # 13
        "env",  # 14
        "npm *",  # 15
        "cargo *",  # 16
        "node *",  # 17
        "perl *",  # 18
        "find *",  # 19
        "tar *",  # 20
        "uvx *",  # 21
        "npx *",  # 22
        "uv *",  # 23
        "python -m pip *",  # 24
        "echo *",  # 25
        "bash scripts/check.sh",  # 26
        "sh *",  # 27
        "python *",  # 28
        "make test CC=clang",  # 29: spells an assignment
    ),
    ask=("git commit *",),
    deny=("git push *", "timeout 1 *"),
)


def decision(command: str) -> Decision:
    return decide_command("run_command", RULE, command)


ALLOWED = [
    ("pytest", "allow[1] 'pytest *'"),
    ("pytest -q -x tests/test_a.py::test_b", "allow[1]"),
    ("pytest -k 'not slow' -m unit -W error::DeprecationWarning -rA --tb=short", "allow[1]"),
    ("pytest --pyargs mypkg", "allow[1]"),  # --pyargs: decided not dangerous
    ("pytest -vv --lf --maxfail=2 --deselect tests/test_a.py::test_c", "allow[1]"),
    ("python -m pytest -q", "allow[0]"),
    ("python -m pytest -W error -X importtime", "allow[0]"),
    ("pytest -p xdist -n 4", "allow[7] 'pytest -p xdist *'"),
    ("pytest --rootdir=/tmp/x -q", "allow[8]"),
    ("python3 -c 'print(1)'", "allow[9]"),
    ("python -X importtime -B script.py -c whatever", "allow[28]"),  # -c after the script is the script's
    ("python script.py -m http.server", "allow[28]"),
    ("ruff check src tests --select E,F --config pyproject.toml", "allow[2]"),  # ruff --config: not dangerous
    ("ruff check --no-fix src", "allow[2]"),
    ("ruff format --check .", "allow[3]"),
    ("git status", "allow[4]"),
    ("git diff HEAD~1 -- config", "allow[5]"),
    ("git diff -c --stat --no-ext-diff", "allow[5]"),
    ("git log -p -u --oneline", "allow[6]"),  # -p and -u are patch options in git log
    ("git --no-pager log config", "allow[13]"),  # a path named config is not the config subcommand
    ("git -C sub config core.fsmonitor 'touch x'", "allow[10]"),
    ("git show HEAD:src/a.py", "allow[13]"),
    ("git commit -m 'fix'", "ask[0] 'git commit *'"),
    ("make", "allow[11]"),
    ("make -j4 test", "allow[11]"),
    ("make -k -s check", "allow[11]"),
    ("make test CC=clang", "allow[29]"),
    ("pip list", "allow[12]"),
    ("pip show wheel", "allow[12]"),  # a package named like a subcommand
    ("pip -q freeze", "allow[12]"),
    ("python -m pip list", "allow[24]"),
    ("npm test", "allow[15]"),
    ("npm run lint", "allow[15]"),
    ("cargo test --release", "allow[16]"),
    ("cargo +nightly build", "allow[16]"),
    ("node script.js --eval-later", "allow[17]"),
    ("perl -i.bak -n script.pl", "allow[18]"),
    ("find . -name '*.py' -print", "allow[19]"),
    ("tar -tzf archive.tgz", "allow[20]"),
    ("uvx ruff check", "allow[21]"),
    ("npx eslint src", "allow[22]"),
    ("uv pip list", "allow[23]"),
    ("echo sudo -c rm", "shell-builtin"),  # words after an ordinary program are just arguments
    ("python tool.py sudo -c rm", "allow[28]"),
    ("pytest tests/$NAME", "allow[1]"),  # an unknown word that cannot be an option
    ("bash scripts/check.sh", "allow[26]"),
    ("sh -e -x scripts/check.sh", "allow[27]"),
    ("env", "allow[14]"),  # env running nothing is decided as itself
    ("timeout 60 pytest -q", "wrapper timeout → tools.run_command.allow[1] 'pytest *'"),
    ("timeout -s KILL -k 5 60 pytest", "wrapper timeout → tools.run_command.allow[1]"),
    ("timeout --signal=TERM 60 pytest", "wrapper timeout → tools.run_command.allow[1]"),
    ("nice pytest", "wrapper nice → tools.run_command.allow[1]"),
    ("nice -n 10 pytest", "wrapper nice → tools.run_command.allow[1]"),
    ("nice -10 pytest", "wrapper nice → tools.run_command.allow[1]"),
    ("ionice -c 3 pytest", "wrapper ionice → tools.run_command.allow[1]"),
    ("stdbuf -oL -eL pytest", "wrapper stdbuf → tools.run_command.allow[1]"),
    ("flock /tmp/lock pytest -q", "wrapper flock → tools.run_command.allow[1]"),
    ("time pytest", "wrapper time → tools.run_command.allow[1]"),
    ("time -v pytest", "wrapper time → tools.run_command.allow[1]"),
    ("command pytest", "wrapper command → tools.run_command.allow[1]"),
    ("exec -a x pytest", "wrapper exec → tools.run_command.allow[1]"),
    ("busybox find . -name x", "wrapper busybox → tools.run_command.allow[19]"),
    ("env -i pytest", "wrapper env → tools.run_command.allow[1]"),
    ("env -u HOME pytest", "wrapper env → tools.run_command.allow[1]"),
    ("env -- pytest", "wrapper env → tools.run_command.allow[1]"),
    ("uv run pytest -q", "wrapper uv run → tools.run_command.allow[1]"),
    ("uv run --frozen pytest", "wrapper uv run → tools.run_command.allow[1]"),
    ("poetry run pytest", "wrapper poetry run → tools.run_command.allow[1]"),
    ("timeout 5 pytest --rootdir=/ -q", "wrapper timeout → tools.run_command.allow[8]"),  # spelled
    ("nice -n 5 timeout 60 pytest -q", "wrapper nice → wrapper timeout → tools.run_command.allow[1]"),
    ("/usr/bin/timeout 5 pytest", "wrapper timeout → tools.run_command.allow[1]"),
    # programs are matched by their plain names when found on PATH
    ("python3 -m pytest -q", "allow[0]"),
    ("/usr/bin/python3 -m pytest -q", "allow[0]"),
    # in the sandbox, wrappers that used to be refused run their command, which is decided
    ("setsid pytest", "wrapper setsid → tools.run_command.allow[1]"),
    ("nohup pytest", "wrapper nohup → tools.run_command.allow[1]"),
    ("xargs pytest", "wrapper xargs → tools.run_command.allow[1]"),
    ("xargs -a args.txt pytest", "wrapper xargs → tools.run_command.allow[1]"),
    ("exec xargs pytest", "wrapper exec → wrapper xargs → tools.run_command.allow[1]"),
    ("find . -name '*.pyc' -delete", "allow[19]"),
    ("bash -c pytest", "wrapper bash -c → tools.run_command.allow[1]"),
    ("bash -lc pytest", "wrapper bash -lc → tools.run_command.allow[1]"),
    ("bash --norc -c pytest", "wrapper bash -c → tools.run_command.allow[1]"),
    ("bash -o errexit -c pytest", "wrapper bash -c → tools.run_command.allow[1]"),
    ("zsh -c pytest", "wrapper zsh -c → tools.run_command.allow[1]"),
    ("dash -ec pytest", "wrapper dash -ec → tools.run_command.allow[1]"),
    ("/bin/sh -c pytest", "wrapper sh -c → tools.run_command.allow[1]"),
    ("A=1 pytest", "tools.run_command.allow[1]"),
    ("env PYTEST_ADDOPTS=-x pytest", "wrapper env → tools.run_command.allow[1]"),
    ("env -i LD_PRELOAD=/tmp/x.so pytest", "wrapper env → tools.run_command.allow[1]"),
    ("env -C / pytest", "wrapper env → tools.run_command.allow[1]"),
    ("poetry run -C /x pytest", "wrapper poetry run → tools.run_command.allow[1]"),
]


@pytest.mark.parametrize(("command", "rule"), ALLOWED)
def test_allowed_commands_stay_allowed(command: str, rule: str) -> None:
    got = decision(command)
    assert got.verdict in ("allow", "ask"), got
    assert rule in got.rule, got


def test_value_of_k_that_looks_like_a_flag() -> None:
    # pytest -k takes a value; a bare "-p" after it is still treated as the plugin flag (safe side)
    assert decision("pytest -k -p").rule == "dangerous-flag pytest -p"


DENIED = [
    # hostile case 7: pytest's dangerous flags, in every spelling
    ("pytest --rootdir /", "dangerous-flag pytest --rootdir", "run the command without it"),
    ("pytest -c evil.ini", "dangerous-flag pytest -c", "pytest -c"),
    ("pytest --config-file=evil.ini", "dangerous-flag pytest --config-file", ""),
    ("pytest --config-file evil.ini", "dangerous-flag pytest --config-file", ""),
    ("pytest -p evil", "dangerous-flag pytest -p", "tools.run_command.allow[1] 'pytest *'"),
    ("pytest -pevil", "dangerous-flag pytest -p", ""),
    ("pytest -pno:cacheprovider", "dangerous-flag pytest -p", ""),
    ("pytest -qp no:cacheprovider", "dangerous-flag pytest -p", ""),
    ("pytest -vx -p evil", "dangerous-flag pytest -p", ""),
    ("pytest -p xdist -p evil", "dangerous-flag pytest -p", ""),  # the second -p is in the trailing *
    ("pytest -o addopts=-k", "dangerous-flag pytest -o", ""),
    ("pytest -oaddopts=", "dangerous-flag pytest -o", ""),
    ("pytest --override-ini=addopts=", "dangerous-flag pytest --override-ini", ""),
    ("pytest --basetemp=$HOME", "dangerous-flag pytest --basetemp", "empties"),
    ("pytest --confcutdir=/", "dangerous-flag pytest --confcutdir", ""),
    ("pytest --pdbcls=evil:Debugger", "dangerous-flag pytest --pdbcls", ""),
    ("pytest --junitxml=report.xml", "dangerous-flag pytest --junitxml", ""),
    (
        "pytest tests -q --rootdir=/",
        "dangerous-flag pytest --rootdir",
        "",
    ),  # allow[8] spells it at word 1 only
    ("python -m pytest -p evil", "dangerous-flag pytest -p", "'python -m pytest *'"),
    ("python -m pytest --rootdir=/", "dangerous-flag pytest --rootdir", ""),
    ("./python3 -m pytest -q", "tools.run_command", "no rule"),  # not on PATH: matched as written
    # hostile case 8: python -c / -m, pip install, git -c / --upload-pack
    ("python -c 'import os'", "dangerous-flag python -c", "python -c"),
    ("python -Bc 'import os'", "dangerous-flag python -c", ""),
    ("python -I -c 'import os'", "dangerous-flag python -c", ""),
    ("python -m http.server", "dangerous-flag python -m http.server", "module http.server"),
    ("python -mhttp.server", "dangerous-flag python -m http.server", ""),
    ("python -Im http.server 8000", "dangerous-flag python -m http.server", ""),
    ("python -W ignore -m http.server", "dangerous-flag python -m http.server", ""),
    ("python -m pip install requests", "dangerous-flag pip install", ""),
    ("python -m pip download requests", "dangerous-flag pip download", ""),
    ("pip install requests", "dangerous-flag pip install", "installs"),
    ("pip uninstall -y pytest", "dangerous-flag pip uninstall", ""),
    ("pip download requests", "dangerous-flag pip download", ""),
    ("pip --log x install requests", "dangerous-flag pip install", ""),
    ("pip --unknown-flag x install requests", "dangerous-flag pip install", ""),
    ("pip -q wheel .", "dangerous-flag pip wheel", ""),
    ("git -c core.sshCommand=evil fetch", "dangerous-flag git -c", "git -c"),
    ("git -c core.pager=evil log", "dangerous-flag git -c", ""),
    ("git --config-env=core.pager=EVIL log", "dangerous-flag git --config-env", ""),
    ("git --exec-path=/tmp log", "dangerous-flag git --exec-path", ""),
    ("git --git-dir=/elsewhere/.git log", "dangerous-flag git --git-dir", ""),
    ("git --work-tree /elsewhere status", "dangerous-flag git --work-tree", ""),
    ("git -C /elsewhere log", "dangerous-flag git -C", ""),
    ("git --upload-pack=evil fetch", "dangerous-flag git --upload-pack", ""),
    ("git fetch --upload-pack=evil origin", "dangerous-flag git fetch", ""),
    ("git ls-remote --upload-pa=evil origin", "dangerous-flag git ls-remote", ""),
    ("git log --upload-pa=evil", "dangerous-flag git --upload-pack", ""),  # abbreviated option
    ("git diff --receive-pack=evil", "dangerous-flag git --receive-pack", ""),
    ("git diff --ext-diff", "dangerous-flag git --ext-diff", "git --ext-diff"),
    ("git diff --ext", "dangerous-flag git --ext-diff", ""),
    ("git diff --output=/tmp/x", "dangerous-flag git --output", ""),
    ("git log --exec=evil", "dangerous-flag git --exec", ""),
    ("git push origin main", "tools.run_command.deny[0] 'git push *'", ""),
    ("git clone https://example.com/x", "dangerous-flag git clone", ""),
    ("git pull", "dangerous-flag git pull", ""),
    ("git remote add x y", "dangerous-flag git remote", ""),
    ("git submodule update", "dangerous-flag git submodule", ""),
    ("git config core.pager evil", "dangerous-flag git config", ""),
    ("git filter-branch --tree-filter x", "dangerous-flag git filter-branch", ""),
    ("git daemon", "dangerous-flag git daemon", ""),
    ("git bisect run evil", "dangerous-flag git bisect", ""),
    ("git rebase -x evil HEAD~2", "dangerous-flag git -x", ""),
    ("git grep -O foo", "dangerous-flag git -O", ""),
    ("git archive --remote=x HEAD", "dangerous-flag git --remote", ""),
    ("git commit -m x --exec=evil", "dangerous-flag git --exec", ""),  # ask patterns check flags too
    # other programs
    ("ruff check --fix src", "dangerous-flag ruff --fix", ""),
    ("ruff check --add-noqa src", "dangerous-flag ruff --add-noqa", ""),
    ("make -f evil.mk", "dangerous-flag make -f", ""),
    ("make -sf evil.mk", "dangerous-flag make -f", ""),
    ("make --file=evil.mk", "dangerous-flag make --file", ""),
    ("make --fil=evil.mk", "dangerous-flag make --file", ""),
    ("make -C /elsewhere", "dangerous-flag make -C", ""),
    ("make --eval='x: ; evil'", "dangerous-flag make --eval", ""),
    ("make test SHELL=/tmp/evil", "dangerous-flag make SHELL=", "make variable"),
    ("make test CC=gcc", "dangerous-flag make CC=", ""),
    ("npm install left-pad", "dangerous-flag npm install", ""),
    ("npm i left-pad", "dangerous-flag npm i", ""),
    ("npm exec evil", "dangerous-flag npm exec", ""),
    ("npm -g ls", "dangerous-flag npm -g", ""),
    ("npx -y evil", "dangerous-flag npx -y", ""),
    ("npx --package=evil x", "dangerous-flag npx --package", ""),
    ("cargo install ripgrep", "dangerous-flag cargo install", ""),
    ("cargo --config 'target.x.runner=\"evil\"' test", "dangerous-flag cargo --config", ""),
    ("cargo -Zunstable build", "dangerous-flag cargo -Z", ""),
    ("uv add requests", "dangerous-flag uv add", ""),
    ("uv pip install requests", "dangerous-flag uv pip install", ""),
    ("uv --offline run python -c x", "dangerous-flag uv run", ""),
    ("uvx --from evil ruff", "dangerous-flag uvx --from", ""),
    ("node -e 'evil()'", "dangerous-flag node -e", ""),
    ("node --eval=evil", "dangerous-flag node --eval", ""),
    ("node -r evil app.js", "dangerous-flag node -r", ""),
    ("perl -ne 'print'", "dangerous-flag perl -e", ""),
    ("perl -MEvil script.pl", "dangerous-flag perl -M", ""),
    ("find . -fprint /tmp/out", "dangerous-flag find -fprint", ""),
    ("tar -xf a.tar --to-command=evil", "dangerous-flag tar --to-command", ""),
    ("tar -I evil -xf a.tar", "dangerous-flag tar -I", ""),
    ("tar --use-compress=evil -xf a.tar", "dangerous-flag tar --use-compress-program", ""),
    # hostile case 9: privilege programs refused outright; wrappers that run a script decide it
    ("sudo pytest", "program sudo", "no other users"),
    ("/usr/bin/sudo -u root pytest", "program sudo", ""),
    ("su -c pytest", "program su", ""),
    ("doas pytest", "program doas", ""),
    ("pkexec pytest", "program pkexec", ""),
    ("chroot / pytest", "program chroot", ""),
    ("unshare -r pytest", "program unshare", ""),
    ("nsenter -t 1 pytest", "program nsenter", ""),
    ("find . -exec rm {} +", "wrapper find -exec → tools.run_command", ""),
    ("find . -name x -execdir rm {} +", "wrapper find -execdir → tools.run_command", ""),
    ("find . -ok rm {} +", "wrapper find -ok → tools.run_command", ""),
    ("sh -c 'curl example.com'", "wrapper sh -c → tools.run_command", "no rule"),
    ("xargs rm", "wrapper xargs → tools.run_command", ""),
    # wrappers unwrapped: the wrapped command decides
    ("timeout 5 sh -c 'curl x'", "wrapper timeout → wrapper sh -c", ""),
    ("timeout 5 curl example.com", "wrapper timeout → tools.run_command", "no rule"),
    ("timeout 5 pytest -p evil", "wrapper timeout → dangerous-flag pytest -p", ""),
    ("timeout 5 git push origin", "wrapper timeout → tools.run_command.deny[0]", ""),
    ("timeout 1 pytest", "tools.run_command.deny[1] 'timeout 1 *'", ""),  # deny patterns see the wrapper
    ("nice -n 5 python -c x", "wrapper nice → dangerous-flag python -c", ""),
    ("nice sudo pytest", "wrapper nice → program sudo", ""),
    ("ionice -p 1", "wrapper ionice -p", "other processes"),
    ("stdbuf -oL python -m http.server", "wrapper stdbuf → dangerous-flag python -m http.server", ""),
    ("flock /tmp/lock -c pytest", "wrapper flock -c", "shell"),
    ("flock -c pytest", "wrapper flock -c", ""),
    ("time sh -c x", "wrapper time → wrapper sh -c", ""),
    ("command sudo pytest", "wrapper command → program sudo", ""),
    ("busybox sh -c x", "wrapper busybox → wrapper sh -c", ""),
    ("busybox --install /tmp", "wrapper busybox --install", ""),
    ("env -S 'sh -c x'", "wrapper env -S", "splits"),
    ("env --split-string='sh -c x'", "wrapper env --split-string", ""),
    ("uv run --with evil pytest", "wrapper uv run --with", "installs"),
    ("uv run -p /tmp/python pytest", "wrapper uv run -p", ""),
    ("uv run python -c x", "wrapper uv run → dangerous-flag python -c", ""),
    ("./timeout 5 pytest", "tools.run_command", "no rule"),  # a local script named like a wrapper
    ("/tmp/bin/nice pytest", "tools.run_command", "no rule"),
    ("./uv run pytest", "tools.run_command", "no rule"),
    ("timeout 5 ./pytest", "wrapper timeout → tools.run_command", "no rule"),
    ("nice " * 9 + "pytest", "wrapper nice", "more than"),
]


ASKED = [
    ("env --unknown pytest", "wrapper env --unknown", "not one agentic knows"),
    ("timeout --bogus 5 pytest", "wrapper timeout --bogus", ""),
    ("fish -C pytest", "program fish -C", "does not parse"),
    ("pwsh -Command pytest", "program pwsh -Command", ""),
    ("$CMD -q", "unknown-program", "only known when the script runs"),
    ("pytest $FLAGS", "allow[1]", "may be an option"),
    ('pytest "$@"', "allow[1]", "may be an option"),
]


@pytest.mark.parametrize(("command", "rule", "reason"), ASKED)
def test_commands_that_cannot_be_told_are_asked(command: str, rule: str, reason: str) -> None:
    got = decision(command)
    assert got.verdict == "ask", got
    assert rule in got.rule, got
    assert reason in got.reason, got


@pytest.mark.parametrize(("command", "rule", "reason"), DENIED)
def test_refused_commands(command: str, rule: str, reason: str) -> None:
    got = decision(command)
    assert got.verdict == "deny", got
    assert rule in got.rule, got
    assert reason in got.reason, got


def test_a_trailing_star_never_admits_a_dangerous_flag_but_true_admits_any_command() -> None:
    got = decide_command("run_command", Rule(allow=("pytest *",)), "pytest -p evil")
    assert (got.verdict, got.rule) == ("deny", "dangerous-flag pytest -p")
    assert "tools.run_command.allow[0]" in got.reason
    everything = Rule(allow=True)  # the sandbox is the boundary: `true` means any command in it
    assert decide_command("run_command", everything, "pytest -p evil").verdict == "allow"
    assert decide_command("run_command", everything, "sudo ls").rule == "program sudo"


@pytest.mark.parametrize(
    ("pattern", "command", "verdict"),
    [
        ("pytest -p xdist *", "pytest -p xdist", "allow"),
        ("pytest -p xdist *", "pytest -p evil", "deny"),
        ("pytest -p *", "pytest -p anything", "allow"),  # -p spelled; its value is in the trailing *
        ("pytest -p* *", "pytest -pxdist", "allow"),
        ("pytest -* *", "pytest -pxdist", "deny"),  # a glob that does not spell -p
        ("pytest * *", "pytest -p evil", "deny"),
        ("pytest --rootdir=* *", "pytest --rootdir=/x", "allow"),
        ("pytest --root* *", "pytest --rootdir=/x", "deny"),
        ("python -m pytest *", "python -m pytest", "allow"),
        ("python -m * *", "python -m pytest", "deny"),  # -m needs the module named
        ("python -m pyt* *", "python -m pytest", "deny"),
        ("python -m http.server", "python -m http.server", "allow"),
        ("python -c *", "python -c x", "allow"),
        ("git -c * *", "git -c core.pager=x log", "allow"),
        ("git * *", "git -c core.pager=x log", "deny"),
        ("pip install *", "pip install requests", "allow"),
        ("make test *", "make test CC=x", "deny"),
        ("make test CC=* *", "make test CC=x", "allow"),
    ],
)
def test_only_a_pattern_that_spells_the_flag_admits_it(pattern: str, command: str, verdict: str) -> None:
    got = decide_command("run_command", Rule(allow=(pattern,)), command)
    assert got.verdict == verdict, got


def test_a_later_pattern_that_spells_the_flag_wins_over_an_earlier_that_does_not() -> None:
    rule = Rule(ask=("pytest *",), allow=("pytest -p xdist *",))
    assert decide_command("run_command", rule, "pytest -q").verdict == "ask"
    got = decide_command("run_command", rule, "pytest -p xdist -q")
    assert (got.verdict, got.rule) == ("allow", "tools.run_command.allow[0] 'pytest -p xdist *'")
    got = decide_command("run_command", rule, "pytest -p evil")
    assert got.rule == "dangerous-flag pytest -p" and "ask[0]" in got.reason


@pytest.mark.parametrize(
    ("word", "name"),
    [("python3", "python"), ("python3.11", "python"), ("/usr/bin/python3", "python"), ("python", "python"),
     ("pypy3", "python"), ("pip3", "pip"), ("pip3.11", "pip"), ("py.test", "pytest"), ("pytest-3", "pytest"),
     ("/usr/local/bin/git", "git"), ("gmake", "make"), ("pythonista", "pythonista")],
)  # fmt: skip
def test_program_names_are_normalised_for_the_tables(word: str, name: str) -> None:
    assert program_name(word) == name


def test_python_variants_use_the_same_table() -> None:
    for python in ("python3", "python3.11", "/usr/bin/python3"):
        findings = dangerous_flags([python, "-m", "pytest", "-p", "evil"])
        assert [f.flag for f in findings] == ["-m pytest", "-p"]
        assert [f.program for f in findings] == ["python", "pytest"]
    assert dangerous_flags(["python", "script.py", "-c", "x"]) == []


def test_decide_routes_commands_and_names_the_rule() -> None:
    contract = load_contract("strict", None)
    got = decide(contract, "run_command", "command", {"command": "timeout 30 python -m pytest -q"})
    assert (got.verdict, got.rule) == ("ask", "wrapper timeout → tools.run_command.ask[0] 'python -m pytest *'")
    got = decide(contract, "run_command", "command", {"command": "python -m pytest --basetemp=/home"})
    assert (got.verdict, got.rule) == ("deny", "dangerous-flag pytest --basetemp")


SECRET_FILES = [
    ".env", ".env.local", "app/.env.production", ".envrc", "deploy/server.pem", "certs/tls.key", "a/b/c.p12",
    "id_rsa", "home/.ssh/id_ed25519", "keys/id_ecdsa.pub", ".git-credentials", "x/.git-credentials", ".netrc",
    ".npmrc", "web/.npmrc", ".pypirc", ".aws/credentials", "credentials", "gcp/service-account.json",
    "conf/db-credentials.json", ".docker/config.json", ".kube/config", "store.jks",
]  # fmt: skip
ORDINARY_FILES = ["src/app.py", "README.md", "src/credentials.py", "docs/keys.md", "src/env.py", "key.py",
                  "tests/test_env.py", "environment.yml", "config/settings.toml"]  # fmt: skip


@pytest.mark.parametrize("preset", ["default", "strict", "readonly"])
def test_presets_deny_secret_files_to_read_file_and_search(preset: str) -> None:
    contract = load_contract(preset, None)
    for tool in ("read_file", "search"):
        for path in SECRET_FILES:
            assert decide(contract, tool, "read", {"path": path}).verdict == "deny", (tool, path)
        for path in ORDINARY_FILES:
            assert decide(contract, tool, "read", {"path": path}).verdict == "allow", (tool, path)
    assert contract.tools["read_file"].deny == contract.tools["search"].deny
