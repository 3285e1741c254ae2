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


def test_every_key_of_a_batch_becomes_a_column(settings: Settings) -> None:
    # Given records whose keys differ (a feature only some applicants sent)
    writer = InferenceLogWriter(settings, "credit_pd")
    writer.log_many([{"Age": 30, "pd": 0.1}, {"Age": 41, "Income": 129.0, "pd": 0.2}])
    # When the batch is written
    writer.close()
    # Then the later record's extra key is a column, missing where it was not sent
    frame = read_inference_log(settings, "credit_pd")
    assert frame["Income"].isna().tolist() == [True, False]
    assert frame["Age"].tolist() == [30, 41]


def test_a_batch_that_cannot_be_written_is_counted_and_logging_goes_on(
    settings: Settings,
) -> None:
    # Given a running writer and a batch whose column mixes text and numbers
    writer = InferenceLogWriter(settings, "credit_pd", batch_size=2, flush_seconds=60).start()
    writer.log_many([{"Home": "rent"}, {"Home": 3}])
    # When good records follow
    writer.log_many([{"Home": "own"}, {"Home": "rent"}])
    writer.close()
    # Then the bad batch is counted as dropped and the good one is on disk
    assert writer.dropped == 2
    assert read_inference_log(settings, "credit_pd")["Home"].tolist() == ["own", "rent"]
