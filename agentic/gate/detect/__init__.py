"""Which test command a repository uses, from all the evidence, and whether it starts here.

Every file that says something about how the tests run is read (pytest's configuration, tox.ini's and
noxfile.py's commands, the Makefile's test recipe, package.json, Cargo.toml, go.mod, runtests.py,
manage.py, the test files themselves, the development requirements); each piece names its file and
what it says, and has a weight: a file that names the runner counts most, a Python project with tests
and no word on the runner least. The pieces are summed per command into ranked candidates (argv,
never a shell), and each candidate is tried in the project's environment (the interpreter the sandbox
will run: the checkout's own virtual environment, else `python` on PATH): a runner that cannot start
is never chosen over one that can. `Findings.explain` says what was chosen, from what, over what.

    findings  the vocabulary: Evidence (with its weight), Clue, Start, Candidate, Python, Findings
    clues     every file's evidence, read into clues for runners
    start     the project's interpreter, and whether a candidate's program starts
    weigh     the clues summed into ranked candidates, each tried: `detect`
"""

from __future__ import annotations

from .clues import MAKEFILES as MAKEFILES
from .clues import runs as runs
from .findings import Candidate as Candidate
from .findings import Clue as Clue
from .findings import Evidence as Evidence
from .findings import Findings as Findings
from .findings import Python as Python
from .findings import Start as Start
from .start import project_python as project_python
from .weigh import detect as detect
from .weigh import rank as rank
