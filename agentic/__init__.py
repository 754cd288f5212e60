"""agentic: let a language model change a git repository under engineering discipline."""

__version__ = "0.1.0"
