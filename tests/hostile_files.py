"""Builders of hostile model files, shared by the parser, sync and page tests.

Each is small on disk and costly to a naive parser: a JSON signature nested thousands
deep, YAML aliases that expand by a factor of 9 per level, a huge scalar, bytes that
are not UTF-8.
"""

from __future__ import annotations

CLEAN_MLMODEL = b"""artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.7
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.0
mlflow_version: 2.16.0
model_size_bytes: 4567
run_id: 64535d709de2458396986ff9f939517a
signature:
  inputs: '[{"type": "double", "name": "temperature", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
utc_time_created: '2025-09-16 10:00:00.000000'
"""


def deep_json_mlmodel(*, depth: int = 5_000) -> bytes:
    """An MLmodel whose ``signature.inputs`` is a JSON array nested ``depth`` deep."""
    nested = "[" * depth + "]" * depth
    return (
        b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
        b"signature:\n  inputs: '" + nested.encode() + b"'\n"
    )


def alias_anchors(*, levels: int, references: int = 9) -> bytes:
    """A YAML block sequence of anchors ``&a0`` .. ``&a<levels>``, each level holding
    ``references`` aliases of the one before: ``*a<levels>`` expands to
    ``references ** levels`` copies of a 9-character string."""
    lines = ['  - &a0 "lolololol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * references)
        lines.append(f"  - &a{level} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def alias_bomb_mlmodel(*, levels: int = 7) -> bytes:
    """An MLmodel whose ``mlflow_version`` is an alias bomb of ``levels`` levels."""
    return (
        b"bomb:\n" + alias_anchors(levels=levels) + b"flavors:\n  python_function:\n"
        b"    loader_module: mlflow.sklearn\nmlflow_version: *a" + str(levels).encode() + b"\n"
    )


def alias_bomb_conda(*, levels: int = 7) -> bytes:
    """A conda.yaml whose ``name`` is an alias bomb of ``levels`` levels."""
    return (
        b"bomb:\n" + alias_anchors(levels=levels) + b"name: *a" + str(levels).encode() + b"\n"
        b"channels: [conda-forge]\ndependencies:\n  - python=3.11.7\n  - pip\n"
    )


def huge_scalar_mlmodel(*, chars: int = 200_000) -> bytes:
    """An MLmodel whose ``mlflow_version`` is one scalar of ``chars`` characters."""
    return b"flavors: {}\nmlflow_version: '" + b"9" * chars + b"'\n"


NOT_UTF8 = b"flavors:\n  sklearn: {}\nmlflow_version: \xff\xfe\xfd\n"
