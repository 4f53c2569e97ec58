"""Copyable ``aws s3 rm`` commands for drift the audit finds: shown, never run.

The catalogue only reads the bucket; removing leftovers is a person's decision. Pages
offer each command twice, with ``--dryrun`` first (the AWS CLI then lists what it would
delete) and without. Keys come from S3 and may hold spaces, quotes, ``$``, ``;`` or
newlines, so the URI is quoted for a POSIX shell (``shlex.quote``): pasted into a
terminal it is one argument, never a second command.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class CleanupCommand:
    """The dry run and the real command that remove one prefix (or one key) from S3."""

    uri: str
    recursive: bool
    dry_run: str
    delete: str


def s3_rm_command(*, bucket: str, key: str, recursive: bool) -> CleanupCommand:
    """``aws s3 rm`` of ``s3://bucket/key``: ``--recursive`` for a prefix, not for one key."""
    uri = f"s3://{bucket}/{key}"
    words = ["aws", "s3", "rm", shlex.quote(uri)]
    if recursive:
        words.append("--recursive")
    delete = " ".join(words)
    return CleanupCommand(uri=uri, recursive=recursive, dry_run=f"{delete} --dryrun", delete=delete)


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string above every string that starts with ``prefix`` (not empty).

    Keys under ``prefix`` are exactly those ``>= prefix`` and ``< prefix_upper_bound``
    in code-point order, which is how both databases compare ``Artifact.key`` (SQLite's
    BINARY collation, PostgreSQL's ``C``): a range the (bucket, key) index serves, where
    ``startswith`` is a case-insensitive ``LIKE`` on SQLite.
    """
    if not prefix:
        raise ValueError("an empty prefix has no upper bound")
    head, last = prefix[:-1], ord(prefix[-1])
    if last == 0x10FFFF:
        return prefix_upper_bound(head)
    # Surrogates cannot be encoded for the database: step over them.
    following = 0xE000 if 0xD7FF <= last < 0xE000 else last + 1
    return head + chr(following)
