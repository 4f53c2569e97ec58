"""Parsers of model files: ``MLmodel``, ``feature_names.txt``, ``conda.yaml``, ``python_env.yaml``.

The sync (through ``content_kind`` and ``parse_model_file``, below) and the file page
(``catalog/previews.py``) both read these files, and both must survive any content:
what lands in a bucket is untrusted and may be huge, deep, odd or hostile. So every
parser here runs under explicit bounds, and breaking one raises ``ModelFileError``
with a one-line message:

* **input bytes**: at most ``MAX_FILE_BYTES``; text must be UTF-8.
* **YAML nesting depth**: libyaml refuses more than 1,000 levels by itself; we refuse
  more than ``MAX_YAML_DEPTH`` before any Python object is built.
* **YAML aliases**: accepted, but counted at what they expand to. The composed node
  graph is walked once with a memo per node, which gives the size of the document as
  if every alias were copied out (in time linear in the graph); more than
  ``MAX_YAML_NODES`` nodes or ``MAX_YAML_CHARS`` characters of scalars is refused, as
  is an alias inside its own anchor (a cycle). Why not refuse aliases outright: MLflow
  never writes them, but ``yaml.safe_dump`` does (``&id001``) whenever one object is
  dumped twice, so a tool that writes a conda.yaml that way is honest; a few hundred
  bytes of "9 references, 7 levels deep" is not, and is refused by the count (9**7
  nodes) before it is expanded by a ``str()`` or a ``json.dumps``.
* **JSON nesting depth** (the signature parts MLflow stores as JSON strings): a linear
  scan counts ``[``/``{`` outside strings before ``json.loads`` sees the text, so a
  5,000-deep array is refused instead of raising ``RecursionError`` from the decoder.
* **output size**: every string kept is at most ``MAX_TEXT_CHARS`` characters, with
  NUL and lone surrogates replaced (PostgreSQL's ``jsonb`` refuses both); lists are
  capped (``MAX_FLAVORS``, ``MAX_SIGNATURE_COLUMNS``, ``MAX_FEATURES``,
  ``MAX_DEPENDENCY_ROWS``).

Parsing uses libyaml (``CSafeLoader``) when it is installed: the bounds check walks
the composed nodes in Python, then construction is the safe loader's own, so no tag
can build a Python object.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_FILE_BYTES = 256 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 50_000
MAX_YAML_CHARS = 2 * MAX_FILE_BYTES
MAX_JSON_DEPTH = 64
MAX_TEXT_CHARS = 300
MAX_ERROR_CHARS = 300
MAX_FLAVORS = 100
MAX_SIGNATURE_COLUMNS = 5_000
MAX_FEATURES = 10_000
MAX_DEPENDENCY_ROWS = 1_000
MAX_CHANNELS = 100
# The largest integer kept (a bigint's): a bigger "model_size_bytes" is no size.
MAX_INTEGER = 2**63 - 1

MLMODEL = "mlmodel"
FEATURE_NAMES = "feature_names"

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A JSON string, escapes included (the unrolled form: no backtracking), and the bytes
# that are not brackets: both are dropped before the brackets left are counted.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_SQUARE_BRACKETS = bytes.maketrans(b"{}", b"[]")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?)\s*(.*)$")


class ModelFileError(ValueError):
    """A model file broke a bound or is not what its name says; the message is one line."""


# --- bounded loaders ----------------------------------------------------------------------


def decode_utf8(data: bytes | str, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """``data`` as text, refused when larger than ``max_bytes`` or not UTF-8."""
    # A str (the page's decoded preview) is measured in characters: never more than bytes.
    if len(data) > max_bytes:
        raise ModelFileError(f"file larger than {max_bytes} bytes")
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelFileError(f"not UTF-8 text (byte {error.start})") from error


def load_yaml(
    data: bytes | str,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_depth: int = MAX_YAML_DEPTH,
    max_nodes: int = MAX_YAML_NODES,
    max_chars: int = MAX_YAML_CHARS,
) -> Any:
    """One YAML document, safely constructed, within the bounds of the module doc."""
    text = decode_utf8(data, max_bytes=max_bytes)
    loader = _SAFE_LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as error:
            raise ModelFileError(f"not valid YAML: {_first_line(error)}") from error
        if node is None:
            return None
        bounds = {"max_depth": max_depth, "max_nodes": max_nodes, "max_chars": max_chars}
        if not _check_tree(node, **bounds):
            _check_expanded_size(node, **bounds)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as error:
            raise ModelFileError(f"not valid YAML: {_first_line(error)}") from error
    finally:
        loader.dispose()


def _check_tree(root: yaml.Node, *, max_depth: int, max_nodes: int, max_chars: int) -> bool:
    """Check the bounds of a node graph that is a tree; False if a node is reached twice.

    The common case (no alias) in one cheap pass; an alias hands over to
    ``_check_expanded_size``, which counts what it expands to.
    """
    seen: set[int] = set()
    nodes = chars = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise ModelFileError(f"YAML nested deeper than {max_depth} levels")
        if id(node) in seen:
            return False
        seen.add(id(node))
        nodes += 1
        value = node.value
        if isinstance(value, str):
            chars += len(value)
        elif isinstance(node, yaml.MappingNode):
            depth += 1
            for key, item in value:
                stack.append((key, depth))
                stack.append((item, depth))
        else:
            depth += 1
            stack.extend([(child, depth) for child in value])
    if nodes > max_nodes or chars > max_chars:
        raise _expansion_error(max_nodes=max_nodes, max_chars=max_chars)
    return True


def _check_expanded_size(root: yaml.Node, *, max_depth: int, max_nodes: int, max_chars: int):
    """Refuse a node graph whose expansion breaks a bound (iterative: no recursion).

    ``sizes`` memoises each finished node's expanded (nodes, chars), so a node reached
    again through an alias costs one lookup, and its size counts again: that is the
    size the document has once aliases are copied out by whoever walks its values.
    """
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()
    # Each frame: (node, its children, index of the next child, nodes so far, chars so far).
    stack: list[list[Any]] = []

    def enter(node: yaml.Node) -> None:
        if len(stack) >= max_depth:
            raise ModelFileError(f"YAML nested deeper than {max_depth} levels")
        if isinstance(node, yaml.ScalarNode):
            children: list[yaml.Node] = []
            chars = len(node.value)
        elif isinstance(node, yaml.SequenceNode):
            children, chars = node.value, 0
        else:  # MappingNode: keys and values alike
            children = [item for pair in node.value for item in pair]
            chars = 0
        open_nodes.add(id(node))
        stack.append([node, children, 0, 1, chars])

    enter(root)
    while stack:
        frame = stack[-1]
        node, children, index = frame[0], frame[1], frame[2]
        if index < len(children):
            frame[2] = index + 1
            child = children[index]
            known = sizes.get(id(child))
            if known is not None:
                frame[3] += known[0]
                frame[4] += known[1]
            elif id(child) in open_nodes:
                raise ModelFileError("YAML alias refers to its own anchor (a cycle)")
            else:
                enter(child)
            if frame[3] > max_nodes or frame[4] > max_chars:
                raise _expansion_error(max_nodes=max_nodes, max_chars=max_chars)
            continue
        stack.pop()
        open_nodes.discard(id(node))
        sizes[id(node)] = (frame[3], frame[4])
        if stack:
            parent = stack[-1]
            parent[3] += frame[3]
            parent[4] += frame[4]
            if parent[3] > max_nodes or parent[4] > max_chars:
                raise _expansion_error(max_nodes=max_nodes, max_chars=max_chars)


def _expansion_error(*, max_nodes: int, max_chars: int) -> ModelFileError:
    return ModelFileError(
        f"YAML expands to more than {max_nodes} nodes or {max_chars} characters "
        "(aliases counted as copies)"
    )


def json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON text, strings skipped (a linear scan)."""
    depth = deepest = 0
    unquoted = _JSON_STRING.sub("", text).encode("utf-8", "surrogatepass")
    for bracket in unquoted.translate(None, _NOT_BRACKETS):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _may_nest_deeper(text: str, *, max_depth: int) -> bool:
    """False when ``text`` surely nests no deeper than ``max_depth`` (a fast C-speed test).

    All brackets are kept, those in strings too: if the sequence empties by removing
    innermost pairs ``max_depth`` times, its height, which bounds the real nesting
    (a string's brackets add nothing once the string ends), is within the bound. What
    does not empty (deep, or brackets inside strings) goes to the exact scan.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    # bytes.translate drops the other bytes at C speed (a regex took ten times longer).
    brackets = text.encode("utf-8", "surrogatepass").translate(_SQUARE_BRACKETS, _NOT_BRACKETS)
    for _ in range(max_depth):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


def load_json(text: str, *, max_depth: int = MAX_JSON_DEPTH, max_chars: int = MAX_FILE_BYTES):
    """``json.loads`` of ``text`` once its size and nesting depth are within bounds."""
    if len(text) > max_chars:
        raise ModelFileError(f"JSON larger than {max_chars} characters")
    if _may_nest_deeper(text, max_depth=max_depth) and json_depth(text) > max_depth:
        raise ModelFileError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except ValueError as error:
        raise ModelFileError(f"not valid JSON: {_first_line(error)}") from error


# --- values kept --------------------------------------------------------------------------


def clean_text(value: Any, *, limit: int = MAX_TEXT_CHARS) -> str:
    """``str(value)`` cut to ``limit`` characters, without NUL or lone surrogates.

    Only called on values already bounded by ``load_yaml`` (or on stored meta), so the
    ``str()`` itself is small; the cut keeps the stored field small whatever the input.
    """
    text = value if isinstance(value, str) else str(value)
    # The common case, cheaply: short ASCII holds no surrogate; only NUL is left to see.
    if len(text) <= limit and text.isascii() and "\x00" not in text:
        return text
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def optional_text(value: Any, *, limit: int = MAX_TEXT_CHARS) -> str | None:
    """``clean_text`` of a value that may be missing (None stays None)."""
    return None if value is None else clean_text(value, limit=limit)


def bounded_integer(value: Any) -> int | None:
    """A non-negative integer no larger than a bigint, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 <= number <= MAX_INTEGER else None


