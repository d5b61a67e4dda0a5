"""A large list is emptied a slice at a time; what no one else holds is freed with it."""

from __future__ import annotations

import weakref

from custom_components.nina_session.engine.gradual_release import SLICE, release_gradually


class Item:
    """Something a list holds (weakly referable, so its freeing can be seen)."""


def test_the_list_is_emptied_and_its_items_freed() -> None:
    """Test that every slice goes, items held elsewhere survive and the rest is freed."""
    items = [Item() for _ in range(3 * SLICE + 7)]
    kept = items[SLICE + 1]
    freed = 0

    def gone(_ref: weakref.ref[Item]) -> None:
        nonlocal freed
        freed += 1

    refs = [weakref.ref(item, gone) for item in items]
    release_gradually(items)
    assert items == []
    assert freed == len(refs) - 1
    assert refs[SLICE + 1]() is kept
