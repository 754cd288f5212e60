"""One governed run from a task to a final status: its resources, start, loop, commit, notification and finish;
resume and replay checks; the demo."""