def error_line(error: BaseException) -> str:
    """One line (at most ``MAX_ERROR_CHARS``) saying what went wrong, never empty."""
    try:
        text = " ".join(str(error).split())
    except Exception:  # noqa: BLE001 - a hostile __str__ must not hide the failure
        text = ""
    if isinstance(error, RecursionError):
        text = f"nested too deeply ({text})" if text else "nested too deeply"
    elif isinstance(error, MemoryError):
        text = "out of memory while parsing"
    return clean_text(text or type(error).__name__, limit=MAX_ERROR_CHARS)


def _first_line(error: BaseException) -> str:
    lines = str(error).splitlines()
    return clean_text(lines[0] if lines else type(error).__name__, limit=MAX_ERROR_CHARS)


# --- MLmodel ------------------------------------------------------------------------------


def parse_mlmodel(data: bytes | str) -> dict[str, Any]:
    """Flavors, versions, signature and size from an ``MLmodel`` file (the sync's meta)."""
    document = load_yaml(data)
    if not isinstance(document, dict):
        raise ModelFileError("MLmodel is not a YAML mapping")
    flavors = document.get("flavors") or {}
    if not isinstance(flavors, dict):
        raise ModelFileError("MLmodel flavors is not a mapping")
    pyfunc = flavors.get("python_function") or {}
    pyfunc = pyfunc if isinstance(pyfunc, dict) else {}
    flavor_names = sorted(clean_text(name) for name in flavors)
    return {
        "kind": MLMODEL,
        "flavors": flavor_names[:MAX_FLAVORS],
        "loader_module": optional_text(pyfunc.get("loader_module")),
        "python_version": optional_text(pyfunc.get("python_version")),
        "mlflow_version": optional_text(document.get("mlflow_version")),
        "serialization_format": _serialization_format(flavors),
        "model_size_bytes": bounded_integer(document.get("model_size_bytes")),
        "model_uuid": optional_text(document.get("model_uuid")),
        "run_id": optional_text(document.get("run_id")),
        "utc_time_created": optional_text(document.get("utc_time_created")),
        "signature": _signature(document.get("signature")),
    }


