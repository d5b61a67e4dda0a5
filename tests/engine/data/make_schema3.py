"""Write `schema3.db` with the code of commit 2b282af (the last one with schema 3).

    git worktree add --detach /tmp/old 2b282af
    PYTHONPATH=/tmp/old:. .venv/bin/python tests/engine/data/make_schema3.py tests/engine/data/schema3.db

The same three nights as `schema2.db` (see `make_schema2`): two live, half of one from
NINA's history, left open.
"""

from __future__ import annotations

from pathlib import Path
import sys

from make_schema2 import write

if __name__ == "__main__":
    write(Path(sys.argv[1]), 3, "2b282af")
