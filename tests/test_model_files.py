"""The bounded parsers of model files: bytes, depth, aliases and output all capped."""

from __future__ import annotations

import json
import random
import tracemalloc

import pytest
import yaml

from catalog import model_files
from catalog.model_files import ModelFileError
from tests.hostile_files import (
    CLEAN_MLMODEL,
    NOT_UTF8,
    alias_bomb_conda,
    alias_bomb_mlmodel,
    deep_json_mlmodel,
    huge_scalar_mlmodel,
)


def peak_bytes(function, *args, **kwargs) -> tuple[object, int]:
    """(what ``function`` returned or raised, the peak of Python memory it allocated)."""
    tracemalloc.start()
    try:
        try:
            outcome: object = function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the caller looks at what came out
            outcome = error
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_clean_mlmodel_parses():
    meta = model_files.parse_mlmodel(CLEAN_MLMODEL)
    assert meta["flavors"] == ["python_function", "sklearn"]
    assert meta["mlflow_version"] == "2.16.0"
    assert meta["model_size_bytes"] == 4567
    assert meta["signature"]["inputs"] == [{"name": "temperature", "type": "double"}]


@pytest.mark.parametrize("levels", [7, 9])
def test_alias_bombs_are_refused_before_they_expand(levels):
    for build, parse in [
        (alias_bomb_mlmodel, model_files.parse_mlmodel),
        (alias_bomb_conda, lambda data: model_files.parse_dependencies(data, kind="conda")),
    ]:
        data = build(levels=levels)
        assert len(data) < 1_000
        outcome, peak = peak_bytes(parse, data)
        assert isinstance(outcome, ModelFileError), outcome
        assert "aliases counted as copies" in str(outcome)
        # 9**7 copies of 9 characters would be ~43 MB as text; the refusal costs little.
        assert peak < 2_000_000


def test_honest_aliases_are_accepted():
    # yaml.safe_dump writes an anchor and an alias for an object dumped twice.
    shared = ["numpy==1.26.4", "scikit-learn==1.5.0"]
    text = yaml.safe_dump(
        {"python": "3.11.7", "build_dependencies": shared, "dependencies": shared}
    )
    assert "&id001" in text and "*id001" in text
    table = model_files.parse_dependencies(text, kind="python_env")
    assert [row["package"] for row in table.rows] == ["numpy", "scikit-learn"] * 2


def test_an_alias_inside_its_own_anchor_is_refused():
    with pytest.raises(ModelFileError):
        model_files.load_yaml(b"a: &loop [1, *loop]\n")


def test_yaml_depth_is_capped():
    # The mapping is one level, each bracket another.
    brackets = model_files.MAX_YAML_DEPTH - 1
    model_files.load_yaml(("a: " + "[" * brackets + "]" * brackets).encode())
    deep = "a: " + "[" * 200 + "]" * 200
    with pytest.raises(ModelFileError, match="nested deeper than 64"):
        model_files.load_yaml(deep.encode())
    # Deeper than libyaml's own limit: its error, not a crash.
    deeper = "[" * 20_000 + "]" * 20_000
    with pytest.raises(ModelFileError, match="not valid YAML"):
        model_files.load_yaml(deeper.encode())


def test_node_and_size_caps_hold_without_aliases_too():
    wide = "[" + ",".join(["1"] * (model_files.MAX_YAML_NODES + 1)) + "]"
    with pytest.raises(ModelFileError, match="more than"):
        model_files.load_yaml(wide.encode())
    with pytest.raises(ModelFileError, match="larger than"):
        model_files.load_yaml(b"a" * (model_files.MAX_FILE_BYTES + 1))


def test_a_deep_json_signature_is_an_error_not_a_recursion_error():
    data = deep_json_mlmodel(depth=5_000)
    assert len(data) < 12_000
    with pytest.raises(ModelFileError, match="JSON nested deeper than 64"):
        model_files.parse_mlmodel(data)


