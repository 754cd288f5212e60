"""The file tools: list, read, search, write, edit and delete files in the worktree.

All file access goes through agentic.util.paths, which refuses links, hard links, `..` and `.git`.
Errors the model can act on are raised as ToolFailure; the harness turns them into error results.
"""

from __future__ import annotations

from agentic.tools.base import Tool
from agentic.tools.reading import ListFiles as ListFiles
from agentic.tools.reading import ReadFile as ReadFile
from agentic.tools.search import Search as Search
from agentic.tools.writing import DeleteFile as DeleteFile
from agentic.tools.writing import EditFile as EditFile
from agentic.tools.writing import WriteFile as WriteFile

FILE_TOOLS: list[Tool] = [ListFiles(), ReadFile(), Search(), WriteFile(), EditFile(), DeleteFile()]
