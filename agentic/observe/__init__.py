"""Watching a run as it works: journal listeners for the terminal (`progress`), the `--json` event stream and
OpenTelemetry traces (`telemetry`)."""
