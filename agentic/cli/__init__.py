"""The command line: `main` wires the command modules together and renders every error in one place.

Exit codes: 0 accepted / ok, 1 rejected or failed check, 2 usage or configuration error,
3 stopped by a limit or stuck, 4 interrupted or provider failure (resumable), 130 Ctrl-C outside a run.
A command's module is imported only when that command runs, so `agentic --help` stays fast.
"""
