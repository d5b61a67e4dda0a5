"""A database file replaced, deleted or overwritten while the engine runs: found and recovered.

SQLite does not notice: an open connection keeps writing to the file it opened (a replaced
file's old inode, or pages it holds in its cache and WAL), and the damage shows only at the
next start, when every event written since is gone. So the engine's clock looks at the file
on disk (`file_problem`): is it still the one the store opened, and still an SQLite database?
When not, `recover` saves what the open connection still reads into a new file, moves the
damaged one aside (kept, never deleted) and opens the copy in its place. When nothing can be
saved, a fresh database is made and the history read brings back what NINA still holds.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
import logging
from pathlib import Path
import shutil
import sqlite3
from typing import Final

from .store import Store

_LOGGER = logging.getLogger(__name__)

#: The first 16 bytes of every SQLite database file (an empty file is an empty database too).
SQLITE_HEADER: Final = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which file a path named when the store opened it (device and inode)."""

    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        """Return the identity of the file at `path` (None when it cannot be read)."""
        try:
            stat = path.stat()
        except OSError:
            return None
        return cls(stat.st_dev, stat.st_ino)


def file_problem(path: Path, opened: FileIdentity | None) -> str | None:
    """Return why the file at `path` is no longer the database the store opened, or None."""
    try:
        stat = path.stat()
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return f"{path.name} was deleted while in use"
    except OSError as err:
        return f"{path.name} cannot be read: {err}"
    if opened is not None and (stat.st_dev, stat.st_ino) != (opened.device, opened.inode):
        return f"{path.name} was replaced by another file while in use"
    if head and head != SQLITE_HEADER:
        return f"{path.name} was overwritten: it is no longer an SQLite database"
    return None


def recover(store: Store, now: datetime) -> tuple[Store, Path | None]:
    """Close `store` and open its path again as a sound database; return it and the damaged file.

    What the open connection still reads is saved first and becomes the new file (else a fresh
    one is made); the damaged file is copied aside (None when there was none left). Raises
    OSError or StoreError when that cannot be done; before `store` is closed, it is left open.
    """
    path = store.path
    rescue = path.with_name(f"{path.name}.rescue")
    rescue.unlink(missing_ok=True)
    try:
        store.save_copy(rescue)
        rescued = True
    except sqlite3.Error as err:
        _LOGGER.warning("Nothing could be saved from %s: %s", path.name, err)
        rescue.unlink(missing_ok=True)
        rescued = False
    # Copied, not moved: closing the connection writes its WAL back into the file it opened.
    aside = Store.aside_path(path, now) if path.exists() else None
    if aside is not None:
        shutil.copyfile(path, aside)
    with contextlib.suppress(sqlite3.Error):
        store.close()
    if rescued:
        rescue.replace(path)
    else:
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
    _LOGGER.error(
        "%s was damaged or replaced while in use; %s%s",
        path.name,
        "what it held is saved in a new file" if rescued else "a new file is made",
        f", the damaged one kept as {aside.name}" if aside else "",
    )
    return Store(path), aside
