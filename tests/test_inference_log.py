"""The inference log keeps every record, in batches, and never blocks the caller."""

from __future__ import annotations

from riskops.inference_log import InferenceLogWriter, files_of, read_inference_log
from riskops.settings import Settings


def test_records_arrive_in_batched_files(settings: Settings) -> None:
    # Given a writer with batches of 50
    writer = InferenceLogWriter(settings, "credit_pd", batch_size=50, flush_seconds=0.2).start()
    # When 120 single records and one request of 30 records are logged, then it closes
    for i in range(120):
        writer.log({"Age": 30 + i % 40, "pd": 0.1})
    writer.log_many([{"Age": 50, "pd": 0.2}] * 30)
    writer.close()
    # Then all 150 are on disk, in more than one file, none lost
    frame = read_inference_log(settings, "credit_pd")
    assert len(frame) == 150 and writer.dropped == 0
    assert len(files_of(settings, "credit_pd")) >= 2
    assert {"logged_at", "Age", "pd"} <= set(frame.columns)


def test_a_full_queue_drops_instead_of_blocking(settings: Settings) -> None:
    writer = InferenceLogWriter(settings, "credit_pd", max_queue=1)  # not started: nothing drains
    writer.log_many([{"pd": 0.1}] * 3)
    writer.log({"pd": 0.2})
    assert writer.dropped == 1