def _serialization_format(flavors: dict) -> str | None:
    for flavor in flavors.values():
        if isinstance(flavor, dict) and flavor.get("serialization_format"):
            return optional_text(flavor["serialization_format"])
    return None


def _signature(signature: Any) -> dict[str, Any] | None:
    if not isinstance(signature, dict):
        return None
    parts: dict[str, Any] = {}
    for part in ("inputs", "outputs", "params"):
        columns, total = signature_columns(signature.get(part))
        parts[part] = columns
        if total > len(columns):
            # The panel says how many there were; the meta keeps the first ones.
            parts[f"{part}_total"] = total
    return parts


def signature_columns(spec: Any) -> tuple[list[dict[str, Any]], int]:
    """(the first ``MAX_SIGNATURE_COLUMNS`` columns, how many there are) of one part.

    MLflow stores each part as a JSON string inside the YAML; a list is accepted too.
    """
    # ASCII JSON without \u escapes decodes to strings free of NUL and surrogates (raw
    # control characters are invalid JSON): then only their length needs a look.
    plain = isinstance(spec, str) and spec.isascii() and "\\u" not in spec
    if isinstance(spec, str):
        spec = load_json(spec)
    if spec is None:
        return [], 0
    if not isinstance(spec, list):
        raise ModelFileError("signature part is not a list")
    columns = []
    limit = MAX_TEXT_CHARS
    for column in spec[:MAX_SIGNATURE_COLUMNS]:
        if not isinstance(column, dict):
            raise ModelFileError("signature column is not a mapping")
        kind = column.get("type")
        tensor = column.get("tensor-spec")
        if kind == "tensor" and isinstance(tensor, dict):
            kind = f"tensor<{clean_text(tensor.get('dtype'))}>"
        name = column.get("name")
        if name is not None and not (plain and type(name) is str and len(name) <= limit):
            name = clean_text(name)
        if not (plain and type(kind) is str and len(kind) <= limit):
            kind = clean_text(kind)
        columns.append({"name": name, "type": kind})
    return columns, len(spec)


