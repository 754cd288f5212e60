"""Settings: `.agentic.yaml`, the user's file and the environment, layered with the origin of each value."""
