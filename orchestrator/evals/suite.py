"""Eval suites: the YAML file behind ``voxray eval``, its models, and loading it with clear errors.

A suite names scenarios; each scenario is an agent configuration, the user's turns, the
simulator's scripted brain and what the conversation is expected to show::

    name: smoke
    backend: sim
    defaults:
      agent: {voice: ara}
    scenarios:
      - name: weather
        agent:
          tools: [orchestrator.examples.tools:get_weather]
        turns:
          - say: What is the weather in Paris?
        expect:
          tools_called: [{name: get_weather, arguments: {city: Paris}}]

:func:`load_suite` turns every problem with a file (unreadable, bad YAML, an invalid value, an
unknown key, a missing WAV, a tool that cannot be imported) into one single-line
:class:`~actors.errors.ConfigError` naming the file, the scenario and the field.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from actors.conversation.agent import AgentConfig
from actors.conversation.script import (
    AudioTurn,
    SayTurn,
    ScenarioScript,
    TextTurn,
    UserTurn,
    WaitTurn,
)
from actors.errors import ConfigError
from actors.simulator.rules import BrainScript

__all__ = [
    "Expectations",
    "ScenarioDefaults",
    "ScenarioSpec",
    "Suite",
    "ToolExpectation",
    "load_suite",
    "select",
    "with_overrides",
]

_BASE_DIR = "suite_dir"
"""Validation-context key: the directory relative audio paths are resolved against."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class _FieldProblem(ValueError):
    """A validator's complaint about a field below the one it validates.

    pydantic places a validator's error at the validated field; ``path`` lets the error name the
    exact nested key (``expect.tools_called[0].name``) instead.
    """

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(pattern: str, path: tuple[str | int, ...]) -> None:
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise _FieldProblem(path, f"{pattern!r} is not a valid regex: {error}") from error


class ToolExpectation(_Model):
    """A function call the agent must make (at least one call must satisfy every condition)."""

    name: str = Field(min_length=1, description="Function name, as the model calls it.")
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="Each key given must equal the call's parsed JSON argument of that name.",
    )
    arguments_match: dict[str, str] = Field(
        default_factory=dict,
        description="Regex per argument, searched case-insensitively in its value (as text).",
    )
    ok: bool | None = Field(
        None, description="Whether the call must have succeeded (true) or failed (false)."
    )

    @model_validator(mode="before")
    @classmethod
    def _name_only(cls, value: Any) -> Any:
        # `tools_called: [get_weather]` is the common case: any call of that function.
        return {"name": value} if isinstance(value, str) else value

    @field_validator("arguments_match")
    @classmethod
    def _regexes_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        for key, pattern in patterns.items():
            _check_regex(pattern, (key,))
        return patterns


