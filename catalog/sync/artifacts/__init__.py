"""The artifact stage: S3 objects matched against their rows and written in batches.

``catalog.sync.stages.artifacts`` plans the walks and drives them; this package does
the work, one module per step. One artifact, from the listing to its row:

1. ``catalog.sync.s3_source``: ``list_objects_v2`` page -> ``ArtifactRecord``;
2. ``catalog.sync.stages.artifacts``: the walks of a bucket, listed on a thread ahead;
3. ``walk``: its owner (run or logged model) and fingerprint, compared with its row
   (``stored``: the rows read in key order; ``ranged``: range by range when the
   stored listing ranges hold, ADR 0015) -> ``ListedArtifact`` if it changed;
4. ``queue``: -> ``ArtifactInsertRow`` (new) or an update, a batch at a time, with the
   content of its ``MLmodel`` / ``feature_names.txt`` (``content``);
5. ``writer``: the batch's INSERT / UPDATE, in this process or a writer process.

``rows`` defines the records, the fingerprint and the columns once; ``ranges`` keeps
each walk's listing ranges for the next sync.
"""
