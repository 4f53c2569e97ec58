"""Previews of artifacts: thumbnails, text, CSV, JSON, MLmodel, dependency files, features.

Two layers:

* pure functions from bytes or ``Artifact.meta`` to something a template shows
  (``make_thumbnail``, ``csv_table``, ``dependency_table``, ``mlmodel_panel`` ...), each
  with a size cap, so a hostile or huge object costs a bounded amount of work;
* ``thumbnail_png`` and ``text_preview``, which read an artifact's bytes by its exact
  catalogued (bucket, key) through ``catalog.sync.s3_source`` and cache the result by
  ETag (a changed object has a new ETag, hence a new cache key).

Images are decoded by Pillow with ``settings.CATALOG_MAX_IMAGE_PIXELS`` as the
decompression-bomb limit; anything that can't be previewed becomes a placeholder PNG,
never an error page. PDFs are rendered by pdfium (pypdfium2), first page only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import threading
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml
from django.conf import settings
from django.core.cache import cache
from PIL import Image, ImageDraw

from catalog.models import Artifact
from catalog.sync.s3_source import ObjectUnavailable, get_web_s3_client, read_object_bytes

TEXT_PREVIEW_MAX_BYTES = 256 * 1024
IMAGE_MAX_BYTES = 32 * 1024 * 1024
PDF_MAX_BYTES = 25 * 1024 * 1024
CSV_MAX_ROWS = 200
CSV_MAX_COLUMNS = 50
DEPENDENCY_MAX_ROWS = 1000
THUMBNAIL_SIZES = {"small": (320, 240), "large": (1200, 900)}
CACHE_VERSION = "1"

# pdfium is not thread-safe; a process renders one PDF at a time.
_PDFIUM_LOCK = threading.Lock()

# --- what a file is and how it may be served --------------------------------------------

# Types served inline. Anything else (HTML, SVG, XML, unknown) is served as an
# attachment of type application/octet-stream: it never renders in our origin.
_INLINE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".pdf": "application/pdf",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
}
_TEXT_SUFFIXES = (
    ".txt",
    ".log",
    ".md",
    ".yaml",
    ".yml",
    ".py",
    ".cfg",
    ".ini",
    ".toml",
    ".sql",
    ".r",
    ".sh",
    ".tsv",
)
_TEXT_NAMES = {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml", "LICENSE"}
ATTACHMENT_TYPE = "application/octet-stream"


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _suffix(path: str) -> str:
    name = _name(path)
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def is_text_like(path: str) -> bool:
    """True for files shown as text (YAML, logs, requirements, MLmodel ...)."""
    suffix = _suffix(path)
    return _name(path) in _TEXT_NAMES or suffix in _TEXT_SUFFIXES or suffix in (".csv", ".json")


def serving_type(path: str) -> tuple[str, bool]:
    """(content type, may be shown inline) for an artifact path, from an allowlist."""
    suffix = _suffix(path)
    if suffix in _INLINE_TYPES:
        return _INLINE_TYPES[suffix], True
    if is_text_like(path):
        return "text/plain; charset=utf-8", True
    return ATTACHMENT_TYPE, False


def preview_kind(path: str) -> str:
    """Which preview a file page shows: image, pdf, mlmodel, conda, python_env,
    feature_names, csv, json, text or none."""
    name = _name(path)
    suffix = _suffix(path)
    special = {
        "MLmodel": "mlmodel",
        "conda.yaml": "conda",
        "python_env.yaml": "python_env",
        "feature_names.txt": "feature_names",
    }
    if name in special:
        return special[name]
    if suffix in (".png", ".jpg", ".jpeg", ".gif"):
        return "image"
    if suffix == ".pdf":
        return "pdf"
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "json"
    if is_text_like(path):
        return "text"
    return "none"


# --- thumbnails --------------------------------------------------------------------------


class PreviewUnavailable(Exception):
    """The bytes can't be turned into a thumbnail (too big, a bomb, not an image ...)."""


def _pixel_limit() -> int:
    # Checked against the header ourselves rather than written into Pillow's
    # process-wide Image.MAX_IMAGE_PIXELS: that global would leak into every other
    # image user in the process (charts, tests) and could not differ per setting.
    return int(settings.CATALOG_MAX_IMAGE_PIXELS)


def _to_png(image: Image.Image, *, box: tuple[int, int]) -> bytes:
    image.thumbnail(box)
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def image_thumbnail(data: bytes, *, box: tuple[int, int]) -> bytes:
    """A PNG no larger than ``box`` from image bytes; raises PreviewUnavailable.

    The pixel count is checked from the header before anything is decoded, and
    Pillow's own bomb warning is turned into an error as a second guard.
    """
    limit = _pixel_limit()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > limit:
                    raise PreviewUnavailable(f"image of {width}x{height} pixels is too large")
                image.seek(0)
                image.draft("RGB", box)  # JPEG: decode at reduced scale when possible
                image.load()
                return _to_png(image.copy(), box=box)
    except PreviewUnavailable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PreviewUnavailable(f"decompression bomb: {error}") from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise PreviewUnavailable(f"not a readable image: {error}") from error


