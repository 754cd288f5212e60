"""The agent: the loop that asks the model and carries out its tool calls, and what it works on (the
conversation, the session, the gate as the loop calls it, recorded turns and results when a run is re-
driven)."""
