"""The run journal: append-only, hash-chained and written ahead of its side effects (`records`), its typed
events, its anchor outside the file, the SQLite index of runs, and the tape that reads a journal back."""