def test_json_depth_matches_the_decoded_depth():
    def depth_of(value) -> int:
        if isinstance(value, list):
            return 1 + max((depth_of(item) for item in value), default=0)
        if isinstance(value, dict):
            return 1 + max((depth_of(item) for item in value.values()), default=0)
        return 0

    def leaf(rng):
        return rng.choice([1, "x", '"[{', "]}\\", None, [], {}])

    def build(rng, depth):
        # One branch reaches ``depth``; its siblings are leaves or shallow.
        if depth == 0:
            return leaf(rng)
        items = [build(rng, depth - 1)] + [leaf(rng) for _ in range(rng.randint(0, 2))]
        rng.shuffle(items)
        if rng.random() < 0.5:
            return items
        return {f"k{i}[": item for i, item in enumerate(items)}

    rng = random.Random(7)
    for _ in range(200):
        value = build(rng, rng.randint(0, 90))
        text = json.dumps(value)
        assert model_files.json_depth(text) == depth_of(value)
        deep = depth_of(value) > model_files.MAX_JSON_DEPTH
        if deep:
            with pytest.raises(ModelFileError, match="nested deeper"):
                model_files.load_json(text)
        else:
            assert model_files.load_json(text) == value


def test_brackets_inside_strings_do_not_count():
    text = json.dumps([{"name": "[" * 500, "type": "{" * 500}])
    assert model_files.load_json(text) == [{"name": "[" * 500, "type": "{" * 500}]


def test_kept_strings_are_bounded_and_storable():
    meta = model_files.parse_mlmodel(huge_scalar_mlmodel(chars=200_000))
    assert len(meta["mlflow_version"]) == model_files.MAX_TEXT_CHARS
    assert len(json.dumps(meta)) < 1_000
    # NUL (a YAML escape) would be refused by PostgreSQL's jsonb, and so would a lone
    # surrogate (libyaml refuses its escape; the pure-Python loader would build one).
    odd = model_files.parse_mlmodel(b'flavors: {}\nrun_id: "a\\0b"\n')
    assert odd["run_id"] == "a\ufffdb"
    assert model_files.clean_text("\ud800x") == "?x"
    assert model_files.clean_text("\x00" * 1_000) == "\ufffd" * 299 + "\u2026"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(".inf", None), (".nan", None), ("-5", None), ("9" * 30, None), ("'12'", 12), ("7", 7)],
)
def test_model_size_is_a_bigint_or_nothing(value, expected):
    meta = model_files.parse_mlmodel(f"flavors: {{}}\nmodel_size_bytes: {value}\n".encode())
    assert meta["model_size_bytes"] == expected


def test_signature_columns_are_capped_with_their_total():
    count = model_files.MAX_SIGNATURE_COLUMNS + 10
    columns = json.dumps([{"type": "double", "name": f"c{i}"} for i in range(count)])
    meta = model_files.parse_mlmodel(
        b"flavors: {}\nsignature:\n  inputs: '" + columns.encode() + b"'\n"
    )
    assert len(meta["signature"]["inputs"]) == model_files.MAX_SIGNATURE_COLUMNS
    assert meta["signature"]["inputs_total"] == count
    assert "outputs_total" not in meta["signature"]


def test_text_that_is_not_utf8_is_refused():
    for parse in (
        model_files.parse_mlmodel,
        model_files.parse_feature_names,
        lambda data: model_files.parse_dependencies(data, kind="conda"),
    ):
        with pytest.raises(ModelFileError, match="not UTF-8"):
            parse(NOT_UTF8)


def test_feature_names_are_cut_and_capped():
    data = ("x" * 1_000 + "\n" + "\n".join(f"f{i}" for i in range(20_000))).encode()
    features = model_files.parse_feature_names(data)
    assert len(features) == model_files.MAX_FEATURES
    assert len(features[0]) == model_files.MAX_TEXT_CHARS


def test_dependency_rows_are_capped():
    entries = "\n".join(f"  - pkg{i}==1.0" for i in range(model_files.MAX_DEPENDENCY_ROWS + 5))
    table = model_files.parse_dependencies(f"dependencies:\n{entries}\n", kind="python_env")
    assert len(table.rows) == model_files.MAX_DEPENDENCY_ROWS
    assert table.truncated


def test_error_lines_are_one_short_line():
    assert model_files.error_line(RecursionError("maximum recursion depth")).startswith(
        "nested too deeply"
    )
    assert model_files.error_line(MemoryError()) == "out of memory while parsing"
    line = model_files.error_line(ValueError("a\nb " + "c" * 1_000))
    assert "\n" not in line and len(line) <= model_files.MAX_ERROR_CHARS
