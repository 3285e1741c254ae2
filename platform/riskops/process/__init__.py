"""How a RiskOps process starts and ends, whichever entry point runs it (the CLI, a flow's
task process, the service): where its logs go (:mod:`~riskops.process.logs`) and an exit
without the garbage collector's passes (:mod:`~riskops.process.exiting`)."""
