"""``thermorig batch COMMAND STUDY``: one command over every session of a study, on this
machine's cores or a lab's Dask cluster.

- :mod:`.sessions` finds a study's sessions (its index, or a glob).
- :mod:`.work` says what each command does per session and per frame range — by
  calling the single command's own function, never a copy of it.
- :mod:`.state` keeps a re-run's memory in ``STUDY/.thermorig-batch/``: finished
  chunks and sessions, so a re-run redoes only what is missing.
- :mod:`.cluster` opens the Dask client (a LocalCluster on loopback, or a scheduler).
- :mod:`.engine` plans, submits, merges and reports; :mod:`.report` writes
  ``batch-report.json`` and its table.
"""
