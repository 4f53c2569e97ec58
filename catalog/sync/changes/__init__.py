"""Change events: what the sync saw change, written beside the rows it describes.

The sync already compares every record with its row; this package turns the
differences into ``ChangeEvent`` rows (``catalog.models.changes``):

* ``entities``: per mirrored entity, the fields users watch and how an event names
  its entity (natural key, display name, experiment, registered model);
* ``diff``: old and new watched values to ``{field: [old, new]}`` (bounded), and the
  summaries that say it in words;
* ``log``: the sync's ``ChangeLog`` (clock, SyncRun, the first-sync flag) that bulk
  inserts events, and the ``TableRecorder`` a ``KeyedTable`` calls for changed rows;
* ``artifacts``: per-owner summaries of a sync's artifact writes and new orphan
  folders (never one event per S3 object);
* ``catalogue``: the initial import's one event, versions whose artifacts vanished or
  came back, and the retention purge.

Events are written in the same transaction as the rows they describe wherever the
sync's own connection writes those rows; see docs/sync.md, "Change events".
"""