def pdf_thumbnail(data: bytes, *, box: tuple[int, int]) -> bytes:
    """A PNG of the first page of a PDF, no larger than ``box``; raises PreviewUnavailable."""
    import pypdfium2

    with _PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as error:
            raise PreviewUnavailable(f"not a readable PDF: {error}") from error
        try:
            if len(document) == 0:
                raise PreviewUnavailable("PDF has no pages")
            page = document[0]
            try:
                width, height = page.get_size()
                if width <= 0 or height <= 0:
                    raise PreviewUnavailable("PDF page has no size")
                # Scale so the page fits the box, whatever its declared size.
                scale = min(box[0] / width, box[1] / height)
                bitmap = page.render(scale=scale)
                try:
                    image = bitmap.to_pil()
                    return _to_png(image, box=box)
                finally:
                    bitmap.close()
            finally:
                page.close()
        except pypdfium2.PdfiumError as error:
            raise PreviewUnavailable(f"PDF page could not be rendered: {error}") from error
        finally:
            document.close()


@lru_cache(maxsize=8)
def placeholder_png(label: str = "no preview") -> bytes:
    """A small grey PNG with ``label`` on it, shown where no thumbnail can be made."""
    image = Image.new("RGB", THUMBNAIL_SIZES["small"], (236, 238, 241))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width - 1, image.height - 1), outline=(180, 184, 190))
    draw.text((16, image.height // 2 - 6), label[:48], fill=(90, 96, 104))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def artifact_cache_key(*, artifact: Artifact, purpose: str) -> str:
    """A cache key from bucket + key digest, ETag and size: new content, new key."""
    digest = hashlib.sha256(f"{artifact.bucket}\x00{artifact.key}".encode()).hexdigest()
    etag = hashlib.sha256(artifact.etag.encode()).hexdigest()[:32]
    return f"artifact:{CACHE_VERSION}:{purpose}:{digest}:{etag}:{artifact.size}"


@dataclass(frozen=True)
class Thumbnail:
    png: bytes
    is_placeholder: bool
    reason: str = ""


def thumbnail_png(*, artifact: Artifact, size: str = "small") -> Thumbnail:
    """The cached PNG thumbnail of an image or a PDF's first page, or a placeholder.

    A thumbnail (or the placeholder for content that can't have one) is computed once
    per ETag. A read failure is not cached: S3 may answer next time.
    """
    box = THUMBNAIL_SIZES.get(size, THUMBNAIL_SIZES["small"])
    kind = preview_kind(artifact.path)
    if kind not in ("image", "pdf"):
        return Thumbnail(placeholder_png("no preview for this type"), True, "not an image")
    cap = IMAGE_MAX_BYTES if kind == "image" else PDF_MAX_BYTES
    if artifact.size > cap:
        return Thumbnail(placeholder_png("too large to preview"), True, "too large")
    cache_key = artifact_cache_key(artifact=artifact, purpose=f"thumb-{size}")
    cached = cache.get(cache_key)
    if cached is not None:
        return Thumbnail(cached["png"], cached["placeholder"], cached["reason"])
    try:
        data = read_object_bytes(
            client=get_web_s3_client(), bucket=artifact.bucket, key=artifact.key, max_bytes=cap
        )
    except ObjectUnavailable as error:
        return Thumbnail(placeholder_png("unavailable"), True, str(error))
    try:
        if kind == "image":
            result = Thumbnail(image_thumbnail(data, box=box), False)
        else:
            result = Thumbnail(pdf_thumbnail(data, box=box), False)
    except PreviewUnavailable as error:
        result = Thumbnail(placeholder_png("no preview"), True, str(error))
    cache.set(
        cache_key,
        {"png": result.png, "placeholder": result.is_placeholder, "reason": result.reason},
    )
    return result


# --- text ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextPreview:
    text: str
    truncated: bool
    error: str = ""


def decode_text(data: bytes, *, complete: bool) -> str:
    """UTF-8 text from bytes; when cut short, drop a partial last line."""
    text = data.decode("utf-8", errors="replace")
    if not complete and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def text_preview(*, artifact: Artifact, max_bytes: int = TEXT_PREVIEW_MAX_BYTES) -> TextPreview:
    """The first ``max_bytes`` of an artifact as text, cached by ETag."""
    cache_key = artifact_cache_key(artifact=artifact, purpose=f"text-{max_bytes}")
    cached = cache.get(cache_key)
    if cached is not None:
        return TextPreview(cached["text"], cached["truncated"])
    try:
        data = read_object_bytes(
            client=get_web_s3_client(),
            bucket=artifact.bucket,
            key=artifact.key,
            max_bytes=max_bytes,
        )
    except ObjectUnavailable as error:
        return TextPreview("", False, f"The object could not be read ({error}).")
    # The catalogued size may be stale; what came back decides whether we were cut short.
    truncated = len(data) >= max_bytes and artifact.size > max_bytes
    text = decode_text(data, complete=not truncated)
    cache.set(cache_key, {"text": text, "truncated": truncated})
    return TextPreview(text, truncated)


def csv_table(
    text: str, *, max_rows: int = CSV_MAX_ROWS, max_columns: int = CSV_MAX_COLUMNS
) -> dict[str, Any]:
    """Header and up to ``max_rows`` rows of CSV text, each cut to ``max_columns``."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows: list[list[str]] = []
    more = False
    try:
        for row in reader:
            if len(rows) > max_rows:  # the header plus max_rows rows are in
                more = True
                break
            rows.append(row[:max_columns])
    except csv.Error as error:
        return {"header": [], "rows": [], "more_rows": False, "error": str(error)}
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    return {"header": header, "rows": body, "more_rows": more, "error": ""}


def pretty_json(text: str, *, complete: bool) -> str:
    """Indented JSON when the whole document is here and parses, else the text as is."""
    if not complete:
        return text
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return text


# --- MLmodel, dependencies, features -----------------------------------------------------


def mlmodel_panel(meta: dict | None) -> dict[str, Any] | None:
    """What the MLmodel panel shows, from ``Artifact.meta`` written by the sync.

    None when the sync has not parsed this file (``meta`` empty or of another kind);
    ``{"error": ...}`` when it could not.
    """
    if not isinstance(meta, dict) or meta.get("kind") != "mlmodel":
        return None
    if meta.get("error"):
        return {"error": str(meta["error"])}
    signature = meta.get("signature") if isinstance(meta.get("signature"), dict) else None

    def columns(section: str) -> list[dict[str, str]]:
        items = (signature or {}).get(section) or []
        return [
            {"name": str(item.get("name") or ""), "type": str(item.get("type") or "")}
            for item in items
            if isinstance(item, dict)
        ]

    flavors = meta.get("flavors") or []
    sections = [("Inputs", columns("inputs")), ("Outputs", columns("outputs"))]
    if columns("params"):
        sections.append(("Parameters", columns("params")))
    return {
        "sections": sections,
        "error": "",
        "flavors": [str(flavor) for flavor in flavors if flavor is not None],
        "loader_module": meta.get("loader_module") or "",
        "python_version": meta.get("python_version") or "",
        "mlflow_version": meta.get("mlflow_version") or "",
        "serialization_format": meta.get("serialization_format") or "",
        "model_size_bytes": meta.get("model_size_bytes"),
        "model_uuid": meta.get("model_uuid") or "",
        "run_id": meta.get("run_id") or "",
        "utc_time_created": meta.get("utc_time_created") or "",
        "has_signature": signature is not None,
        "inputs": columns("inputs"),
        "outputs": columns("outputs"),
        "params": columns("params"),
    }


def feature_list(meta: dict | None) -> dict[str, Any] | None:
    """The feature names the sync read from ``feature_names.txt``, or None if unparsed."""
    if not isinstance(meta, dict) or meta.get("kind") != "feature_names":
        return None
    if meta.get("error"):
        return {"error": str(meta["error"]), "features": []}
    features = [str(feature) for feature in (meta.get("features") or [])]
    return {"error": "", "features": features}


def features_from_text(text: str, *, limit: int = 10_000) -> list[str]:
    """One feature per non-empty line, as the sync parses it (a fallback before a sync)."""
    features = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            features.append(line)
            if len(features) >= limit:
                break
    return features


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?)\s*(.*)$")


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


def dependency_table(text: str, *, kind: str) -> DependencyTable:
    """Parse a conda.yaml (``kind="conda"``) or python_env.yaml (``"python_env"``).

    Parsed with ``yaml.safe_load``; anything unexpected becomes ``error``, never an
    exception.
    """
    table = DependencyTable()
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        table.error = f"Not valid YAML: {str(error).splitlines()[0]}"
        return table
    if not isinstance(document, dict):
        table.error = "Not a YAML mapping."
        return table

    def add(section: str, entry: Any) -> None:
        if len(table.rows) >= DEPENDENCY_MAX_ROWS:
            table.truncated = True
            return
        package, spec = _split_requirement(str(entry))
        table.rows.append({"section": section, "package": package, "spec": spec})

    if kind == "conda":
        table.name = str(document.get("name") or "")
        table.channels = [str(channel) for channel in document.get("channels") or []]
        for entry in document.get("dependencies") or []:
            if isinstance(entry, dict):
                for sub_section, sub_entries in entry.items():
                    for sub_entry in sub_entries or []:
                        add(str(sub_section), sub_entry)
                continue
            package, spec = _split_requirement(str(entry))
            if package == "python":
                table.python = spec.lstrip("=")
            add("conda", entry)
    else:
        table.python = str(document.get("python") or "")
        for entry in document.get("build_dependencies") or []:
            add("build", entry)
        for entry in document.get("dependencies") or []:
            add("runtime", entry)
    return table
