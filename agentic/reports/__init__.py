"""Views of a finished run from its journal alone: the timeline, the audit, the standalone HTML page, and the
one JUnit writer."""
