"""Kafka's acknowledgement without a broker (none installs here: the live tests run Redis
Streams, the broker CI really runs). What can be checked offline is the offsets a batch
commits: Kafka's committed offset is the next one to read in each partition (the consumer
protocol, https://kafka.apache.org/documentation/#consumerconfigs, ``enable.auto.commit``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from riskops.live.brokers import kafka_commit_offsets


def test_a_batch_over_three_partitions_commits_each_one_past_its_last_message() -> None:
    # Given a batch read from partitions 0, 1 and 2, interleaved
    consumed = [(0, 10), (1, 4), (0, 11), (2, 7), (1, 5), (0, 12)]
    # Then each partition commits one past its highest offset, not only the last message's
    assert kafka_commit_offsets(consumed) == {0: 13, 1: 6, 2: 8}


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 10_000)), max_size=200))
def test_committed_offsets_cover_every_message_and_go_no_further(
    consumed: list[tuple[int, int]],
) -> None:
    committed = kafka_commit_offsets(consumed)
    # every partition read is committed, and only those
    assert set(committed) == {p for p, _ in consumed}
    # every message read lies before its partition's commit (it is not read again) ...
    assert all(offset < committed[p] for p, offset in consumed)
    # ... and the commit is the next offset after one of them (nothing unread is skipped)
    assert all(committed[p] - 1 in {o for q, o in consumed if q == p} for p in committed)
    # in whatever order the messages were acknowledged
    assert kafka_commit_offsets(reversed(consumed)) == committed
