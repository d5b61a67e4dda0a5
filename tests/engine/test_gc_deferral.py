"""The cyclic collector is off while any large merge runs, and back as it was after the last."""

from __future__ import annotations

import gc
import threading

import pytest

from custom_components.nina_session.engine.gc_deferral import collector_deferred


def test_the_collector_is_off_during_a_merge_and_on_again_after() -> None:
    """Test that the body runs with the collector off and it is on again afterwards."""
    assert gc.isenabled()
    with collector_deferred():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_two_merges_at_once_turn_it_on_when_the_last_ends() -> None:
    """Test that a merge ending while another runs (two engines) leaves the collector off."""
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other_engine() -> None:
        first_in.wait()
        with collector_deferred():
            pass
        second_done.set()

    thread = threading.Thread(target=other_engine)
    thread.start()
    with collector_deferred():
        first_in.set()
        second_done.wait()
        seen.append(gc.isenabled())
    thread.join()
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_turned_off_by_someone_else_stays_off() -> None:
    """Test that the deferral never turns on a collector its caller had turned off."""
    gc.disable()
    try:
        with collector_deferred():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_in_the_merge_turns_it_on_again() -> None:
    """Test that a merge that raises still gives the collector back."""
    with pytest.raises(ValueError, match="unusable"), collector_deferred():
        raise ValueError("history unusable")
    assert gc.isenabled()