class Expectations(_Model):
    """What a scenario's conversation must show to pass."""

    tools_called: list[ToolExpectation] = Field(
        default_factory=list, description="Calls that must have been made."
    )
    tools_not_called: list[str] = Field(
        default_factory=list, description="Functions that must not have been called."
    )
    transcript_contains: list[str] = Field(
        default_factory=list,
        description="Case-insensitive substrings of the agent's whole transcript.",
    )
    transcript_matches: list[str] = Field(
        default_factory=list,
        description="Regexes searched case-insensitively in the agent's whole transcript.",
    )
    transcript_not_contains: list[str] = Field(
        default_factory=list,
        description="Case-insensitive substrings the agent's transcript must not contain.",
    )
    max_latency_ms: float | None = Field(
        None, gt=0, description="Budget for every turn's response latency (end of speech to audio)."
    )
    min_turns_answered: int | None = Field(
        None,
        ge=0,
        description="Turns that must get an answer; by default every turn but `wait_ms` ones.",
    )

    @field_validator(
        "tools_not_called",
        "transcript_contains",
        "transcript_matches",
        "transcript_not_contains",
        mode="before",
    )
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        # `transcript_contains: Paris` reads naturally in YAML; accept it as a list of one.
        return [value] if isinstance(value, str) else value

    @field_validator("transcript_matches")
    @classmethod
    def _regexes_compile(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            _check_regex(pattern, (index,))
        return patterns


def _turn_tag(value: Any) -> str | None:
    """Which kind of turn a YAML mapping (or a turn object) is, by its one distinguishing key."""
    if isinstance(value, Mapping):
        found = [tag for key, tag in _TURN_KEYS.items() if key in value]
        return found[0] if len(found) == 1 else None
    for tag, model in _TURN_TAGS.items():
        if isinstance(value, model):
            return tag
    return None


_TURN_TAGS: dict[str, type[BaseModel]] = {
    "SayTurn": SayTurn,
    "AudioTurn": AudioTurn,
    "TextTurn": TextTurn,
    "WaitTurn": WaitTurn,
}
_TURN_KEYS = {"say": "SayTurn", "audio": "AudioTurn", "text": "TextTurn", "wait_ms": "WaitTurn"}

# A plain union would report every member's errors for one bad turn; picking the member from
# its key gives one error that names the real problem.
_TaggedTurn = Annotated[
    Annotated[SayTurn, Tag("SayTurn")]
    | Annotated[AudioTurn, Tag("AudioTurn")]
    | Annotated[TextTurn, Tag("TextTurn")]
    | Annotated[WaitTurn, Tag("WaitTurn")],
    Discriminator(
        _turn_tag,
        custom_error_type="turn_kind",
        custom_error_message="a turn needs exactly one of `say`, `audio`, `text` or `wait_ms`",
    ),
]


class ScenarioSpec(_Model):
    """One scripted conversation: the agent, what the user does, and what must happen."""

    name: str = Field(
        description="Unique in the suite; names result files (letters, digits, -, _)."
    )
    description: str = Field("", description="What the scenario checks, for humans.")
    agent: AgentConfig = Field(
        default_factory=AgentConfig, description="The agent, merged over `defaults.agent`."
    )
    turns: tuple[_TaggedTurn, ...] = Field(min_length=1, description="The user's turns, in order.")
    sim: BrainScript = Field(
        default_factory=BrainScript, description="The simulator's scripted brain (backend sim)."
    )
    expect: Expectations = Field(default_factory=Expectations, description="Pass conditions.")
    reply_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait for the agent to finish answering one turn."
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not _SAFE_NAME.match(name):
            raise ValueError(
                f"{name!r} may only use letters, digits, '-' and '_' (it names result files)"
            )
        return name

    @field_validator("turns")
    @classmethod
    def _resolve_audio(cls, turns: tuple[UserTurn, ...], info: ValidationInfo) -> Any:
        # Resolved here, against the suite file's directory, so the actor receives an absolute
        # path and a missing file is a load error rather than a failed session.
        context = info.context if isinstance(info.context, Mapping) else {}
        base = Path(context.get(_BASE_DIR, "."))
        resolved: list[UserTurn] = []
        for index, turn in enumerate(turns):
            if isinstance(turn, AudioTurn):
                path = turn.audio if turn.audio.is_absolute() else base / turn.audio
                if not path.is_file():
                    raise _FieldProblem((index, "audio"), f"audio file not found: {path}")
                resolved.append(AudioTurn(audio=path.resolve()))
            else:
                resolved.append(turn)
        return tuple(resolved)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        declared = {tool.name for tool in self.agent.tools}
        for index, expected in enumerate(self.expect.tools_called):
            if expected.name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                raise _FieldProblem(
                    ("expect", "tools_called", index, "name"),
                    f"{expected.name!r} is not one of the agent's tools ({known})",
                )
        wanted = self.expect.min_turns_answered
        if wanted is not None and wanted > len(self.turns):
            raise _FieldProblem(
                ("expect", "min_turns_answered"),
                f"{wanted} is more than the scenario's {len(self.turns)} turns",
            )
        return self

    def script(self) -> ScenarioScript:
        """The user's side of the conversation, as a session actor plays it."""
        return ScenarioScript(turns=self.turns, reply_timeout_s=self.reply_timeout_s)


class ScenarioDefaults(_Model):
    """Settings every scenario starts from; a scenario's own keys win."""

    agent: dict[str, Any] = Field(
        default_factory=dict,
        description="Agent keys deep-merged under each scenario's `agent` (mappings key by key).",
    )
    sim: BrainScript = Field(
        default_factory=BrainScript,
        description="Brain keys merged under each scenario's `sim` (a scenario's `rules` replace).",
    )
    reply_timeout_s: float = Field(30.0, gt=0, description="Default of `reply_timeout_s`.")

    @field_validator("agent")
    @classmethod
    def _valid_agent(cls, agent: dict[str, Any]) -> dict[str, Any]:
        # Checked on its own so that a bad default is reported once, at `defaults.agent`, rather
        # than as a problem of whichever scenario happens to come first.
        try:
            AgentConfig.model_validate(agent)
        except ValidationError as error:
            first = error.errors()[0]
            raise _FieldProblem(tuple(first["loc"]), _message(first, AgentConfig)) from None
        return agent


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            merged[key] = _deep_merge(below, value)
        else:
            merged[key] = value
    return merged


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    return value if isinstance(value, Mapping) else None


class Suite(_Model):
    """A set of scenarios run together, with how to run them."""

    name: str = Field(min_length=1, description="Names the run directory and the JUnit suite.")
    description: str = Field("", description="What the suite is for, for humans.")
    backend: Literal["sim", "xai"] = Field(
        "sim", description="`sim`: the built-in simulator; `xai`: the real service (XAI_API_KEY)."
    )
    concurrency: int = Field(4, ge=1, description="Conversations running at the same time.")
    repeat: int = Field(1, ge=1, description="Runs of each scenario.")
    pass_threshold: float = Field(
        1.0, ge=0, le=1, description="A scenario passes when its pass rate over repeats is ≥ this."
    )
    output_dir: Path = Field(Path("runs"), description="Where run directories are created.")
    defaults: ScenarioDefaults = Field(
        default_factory=ScenarioDefaults, description="Merged under every scenario."
    )
    scenarios: list[ScenarioSpec] = Field(min_length=1, description="Unique names.")

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        # Merged before validation, as raw mappings: a scenario may override one nested key
        # (agent.turn_detection.silence_duration_ms) and keep the rest of the default.
        if not isinstance(data, Mapping) or not isinstance(data.get("scenarios"), list):
            return data
        defaults = _as_mapping(data.get("defaults")) or {}
        merged: list[Any] = []
        for entry in data["scenarios"]:
            if not isinstance(entry, Mapping):
                merged.append(entry)  # left for validation to report
                continue
            scenario = dict(entry)
            for key in ("agent", "sim"):
                base = _as_mapping(defaults.get(key))
                own = scenario.get(key)
                if base and (own is None or isinstance(own, Mapping)):
                    scenario[key] = _deep_merge(base, own or {})
            if "reply_timeout_s" in defaults:
                scenario.setdefault("reply_timeout_s", defaults["reply_timeout_s"])
            merged.append(scenario)
        return {**data, "scenarios": merged}

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        first_use: dict[str, int] = {}
        for index, scenario in enumerate(self.scenarios):
            if scenario.name in first_use:
                raise _FieldProblem(
                    ("scenarios", index, "name"),
                    f"duplicate scenario name {scenario.name!r}; "
                    f"scenarios[{first_use[scenario.name]}] already uses it",
                )
            first_use[scenario.name] = index
        return self


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, typing.Hashable):
                continue  # the base class reports unhashable keys itself
            if key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"key {key!r} appears twice in this mapping",
                    problem_mark=key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_suite(path: Path) -> Suite:
    """Read, validate and resolve the suite file at ``path``.

    Relative ``audio:`` paths are resolved against the file's directory and must exist.

    Raises:
        ConfigError: one single-line error naming the file, the scenario and the field.
    """
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ConfigError("suite file not found", location=where) from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the suite file: {error}", location=where) from error
    try:
        # A SafeLoader subclass: no arbitrary objects, only duplicate keys rejected.
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = error.problem or error.context or "unreadable YAML"
        context = error.context_mark
        if error.problem and error.context and context and mark and context.line != mark.line:
            # The problem is often noticed a line after its cause (an unclosed bracket).
            problem += f" ({error.context} at line {context.line + 1}, column {context.column + 1})"
        raise ConfigError(f"YAML syntax error: {problem}", location=f"{where}: {at}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"YAML syntax error: {error}", location=where) from error
    if not isinstance(raw, dict):
        raise ConfigError(
            f"expected a mapping with `name` and `scenarios`, got {type(raw).__name__}",
            location=where,
        )
    try:
        return Suite.model_validate(raw, context={_BASE_DIR: path.parent})
    except ValidationError as error:
        raise _config_error(error, raw, where) from error


def select(suite: Suite, filter: str | None) -> list[ScenarioSpec]:
    """The scenarios whose names match ``filter``, in suite order.

    ``filter`` is a comma-separated list of terms; a term with ``*``, ``?`` or ``[`` is a glob
    matched against the whole name, any other term a substring. ``None`` or ``""`` selects all.
    An empty list means nothing matched.
    """
    terms = [term.strip() for term in (filter or "").split(",") if term.strip()]
    if not terms:
        return list(suite.scenarios)

    def matches(name: str) -> bool:
        return any(
            fnmatchcase(name, term) if any(c in term for c in "*?[") else term in name
            for term in terms
        )

    return [scenario for scenario in suite.scenarios if matches(scenario.name)]


def with_overrides(
    suite: Suite,
    *,
    backend: Literal["sim", "xai"] | None = None,
    concurrency: int | None = None,
    repeat: int | None = None,
    output_dir: Path | None = None,
) -> Suite:
    """A copy of ``suite`` with the given run settings replaced (e.g. from CLI flags).

    Raises:
        ConfigError: an override is out of range, naming the override.
    """
    updates = {
        key: value
        for key, value in {
            "backend": backend,
            "concurrency": concurrency,
            "repeat": repeat,
            "output_dir": output_dir,
        }.items()
        if value is not None
    }
    if not updates:
        return suite
    # Validated as a whole model so the overrides meet the same constraints as the file; the
    # scenarios are already model instances and are not validated (or resolved) again.
    try:
        return Suite.model_validate({**dict(suite), **updates})
    except ValidationError as error:
        first = error.errors()[0]
        raise ConfigError(_message(first), location=f"override {_dotted(first['loc'])}") from error


def _config_error(error: ValidationError, raw: Mapping[str, Any], where: str) -> ConfigError:
    problems = error.errors()
    # pydantic also reports a container as too short when its only item failed; the item's own
    # error is the one that names the problem, so errors at a prefix of another's place go.
    locs = [tuple(problem["loc"]) for problem in problems]
    problems = [
        problem
        for problem in problems
        if not any(
            len(other) > len(problem["loc"]) and other[: len(problem["loc"])] == problem["loc"]
            for other in locs
        )
    ] or problems
    first = problems[0]
    loc = _full_loc(first)
    # One line whatever the source: some validators quote multi-line texts.
    message = " ".join(_message(first).split())
    if len(problems) > 1:
        more = len(problems) - 1
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(message, location=f"{where}: {_where(loc, raw)}")


def _full_loc(problem: Any) -> tuple[str | int, ...]:
    """Where a problem is, including a :class:`_FieldProblem`'s path below the validated field.

    Turn tags stay in: they tell :func:`_allowed_keys` which kind of turn it is.
    """
    loc = tuple(problem["loc"])
    error = problem.get("ctx", {}).get("error")
    return loc + error.path if isinstance(error, _FieldProblem) else loc


def _where(loc: tuple[str | int, ...], raw: Mapping[str, Any]) -> str:
    if len(loc) >= 2 and loc[0] == "scenarios" and isinstance(loc[1], int):
        index = loc[1]
        scenarios = raw.get("scenarios")
        entry = scenarios[index] if isinstance(scenarios, list) and index < len(scenarios) else None
        name = entry.get("name") if isinstance(entry, Mapping) else None
        head = f"scenario {name!r} (scenarios[{index}])" if isinstance(name, str) else ""
        head = head or f"scenarios[{index}]"
        rest = _dotted(loc[2:])
        return f"{head} → {rest}" if rest else head
    return _dotted(loc) or "top level"


def _dotted(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in _TURN_TAGS:
            text += f".{part}" if text else str(part)
    return text


def _message(problem: Any, root: type[BaseModel] | None = None) -> str:
    kind = problem["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return _unknown_key(_full_loc(problem), root or Suite)
    error = problem.get("ctx", {}).get("error")
    if kind in ("value_error", "assertion_error") and error is not None:
        return str(error)
    text = str(problem["msg"])
    text = text[:1].lower() + text[1:]
    if kind == "turn_kind":
        return text
    shown = repr(problem.get("input"))
    return f"{text} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"


def _unknown_key(loc: tuple[str | int, ...], root: type[BaseModel]) -> str:
    key = str(loc[-1]) if loc else "?"
    allowed = _allowed_keys(root, loc[:-1])
    if not allowed:
        return f"unknown key {key!r}"
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}"


def _allowed_keys(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str] | None:
    """The keys of the model found by following ``loc`` down from ``root``."""
    node: Any = root
    for part in loc:
        node = _unwrap(node)
        if part in _TURN_TAGS:
            node = _TURN_TAGS[str(part)]
        elif isinstance(part, int):
            args = typing.get_args(node)
            node = args[0] if args else None
        elif isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields:
            node = node.model_fields[part].annotation
        else:
            return None
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return None


def _unwrap(node: Any) -> Any:
    while True:
        origin = typing.get_origin(node)
        if origin is Annotated:
            node = typing.get_args(node)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(node) if arg is not type(None)]
            if len(members) != 1:
                return node
            node = members[0]
        else:
            return node
