"""The sync's stages, in the order ``catalog.sync.reconcile`` runs them.

Each is a function of a ``SyncContext`` (``catalog.sync.context``):

1. ``mlflow_entities``: experiments, runs (with the metric history of changed runs),
   logged models;
2. ``artifacts``: the S3 walks, matched against the catalogued rows
   (``catalog.sync.artifacts``);
3. ``registry``: registered models and their versions;
4. ``missing``: what was not listed is marked missing, all or nothing; then
   ``changes``: the events that wait for the whole sync (the first sync's summary,
   artifact changes per owner);
5. ``totals``: counters and flags derived from the rows, planner statistics; then
   ``changes``: the purge of events past their keep.
"""
