"""Live risk: the market champions run on a stream of observations, backtested as they go.

* :mod:`.kinds` -- the live tables of the evidence store (observations, forecasts, scores,
  state checkpoints, alarms, dead letters) and how their streams are named;
* :mod:`.observations` -- one observation (a series' bar at a time), parsed from a
  message, a file or an HTTP body, or refused with a reason;
* :mod:`.champions` -- the live champions the audit trail names, loaded and verified;
* :mod:`.watch` -- the alarms on a champion's exceptions (zone change, Bernoulli CUSUM);
* :mod:`.book` -- the one path every observation takes (:class:`~.book.LiveBook`);
* :mod:`.record` -- a champion's live record since its promotion, scored;
* :mod:`.brokers` and :mod:`.consumer` -- Redis Streams, Kafka and file replay feeding
  the book, acknowledging only what is committed.

The library never imports Prefect or BentoML: an alarm reaches Prefect through the
``on_alarm`` callable the command line wires (``pipelines.events``).
"""
