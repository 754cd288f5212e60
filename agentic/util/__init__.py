"""Small helpers with no knowledge of runs: untrusted paths, globs, YAML with positions, redaction, retries."""
