"""Bash scripts as the contract sees them: parsed with tree-sitter's bash grammar, every simple command
and every file a redirection writes decided (see agentic.policy.shell.decide)."""
