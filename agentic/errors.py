"""The exception tree. Everything a user can cause is one of these; the CLI renders them in one place
(`agentic.cli.main`): the message, then the hint (the raiser's, else the class's), and the exit code.

    AgenticError                      exit 1 unless a subclass says otherwise
    ├── UsageError                    exit 2  bad flags, unknown run id, not a git repository
    │   ├── ConfigError               exit 2  a settings/contract/script file is invalid (file, line, field)
    │   ├── MissingCredentials        exit 2  the chosen provider has no API key
    │   ├── ResumeRefused             exit 2  the run cannot be resumed as it is (ended; its contract,
    │   │                                     settings or harness changed: fork it instead)
    │   └── UnsafeStateDir            exit 2  the repository tracks `.agentic`, or it is a symlink, not a
    │                                         directory, or not the person's: agentic keeps its state there
    ├── SandboxUnavailable            exit 2  commands cannot be isolated on this machine
    ├── ProviderError                 exit 4  the model provider failed (network, HTTP error, bad answer)
    │   ├── ProviderRequestError      exit 4  a request failed: HTTP status, timeout, broken connection
    │   │   └── RetriesExhausted      exit 4  it kept failing through max_retries (the run is resumable)
    │   ├── ScriptExhausted           exit 4  a scripted model ran out of turns
    │   └── TapeEnded                 exit 4  (agentic.run.replay) a replay ran past the recorded turns
    ├── WorkspaceError                exit 1  git refused an operation (apply conflict, dirty tree), or
    │                                         could not start
    └── JournalMismatch               exit 1  a journal is tampered with, or does not fit the run re-driven from it

Foreign errors become these in one place per boundary:

    provider SDKs (openai, anthropic)        agentic.models._common (translate_sdk_error)  → ProviderError…
    git's command line                       agentic.git.cmd (run_git, git)                → WorkspaceError
    configuration files (OSError, UTF-8,     agentic.util.yamlfile (read_text, parse)      → ConfigError
      YAML)

Errors the *model* causes (bad tool arguments, a denied path) are not exceptions that leave the
loop: they become tool results the model can act on. A run that ends early is not an error either.

    ToolFailure                       not shown as an error: the tool's result says it to the model
    ├── PathRefused (agentic.util.pathnames)  a path that could reach outside the worktree or into .git
    └── FileTooLarge (agentic.util.paths)     a file over the tool's size limit
    RunStopped (agentic.policy.budget) ends the loop with a status (limit_exceeded, stuck, rejected…)
                                      and the run's exit code (1 or 3)

A few exceptions stay inside their package, caught where they are raised: the sandbox's MountRefused
and ServerFailed become a refused command's result, the shell parser's ParseError a `deny`.
"""

from __future__ import annotations


class AgenticError(Exception):
    """Base of every error agentic reports to a person: a message, a hint (what to do about it; the
    class's `default_hint` when the raiser gives none) and the process's exit code."""

    exit_code = 1
    default_hint = "run it again; if it fails the same way, report it with the output of `agentic --version`"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint


class UsageError(AgenticError):
    exit_code = 2
    default_hint = "`agentic --help` lists the commands, `agentic COMMAND --help` their arguments and options"


class ConfigError(UsageError):
    """A configuration file is invalid. Carries where: file, line and the field's dotted path."""

    default_hint = ("docs/reference/ describes every key of the settings and the contract; "
                    "`agentic contract check` validates a contract")  # fmt: skip

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        where = file or "<config>"
        if line is not None:
            where += f":{line}"
        text = f"{where}: {message}" if field is None else f"{where}: {field}: {message}"
        super().__init__(text, hint=hint)
        self.reason = message


class MissingCredentials(UsageError):
    default_hint = "export the provider's API key (OPENAI_API_KEY, ANTHROPIC_API_KEY), or set base_url to a server of yours"


class ResumeRefused(UsageError):
    default_hint = "`agentic show RUN` shows how the run ended; `agentic resume RUN --fork` goes on as a new run"


class UnsafeStateDir(UsageError):
    """The repository's `.agentic` is not the harness's own private directory (tracked by git, a
    symlink, a file, someone else's): using it would let the repository redirect the run database,
    the journals or the worktrees. Refused at every command that opens it."""

    default_hint = "agentic keeps its state in .agentic/, a plain directory of yours that git never tracks"


class SandboxUnavailable(AgenticError):
    exit_code = 2
    default_hint = ("`agentic doctor` says what the sandbox needs on this machine; --unsafe-no-sandbox runs "
                    "commands unconfined (recorded in the journal)")  # fmt: skip


class ProviderError(AgenticError):
    exit_code = 4
    default_hint = "`agentic doctor` checks the model's key and whether its endpoint answers"


class ProviderRequestError(ProviderError):
    """A request to the provider failed: an HTTP error status, a timeout or a broken connection.

    `status` is the HTTP status (None when no answer came back); `retryable` says whether trying the
    same request again later can help (rate limits, overload, server errors, network trouble);
    `retry_after` is the pause in seconds the server asked for, if it did.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        retryable: bool = False,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.retryable = retryable
        self.request_id = request_id
        self.retry_after = retry_after


class RetriesExhausted(ProviderRequestError):
    """A retryable failure that did not go away within the contract's max_retries or the run's time."""


class ScriptExhausted(ProviderError):
    default_hint = "add turns to the script, or end it with a call to `finish`"


class WorkspaceError(AgenticError):
    exit_code = 1
    default_hint = "`git status` in the repository shows its state; `agentic doctor` checks git"


class JournalMismatch(AgenticError):
    exit_code = 1
    default_hint = ("`agentic journal verify RUN` names the first record that does not fit; a run is only "
                    "re-driven from the journal it wrote")  # fmt: skip


class ToolFailure(Exception):
    """Raised by a tool for an error the model caused and can act on (no such file, text not found)."""
