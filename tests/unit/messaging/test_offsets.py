from __future__ import annotations

from shared.messaging.offsets import PartitionOffsets


def test_commits_only_up_to_lowest_unfinished() -> None:
    t = PartitionOffsets()
    assert t.committable() is None
    for o in (10, 11, 12, 13):
        t.started(o)
    t.finished(12)
    t.finished(13)
    assert t.committable() == 10, "10 is still running: nothing past it is safe"
    t.finished(10)
    assert t.committable() == 11
    t.finished(11)
    assert t.committable() == 14
    assert t.in_flight == 0
    t.mark_committed(14)
    assert t.committable() is None, "nothing new since the last commit"


def test_out_of_order_completion_never_skips_a_gap() -> None:
    t = PartitionOffsets()
    for o in range(100):
        t.started(o)
    for o in reversed(range(1, 100)):
        t.finished(o)
        assert t.committable() == 0
    t.finished(0)
    assert t.committable() == 100