# --- feature_names.txt --------------------------------------------------------------------


def parse_feature_names(data: bytes | str, *, limit: int = MAX_FEATURES) -> list[str]:
    """One feature per non-empty line, at most ``limit``, each at most ``MAX_TEXT_CHARS``."""
    text = decode_utf8(data)
    features = []
    for line in text.splitlines():
        name = line.strip()
        if name:
            features.append(clean_text(name))
            if len(features) >= limit:
                break
    return features


# --- conda.yaml / python_env.yaml ---------------------------------------------------------


@dataclass
class DependencyTable:
    """A conda.yaml or python_env.yaml as rows of (section, package, version spec)."""

    python: str = ""
    name: str = ""
    channels: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    error: str = ""
    truncated: bool = False


def _split_requirement(text: str) -> tuple[str, str]:
    match = _REQUIREMENT.match(text)
    if not match or text.lstrip().startswith("-"):
        return text.strip(), ""
    return match.group(1), match.group(2).strip()


def parse_dependencies(data: bytes | str, *, kind: str) -> DependencyTable:
    """A conda.yaml (``kind="conda"``) or python_env.yaml (``"python_env"``) as a table.

    Raises ``ModelFileError`` when the file breaks a bound or is not a YAML mapping.
    """
    document = load_yaml(data)
    if not isinstance(document, dict):
        raise ModelFileError("not a YAML mapping")
    table = DependencyTable()

    def add(section: Any, entry: Any) -> None:
        if len(table.rows) >= MAX_DEPENDENCY_ROWS:
            table.truncated = True
            return
        package, spec = _split_requirement(clean_text(entry))
        table.rows.append({"section": clean_text(section), "package": package, "spec": spec})

    if kind == "conda":
        table.name = clean_text(document.get("name") or "")
        channels = _as_list(document.get("channels"))
        table.channels = [clean_text(channel) for channel in channels[:MAX_CHANNELS]]
        for entry in _as_list(document.get("dependencies")):
            if isinstance(entry, dict):
                for sub_section, sub_entries in entry.items():
                    for sub_entry in _as_list(sub_entries):
                        add(sub_section, sub_entry)
                continue
            package, spec = _split_requirement(clean_text(entry))
            if package == "python":
                table.python = spec.lstrip("=")
            add("conda", entry)
    else:
        table.python = clean_text(document.get("python") or "")
        for entry in _as_list(document.get("build_dependencies")):
            add("build", entry)
        for entry in _as_list(document.get("dependencies")):
            add("runtime", entry)
    return table


def _as_list(value: Any) -> list:
    # A scalar where a list belongs is one entry, as conda reads it; a mapping is none.
    if value is None or isinstance(value, dict):
        return []
    return value if isinstance(value, list) else [value]


# --- the files the sync reads inside --------------------------------------------------------

# The last key segments ``content_kind`` reads; any other key is never read by the sync.
CONTENT_FILE_NAMES = ("MLmodel", "feature_names.txt")


def content_kind(key: str) -> str | None:
    """Which parser a key's last segment calls for (``MLMODEL``, ``FEATURE_NAMES``), or None."""
    name = key.rpartition("/")[2]
    if name == "MLmodel":
        return MLMODEL
    if name == "feature_names.txt":
        return FEATURE_NAMES
    return None


def parse_model_file(*, kind: str, data: bytes | str, truncated: bool) -> dict[str, Any]:
    """``Artifact.meta`` for ``data`` read from a file of ``kind``: never raises.

    Any failure of one file, whatever its kind (``RecursionError`` and ``MemoryError``
    included), becomes ``{"kind": ..., "error": "<one line>"}``: a warning on that file
    in a sync, a note on the file page. ``truncated``: the file is larger than what was
    read. An MLmodel cut short is an error (half a YAML document means nothing); a
    feature list keeps its first whole lines.
    """
    try:
        if kind == MLMODEL:
            if truncated:
                raise ModelFileError(f"MLmodel larger than {MAX_FILE_BYTES} bytes")
            return parse_mlmodel(data)
        if truncated and isinstance(data, bytes):
            data = _whole_lines(data)
        return {"kind": FEATURE_NAMES, "features": parse_feature_names(data)}
    except Exception as error:  # noqa: BLE001 - one file's failure, of any kind, is its note
        return {"kind": kind, "error": error_line(error)}


def _whole_lines(data: bytes) -> bytes:
    # A read cut at the byte cap may end inside a line (or a UTF-8 sequence): drop it.
    cut = data.rfind(b"\n")
    return data[: cut + 1] if cut >= 0 else data
