"""Tool specs: what the model is told about a Python function, derived from its signature.

A tool is named by a reference ``package.module:function``. :func:`build_tool_spec` imports it,
turns the signature and type hints into a JSON schema with pydantic and takes the descriptions
from a Google-style docstring. Every way this can fail raises
:class:`~voxray.actors.errors.ToolSpecError`
naming the reference and the cause, so a broken tool is a config error at load time, never a
surprise in the middle of a call.

:func:`load_tool` is the shared half: the runner uses the same arguments model to validate what
the model sent, so the schema the model sees and the check the runner applies cannot drift.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import functools
import importlib
import inspect
import json
import re
import sys
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator
from pydantic.json_schema import PydanticJsonSchemaWarning
from voxray.actors.errors import ToolSpecError

__all__ = [
    "DEFAULT_TOOL_TIMEOUT_S",
    "TOOL_SEARCH_PATH",
    "LoadedTool",
    "ToolSpec",
    "build_tool_spec",
    "load_tool",
    "tool_spec_from_entry",
]

DEFAULT_TOOL_TIMEOUT_S: Final = 10.0
"""Seconds a function call may run before it is stopped, unless the tool or the pool says
otherwise (``ToolPoolSettings.default_timeout_s``)."""

TOOL_SEARCH_PATH: Final = "tool_search_path"
"""Validation-context key: a folder (the suite's) whose modules tools may be imported from."""

_ENTRY_KEYS: Final = frozenset({"ref", "name", "timeout_s", "runtime_env"})

_NAME_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
_REF_PATTERN: Final = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_SECTION: Final = re.compile(
    r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Returns?|Yields?|"
    r"Raises|Examples?|Notes?|Attributes|See Also|Warnings?|Todo|References)\s*:\s*$"
)
_ARG_SECTIONS: Final = frozenset(
    {"Args", "Arguments", "Parameters", "Params", "Keyword Args", "Keyword Arguments"}
)
_ARG_LINE: Final = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
# Keys whose values are data rather than sub-schemas: their contents must not be rewritten.
_DATA_KEYS: Final = frozenset({"default", "enum", "const", "examples", "required"})


class ToolSpec(BaseModel, frozen=True, extra="forbid"):
    """A function tool as declared to the model and resolved for the runner.

    Build one with :func:`build_tool_spec`; constructing it directly (e.g. from a suite file that
    spells out ``parameters``) skips the import check and leaves it to the runner.
    """

    name: str = Field(pattern=_NAME_PATTERN, description="Function name the model sees.")
    ref: str = Field(description="Where the function lives: 'package.module:function'.")
    description: str = Field("", description="What the function does, told to the model.")
    parameters: dict[str, Any] = Field(description="JSON schema (type object) of the arguments.")
    timeout_s: float | None = Field(
        None,
        gt=0,
        description="Seconds a call may run before it is stopped; None: the pool's default.",
    )
    is_async: bool = Field(
        False,
        description="Whether the function is a coroutine function. Async calls may share a "
        "runner process; a sync call gets one to itself, so stopping it (which means killing "
        "the process) cannot take another call with it.",
    )
    runtime_env: dict[str, Any] | None = Field(
        None,
        description="Ray runtime_env for this tool's runners (env_vars, pip, py_modules, ...), "
        "passed to Ray as is; tools with the same runtime_env share runners. Values are visible "
        "to anyone who can list the cluster's actors: no secrets here.",
    )

    @field_validator("ref")
    @classmethod
    def _check_ref(cls, ref: str) -> str:
        if not _REF_PATTERN.match(ref):
            raise ValueError(f"tool ref {ref!r} is not of the form 'package.module:function'")
        return ref

    @field_validator("parameters")
    @classmethod
    def _check_parameters(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        if parameters.get("type") != "object":
            raise ValueError("tool parameters must be a JSON schema with type 'object'")
        return parameters

    @field_validator("runtime_env")
    @classmethod
    def _check_runtime_env(cls, runtime_env: dict[str, Any] | None) -> dict[str, Any] | None:
        if not runtime_env:
            return None
        try:
            json.dumps(runtime_env, sort_keys=True)
        except (TypeError, ValueError) as error:
            raise ValueError(f"runtime_env must be plain JSON data: {error}") from error
        env_vars = runtime_env.get("env_vars")
        if env_vars is not None and not (
            isinstance(env_vars, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env_vars.items())
        ):
            raise ValueError("runtime_env.env_vars must map names to string values")
        return runtime_env

    @functools.cached_property
    def runtime_env_key(self) -> str:
        """The runtime_env as canonical JSON, ``""`` for none: which runners may run this tool."""
        if self.runtime_env is None:
            return ""
        return json.dumps(self.runtime_env, sort_keys=True, separators=(",", ":"))

    def to_wire(self) -> dict[str, Any]:
        """The flat function-tool object sent in ``session.update``."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            # A copy: the spec is frozen, and callers may edit what they send.
            "parameters": copy.deepcopy(self.parameters),
        }


@dataclass(frozen=True)
class LoadedTool:
    """An imported tool function with the pydantic model that validates its arguments.

    Attributes:
        ref: the reference it was loaded from.
        function: the callable itself.
        is_async: whether calling it returns a coroutine to await.
        arguments_model: validates a JSON arguments object (keys are the parameter names).
        fields: (parameter name, model field name, positional-only) in signature order.
        description: the docstring's summary.
    """

    ref: str
    function: Callable[..., Any]
    is_async: bool
    arguments_model: type[BaseModel]
    fields: tuple[tuple[str, str, bool], ...]
    description: str

    def bind(self, validated: BaseModel) -> tuple[list[Any], dict[str, Any]]:
        """Positional and keyword arguments for :attr:`function` from a validated model."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for parameter, field, positional_only in self.fields:
            # getattr, not model_dump: nested models and typed values reach the function as the
            # types its annotations promise.
            value = getattr(validated, field)
            if positional_only:
                args.append(value)
            else:
                kwargs[parameter] = value
        return args, kwargs

    def json_schema(self) -> dict[str, Any]:
        """The arguments' JSON schema, without pydantic's generated titles."""
        with warnings.catch_warnings():
            # A default that cannot be shown in JSON is a spec error, not a silent omission.
            warnings.simplefilter("error", PydanticJsonSchemaWarning)
            schema = self.arguments_model.model_json_schema(by_alias=True)
        stripped = _strip_titles(schema)
        assert isinstance(stripped, dict)
        return stripped


def load_tool(ref: str, *, search_path: Path | None = None) -> LoadedTool:
    """Import the function named by ``ref`` and build the model of its arguments.

    Args:
        ref: ``package.module:function``.
        search_path: a folder to import the module from when it is not importable otherwise
            (the suite's folder: a ``tools.py`` beside the suite needs no ``PYTHONPATH``).

    Raises:
        ToolSpecError: the ref is malformed, cannot be imported, is not a function, or has a
            parameter that cannot be described in JSON schema.
    """
    if not _REF_PATTERN.match(ref):
        raise ToolSpecError("not of the form 'package.module:function'", location=ref)
    module_name, _, attribute_path = ref.partition(":")
    try:
        with _on_import_path(search_path):
            target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        beside = f" (nor in {search_path})" if search_path is not None else ""
        raise ToolSpecError(f"module not found: {error}{beside}", location=ref) from error
    except Exception as error:
        raise ToolSpecError(
            f"importing {module_name} failed: {type(error).__name__}: {error}", location=ref
        ) from error
    owner = module_name
    for part in attribute_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as error:
            raise ToolSpecError(
                f"{part!r} not found in {owner}{_did_you_mean(part, target)}", location=ref
            ) from error
        owner = f"{owner}.{part}"
    if inspect.isclass(target) or not callable(target):
        kind = "a class" if inspect.isclass(target) else type(target).__name__
        raise ToolSpecError(f"is {kind}, not a function", location=ref)
    if inspect.isasyncgenfunction(target) or inspect.isgeneratorfunction(target):
        raise ToolSpecError("is a generator; a tool must return one result", location=ref)
    try:
        signature = inspect.signature(target)
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception as error:
        raise ToolSpecError(
            f"cannot read its signature: {type(error).__name__}: {error}", location=ref
        ) from error

    summary, arg_docs = _parse_docstring(inspect.getdoc(target) or "")
    definitions: dict[str, Any] = {}
    fields: list[tuple[str, str, bool]] = []
    for index, parameter in enumerate(signature.parameters.values()):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ToolSpecError(
                f"parameter {parameter.name!r}: *args/**kwargs cannot be described to the model",
                location=ref,
            )
        if parameter.name not in hints:
            raise ToolSpecError(f"parameter {parameter.name!r} has no type hint", location=ref)
        # Fields get neutral names and the parameter name as alias, so a parameter called
        # ``json``, ``model_config`` or ``_id`` cannot collide with BaseModel's own attributes.
        field_name = f"p{index}"
        default = ... if parameter.default is parameter.empty else parameter.default
        info = Field(default, alias=parameter.name, description=arg_docs.get(parameter.name))
        definitions[field_name] = (hints[parameter.name], info)
        fields.append((parameter.name, field_name, parameter.kind == parameter.POSITIONAL_ONLY))

    try:
        model = create_model(
            f"{attribute_path.replace('.', '_')}_arguments",
            __config__=ConfigDict(extra="forbid", protected_namespaces=(), validate_by_name=False),
            **definitions,
        )
    except Exception as error:
        raise ToolSpecError(
            f"cannot build an arguments model: {_summary(error)}", location=ref
        ) from error
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return LoadedTool(
        ref=ref,
        function=target,
        is_async=inspect.iscoroutinefunction(target),
        arguments_model=model,
        fields=tuple(fields),
        description=summary,
    )


def build_tool_spec(
    ref: str,
    *,
    name: str | None = None,
    timeout_s: float | None = None,
    runtime_env: Mapping[str, Any] | None = None,
    search_path: Path | None = None,
) -> ToolSpec:
    """Describe the function at ``ref`` as a tool the model can call.

    The function is imported here, in the loading process, even when it has a ``runtime_env``:
    a tool whose dependencies exist only in its runtime_env should import them inside the
    function, so that its signature can be read at load time.

    Args:
        ref: ``package.module:function``; the function may be sync or async.
        name: the name the model sees; the function's own name by default.
        timeout_s: seconds a call may run; the pool's default when None.
        runtime_env: a Ray runtime_env for the runners of this tool.
        search_path: a folder (the suite's) the module may be imported from. A module found
            there is added to the tool's ``runtime_env`` as ``py_modules``, so the runners
            import the same file on any node of the cluster.

    Raises:
        ToolSpecError: anything about the reference or its signature that prevents calling it
            safely (see :func:`load_tool`), or an invalid name, timeout or runtime_env.
    """
    loaded = load_tool(ref, search_path=search_path)
    shipped = _module_inside(ref, search_path)
    if shipped is not None:
        runtime_env = _with_py_module(runtime_env, shipped)
    try:
        parameters = loaded.json_schema()
    except Exception as error:
        raise ToolSpecError(
            f"its arguments cannot be described in JSON schema: {_summary(error)}",
            location=ref,
        ) from error
    tool_name = name if name is not None else getattr(loaded.function, "__name__", "")
    try:
        return ToolSpec(
            name=tool_name,
            ref=ref,
            description=loaded.description,
            parameters=parameters,
            timeout_s=timeout_s,
            is_async=loaded.is_async,
            runtime_env=None if runtime_env is None else dict(runtime_env),
        )
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc']))}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        raise ToolSpecError(f"invalid tool spec: {problems}", location=ref) from error


def tool_spec_from_entry(
    entry: str | Mapping[str, Any], *, search_path: Path | None = None
) -> ToolSpec:
    """A tool as written in a suite or agent file: a ref, or a mapping with more.

    A mapping has ``ref`` and optionally ``name``, ``timeout_s`` and ``runtime_env``; any other
    key is an error rather than silently ignored (a misspelt ``timeout`` would otherwise leave
    a tool without the limit its author meant).

    ``search_path`` is the folder of the file the entry is written in (see
    :func:`build_tool_spec`).

    Raises:
        ToolSpecError: the entry or the tool it names is invalid.
    """
    if isinstance(entry, str):
        return build_tool_spec(entry, search_path=search_path)
    ref = entry.get("ref")
    if not isinstance(ref, str):
        raise ToolSpecError("a tool entry needs 'ref': 'package.module:function'")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ToolSpecError(
            f"unknown tool field(s) {unknown}; allowed: {sorted(_ENTRY_KEYS)}", location=ref
        )
    runtime_env = entry.get("runtime_env")
    if runtime_env is not None and not isinstance(runtime_env, Mapping):
        raise ToolSpecError("runtime_env must be a mapping", location=ref)
    return build_tool_spec(
        ref,
        name=entry.get("name"),
        timeout_s=entry.get("timeout_s"),
        runtime_env=runtime_env,
        search_path=search_path,
    )


@contextmanager
def _on_import_path(folder: Path | None) -> Iterator[None]:
    # Last on the path, and only while importing: the folder never shadows an installed module,
    # and nothing else in the process starts importing from it.
    entry = None if folder is None else str(folder)
    if entry is None or entry in sys.path:
        yield
        return
    sys.path.append(entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _module_inside(ref: str, folder: Path | None) -> Path | None:
    """The file or package folder to ship for ``ref``'s module if it was imported from
    ``folder``; None when it comes from anywhere else (installed, or the working directory)."""
    if folder is None:
        return None
    top_name = ref.partition(":")[0].split(".")[0]
    if top_name == "voxray":
        return None  # installed wherever the runners are
    top = sys.modules.get(top_name)
    origin = getattr(top, "__file__", None)
    if origin is None:
        return None
    path = Path(origin).resolve()
    if path.name == "__init__.py":
        path = path.parent
    return path if path.parent == folder.resolve() else None


def _with_py_module(runtime_env: Mapping[str, Any] | None, module: Path) -> dict[str, Any]:
    merged = dict(runtime_env or {})
    if "working_dir" in merged:
        return merged  # the user ships their folder themselves
    modules = list(merged.get("py_modules") or [])
    if str(module) not in modules:
        modules.append(str(module))
    merged["py_modules"] = modules
    return merged


def _did_you_mean(name: str, owner: Any) -> str:
    candidates = [n for n in dir(owner) if not n.startswith("_")]
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if close:
        return f"; did you mean {' or '.join(repr(c) for c in close)}?"
    functions = [n for n in candidates if inspect.isfunction(getattr(owner, n, None))]
    return f"; it has: {', '.join(functions[:10])}" if functions else ""


def _summary(error: BaseException) -> str:
    # pydantic's messages run to several lines with hints and links; the first names the cause.
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its summary and per-argument descriptions."""
    summary: list[str] = []
    arg_docs: dict[str, str] = {}
    section: str | None = None
    entry_indent: int | None = None
    current: str | None = None
    for line in doc.splitlines():
        header = _SECTION.match(line)
        if header:
            section, entry_indent, current = header.group(1), None, None
            continue
        if section is None:
            summary.append(line)
            continue
        if section not in _ARG_SECTIONS or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if entry_indent is None:
            entry_indent = indent
        entry = _ARG_LINE.match(line.strip()) if indent == entry_indent else None
        if entry:
            current = entry.group(1)
            arg_docs[current] = entry.group(2).strip()
        elif current is not None and indent > entry_indent:
            arg_docs[current] = f"{arg_docs[current]} {line.strip()}".strip()
    return "\n".join(summary).strip(), arg_docs


def _strip_titles(node: Any) -> Any:
    # pydantic titles every model and property; they only cost tokens in the model's context.
    # A property *named* "title" maps to a dict, the keyword maps to a string, hence the check.
    if isinstance(node, dict):
        return {
            key: value if key in _DATA_KEYS else _strip_titles(value)
            for key, value in node.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_strip_titles(item) for item in node]
    return node
