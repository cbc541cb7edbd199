"""Tool specs: the schema the model sees comes from the signature and the docstring, and every
reference that cannot be a tool fails at load time with a ToolSpecError naming ref and cause."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from voxray.actors.errors import ConfigError, ToolSpecError
from voxray.actors.tools import ToolSpec, build_tool_spec, tool_spec_from_entry

FIXTURES = "tests.tool_fixtures"


def test_example_weather_tool_wire_shape() -> None:
    spec = build_tool_spec("voxray.examples.tools:get_weather")
    assert spec.to_wire() == {
        "type": "function",
        "name": "get_weather",
        "description": (
            "Get the current weather for a city (example tool: fake, deterministic data)."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": 'Name of the city, e.g. "Lisbon".'},
                "unit": {
                    "type": "string",
                    "enum": ["celsius", "fahrenheit"],
                    "default": "celsius",
                    "description": "Temperature unit of the answer.",
                },
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    }
    assert spec.timeout_s is None  # the pool's default applies
    assert spec.ref == "voxray.examples.tools:get_weather"
    assert not spec.is_async and spec.runtime_env is None and spec.runtime_env_key == ""


def test_async_tool_is_accepted() -> None:
    spec = build_tool_spec("voxray.examples.tools:lookup_order")
    assert spec.parameters["required"] == ["order_id"]
    assert "order" in spec.description
    assert spec.is_async


def test_runtime_env_is_kept_and_keyed_canonically() -> None:
    first = build_tool_spec(f"{FIXTURES}:add", runtime_env={"env_vars": {"B": "2", "A": "1"}})
    second = build_tool_spec(
        f"{FIXTURES}:echo_text", runtime_env={"env_vars": {"A": "1", "B": "2"}}
    )
    assert first.runtime_env == {"env_vars": {"A": "1", "B": "2"}}
    # Same runtime_env, same runners, whatever the order it was written in.
    assert first.runtime_env_key == second.runtime_env_key == '{"env_vars":{"A":"1","B":"2"}}'
    assert "runtime_env" not in first.to_wire()
    assert ToolSpec.model_validate_json(first.model_dump_json()) == first


@pytest.mark.parametrize(
    ("runtime_env", "cause"),
    [
        ({"env_vars": {"A": 1}}, "env_vars must map names to string values"),
        ({"pip": [object()]}, "runtime_env must be plain JSON data"),
    ],
)
def test_invalid_runtime_env(runtime_env: dict[str, object], cause: str) -> None:
    with pytest.raises(ToolSpecError, match=cause):
        build_tool_spec(f"{FIXTURES}:add", runtime_env=runtime_env)


def test_tool_entries_as_written_in_yaml() -> None:
    plain = tool_spec_from_entry("voxray.examples.tools:get_weather")
    assert plain.name == "get_weather"
    full = tool_spec_from_entry(
        {
            "ref": f"{FIXTURES}:add",
            "name": "sum",
            "timeout_s": 2,
            "runtime_env": {"pip": ["requests"], "env_vars": {"MODE": "test"}},
        }
    )
    assert (full.name, full.timeout_s) == ("sum", 2)
    assert full.runtime_env == {"pip": ["requests"], "env_vars": {"MODE": "test"}}
    with pytest.raises(ToolSpecError, match=r"unknown tool field\(s\) \['timeout'\]"):
        tool_spec_from_entry({"ref": f"{FIXTURES}:add", "timeout": 2})
    with pytest.raises(ToolSpecError, match="needs 'ref'"):
        tool_spec_from_entry({"name": "x"})


def test_docstring_sections_and_keyword_only_parameters() -> None:
    spec = build_tool_spec(f"{FIXTURES}:search", name="catalogue_search", timeout_s=2.5)
    assert spec.name == "catalogue_search"
    assert spec.timeout_s == 2.5
    # Summary and body paragraphs, without the Args/Returns sections.
    assert spec.description == "Search the catalogue.\n\nMatches are ranked by relevance."
    properties = spec.parameters["properties"]
    assert list(properties) == ["query", "limit", "exact", "sort", "title"]
    # A continuation line is folded in; a "(type)" annotation in the docstring is dropped.
    assert properties["limit"] == {
        "type": "integer",
        "default": 5,
        "description": "Maximum number of results, counted after de-duplication.",
    }
    assert properties["exact"]["type"] == "boolean"
    assert properties["sort"]["enum"] == ["asc", "desc"]
    # A parameter named "title" survives the removal of pydantic's generated titles.
    assert properties["title"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert spec.parameters["required"] == ["query"]
    assert "title" not in spec.parameters


def test_nested_models_and_constraints() -> None:
    parameters = build_tool_spec(f"{FIXTURES}:ship").parameters
    assert parameters["properties"]["weight_kg"] == {"type": "number", "exclusiveMinimum": 0}
    assert parameters["properties"]["address"] == {"$ref": "#/$defs/Address"}
    assert parameters["$defs"]["Address"]["required"] == ["street", "city"]


def test_missing_docstring_gives_empty_description() -> None:
    spec = build_tool_spec(f"{FIXTURES}:no_docstring")
    assert spec.description == ""
    assert spec.parameters["properties"] == {"x": {"type": "integer"}}


def test_to_wire_returns_a_copy() -> None:
    spec = build_tool_spec(f"{FIXTURES}:add")
    spec.to_wire()["parameters"]["properties"].clear()
    assert "a" in spec.parameters["properties"]


def test_spec_is_frozen_and_round_trips() -> None:
    spec = build_tool_spec(f"{FIXTURES}:add")
    with pytest.raises(ValueError, match="frozen"):
        spec.name = "other"  # type: ignore[misc]
    assert ToolSpec.model_validate_json(spec.model_dump_json()) == spec
    assert pickle.loads(pickle.dumps(spec)) == spec


@pytest.mark.parametrize(
    ("ref", "cause"),
    [
        ("no_colon_here", "not of the form"),
        ("tests.no_such_module:f", "module not found"),
        (f"{FIXTURES}:no_such_function", "'no_such_function' not found"),
        (f"{FIXTURES}:NOT_CALLABLE", "is int, not a function"),
        (f"{FIXTURES}:NotAFunction", "is a class, not a function"),
        (f"{FIXTURES}:missing_hint", "parameter 'x' has no type hint"),
        (f"{FIXTURES}:star_args", "parameter 'values': *args/**kwargs"),
        (f"{FIXTURES}:star_kwargs", "parameter 'options': *args/**kwargs"),
        (f"{FIXTURES}:takes_callable", "cannot be described in JSON schema"),
        (f"{FIXTURES}:takes_socket", "cannot build an arguments model"),
        (f"{FIXTURES}:bad_default", "not JSON serializable"),
    ],
)
def test_each_cause_raises_tool_spec_error_naming_ref(ref: str, cause: str) -> None:
    with pytest.raises(ToolSpecError) as caught:
        build_tool_spec(ref)
    error = caught.value
    assert isinstance(error, ConfigError)
    assert error.location == ref
    assert str(error).startswith(f"{ref}: ")
    assert cause in str(error)
    assert "\n" not in str(error)
    assert not error.retryable


def test_module_that_fails_on_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A broken module raises something other than ModuleNotFoundError; its cause is named too.
    (tmp_path / "voxray_broken_tool.py").write_text("raise RuntimeError('no config file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ToolSpecError) as caught:
        build_tool_spec("voxray_broken_tool:f")
    assert "importing voxray_broken_tool failed: RuntimeError: no config file" in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "cause"),
    [({"name": "bad name!"}, "name: String should match"), ({"timeout_s": 0}, "timeout_s")],
)
def test_invalid_name_or_timeout(kwargs: dict[str, object], cause: str) -> None:
    with pytest.raises(ToolSpecError, match=cause):
        build_tool_spec(f"{FIXTURES}:add", **kwargs)  # type: ignore[arg-type]


def test_tool_spec_error_pickles() -> None:
    with pytest.raises(ToolSpecError) as caught:
        build_tool_spec(f"{FIXTURES}:missing_hint")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is ToolSpecError
    assert copy.message == caught.value.message
    assert copy.location == caught.value.location


def test_direct_spec_validates_ref_and_parameters() -> None:
    with pytest.raises(ValueError, match=r"package\.module:function"):
        ToolSpec(name="x", ref="nope", parameters={"type": "object"})
    with pytest.raises(ValueError, match="type 'object'"):
        ToolSpec(name="x", ref="a.b:c", parameters={"type": "string"})
