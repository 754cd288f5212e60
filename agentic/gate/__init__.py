"""The gate: the contract's invariants evaluated on a clean checkout of a candidate change (`checks`), the test
runner's configuration pinned from the base, which test command a repository uses (`detect`), and `agentic
gate` for hooks and CI (`hook`)."""
