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
          tools: [voxray.examples.tools:get_weather]
        turns:
          - say: What is the weather in Paris?
        expect:
          tools_called: [{name: get_weather, arguments: {city: Paris}}]

Turns are ``say``, ``audio``, ``text``, ``wait_ms`` or ``barge_in`` (:mod:`.turns`); the
``expect`` keys are described in :mod:`.expectations`.

:func:`load_suite` turns every problem with a file (unreadable, bad YAML, an invalid value, an
unknown key, a missing WAV, a tool that cannot be imported, a misplaced ``barge_in``, an
expectation no turn can exercise) into one single-line :class:`~voxray.actors.errors.ConfigError`
naming the file, the scenario and the field (:mod:`.suite_errors`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from os import PathLike
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from voxray.actors.audio.conditions import CLEAN, CallerCondition
from voxray.actors.audio.wav import read_wav
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.script import (
    AudioTurn,
    BackchannelTurn,
    BargeInTurn,
    ScenarioScript,
    UserTurn,
)
from voxray.actors.errors import AudioError, ConfigError
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.tools.spec import TOOL_SEARCH_PATH
from voxray.evals.caller import CallerScenario
from voxray.evals.conditions import cell_name, known_conditions, resolve_condition, split_cell
from voxray.evals.expectations import Expectations, ToolExpectation
from voxray.evals.suite_errors import FieldProblem, config_error, dotted, problem_message
from voxray.evals.turns import TaggedTurn, spoken_text, turn_order_problem
from voxray.evals.yaml_source import parse_yaml
from voxray.examples import packaged_suite, suite_names

__all__ = [
    "Expectations",
    "ReportOptions",
    "ScenarioDefaults",
    "ScenarioSpec",
    "Suite",
    "ToolExpectation",
    "load_suite",
    "select",
    "with_conditions",
    "with_overrides",
]

_BASE_DIR = "suite_dir"
"""Validation-context key: the directory relative audio paths are resolved against."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioSpec(_Model):
    """One scripted conversation: the agent, what the user does, and what must happen."""

    name: str = Field(
        description="Unique in the suite; names result files (letters, digits, -, _)."
    )
    description: str = Field("", description="What the scenario checks, for humans.")
    agent: AgentConfig = Field(
        default_factory=AgentConfig, description="The agent, merged over `defaults.agent`."
    )
    turns: tuple[TaggedTurn, ...] = Field(
        (), description="The user's turns, in order (or a `caller` instead)."
    )
    caller: CallerScenario | None = Field(
        None, description="A simulated caller with a goal plays the user instead of `turns`."
    )
    sim: BrainScript = Field(
        default_factory=BrainScript, description="The simulator's scripted brain (backend sim)."
    )
    expect: Expectations = Field(default_factory=Expectations, description="Pass conditions.")
    reply_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait for the agent to finish answering one turn."
    )
    condition: CallerCondition | None = Field(
        None,
        description="How the caller sounds: a preset or suite condition name, or inline "
        "(voxray.actors.audio.conditions); default `defaults.condition`, else clean.",
    )

    @field_validator("condition", mode="before")
    @classmethod
    def _condition_by_name(cls, value: Any) -> Any:
        # A name the suite did not define itself (it substitutes its own) must be a preset.
        return resolve_condition(value) if isinstance(value, str) else value

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
                    raise FieldProblem((index, "audio"), f"audio file not found: {path}")
                try:
                    read_wav(path)  # an unreadable file fails the load, not a run after Ray starts
                except AudioError as error:
                    raise FieldProblem((index, "audio"), str(error)) from None
                resolved.append(AudioTurn(audio=path.resolve()))
            else:
                resolved.append(turn)
        misplaced = turn_order_problem(resolved)
        if misplaced is not None:
            index, why = misplaced
            key = "backchannel" if isinstance(resolved[index], BackchannelTurn) else "barge_in"
            raise FieldProblem((index, key), why)
        return tuple(resolved)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.turns and self.caller is None:
            raise FieldProblem(("turns",), "a scenario needs `turns` or a `caller`")
        if self.turns and self.caller is not None:
            raise FieldProblem(("caller",), "a scenario has `turns` or a `caller`, not both")
        declared = {tool.name for tool in self.agent.tools}
        for index, expected in enumerate(self.expect.tools_called):
            if expected.name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                raise FieldProblem(
                    ("expect", "tools_called", index, "name"),
                    f"{expected.name!r} is not one of the agent's tools ({known})",
                )
        wanted = self.expect.min_turns_answered
        if wanted is not None and wanted > len(self.turns):
            raise FieldProblem(
                ("expect", "min_turns_answered"),
                f"{wanted} is more than the scenario's {len(self.turns)} turns",
            )
        # An expectation that no turn can ever exercise would pass vacuously: refuse it.
        if self.expect.max_barge_in_stop_ms is not None and not any(
            isinstance(turn, BargeInTurn) for turn in self.turns
        ):
            raise FieldProblem(
                ("expect", "max_barge_in_stop_ms"), "the scenario has no `barge_in` turn to time"
            )
        if self.expect.max_user_wer is not None and all(
            spoken_text(turn) is None for turn in self.turns
        ):
            raise FieldProblem(
                ("expect", "max_user_wer"),
                "the scenario has no `say` or `barge_in` turn whose text is the reference",
            )
        return self

    def sim_script(self) -> BrainScript:
        """The simulator's brain for this scenario: ``sim``, its VAD following the noise floor
        when the caller condition adds background noise."""
        noisy = self.condition is not None and self.condition.noise is not None
        return self.sim.model_copy(update={"track_noise": noisy}) if noisy else self.sim

    def script(self, seed: int = 0) -> ScenarioScript:
        """The user's side of the conversation, as a session actor plays it.

        ``seed`` varies the condition's noise and losses between repeats (each reproducible).
        """
        condition = self.condition
        if condition is not None and condition.name == CLEAN:
            condition = None  # nothing to do in the actor
        return ScenarioScript(
            turns=self.turns,
            caller=self.caller.spec() if self.caller is not None else None,
            reply_timeout_s=self.reply_timeout_s,
            condition=condition,
            seed=seed,
        )


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
    condition: str | None = Field(
        None, description="Condition of every scenario that names none (a preset or suite name)."
    )

    @field_validator("agent")
    @classmethod
    def _valid_agent(cls, agent: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        # Checked on its own so that a bad default is reported once, at `defaults.agent`, rather
        # than as a problem of whichever scenario happens to come first.
        try:
            AgentConfig.model_validate(agent, context=info.context)
        except ValidationError as error:
            first = error.errors()[0]
            raise FieldProblem(tuple(first["loc"]), problem_message(first, AgentConfig)) from None
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


class ReportOptions(_Model):
    """How ``report.html`` is written."""

    embed_audio: bool = Field(
        False,
        description="Put the recordings inside report.html (base64 WAV, about 130 KB per "
        "second of conversation), so the page plays when uploaded alone, e.g. as a CI artifact.",
    )


class Suite(_Model):
    """A set of scenarios run together, with how to run them."""

    name: str = Field(min_length=1, description="Names the run directory and the JUnit suite.")
    description: str = Field("", description="What the suite is for, for humans.")
    backend: Literal["sim", "xai", "replay"] = Field(
        "sim",
        description="`sim`: the built-in simulator; `xai`: the real service (XAI_API_KEY); "
        "`replay`: the simulator serving each run from its recorded cassette (`cassettes`).",
    )
    cassettes: Path | None = Field(
        None,
        description="The cassettes `backend: replay` serves from: a folder of `<run key>/` "
        "cassettes as `voxray eval --record` writes them (relative to the suite file); "
        "`voxray eval --cassettes` replaces it.",
    )
    concurrency: int = Field(4, ge=1, description="Conversations running at the same time.")
    repeat: int = Field(1, ge=1, description="Runs of each scenario.")
    pass_threshold: float = Field(
        1.0, ge=0, le=1, description="A scenario passes when its pass rate over repeats is ≥ this."
    )
    output_dir: Path = Field(Path("runs"), description="Where run directories are created.")
    report: ReportOptions = Field(
        default_factory=ReportOptions, description="How report.html is written."
    )
    defaults: ScenarioDefaults = Field(
        default_factory=ScenarioDefaults, description="Merged under every scenario."
    )
    scenarios: list[ScenarioSpec] = Field(min_length=1, description="Unique names.")
    conditions: dict[str, CallerCondition] = Field(
        default_factory=dict,
        description="The suite's own named caller conditions (each key names one), beside "
        "the presets.",
    )
    matrix: list[str] = Field(
        default_factory=list,
        description="Run every scenario under each of these conditions (the ablation matrix), "
        "in place of its own `condition`; `voxray eval --conditions` replaces the list.",
    )

    @field_validator("cassettes")
    @classmethod
    def _cassettes_beside_the_suite(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get(_BASE_DIR)
        if value is None or value.is_absolute() or base is None:
            return value
        return Path(base) / value

    @model_validator(mode="before")
    @classmethod
    def _condition_names(cls, data: Any, info: ValidationInfo) -> Any:
        # Suite conditions are named after their keys, their noise files resolved against the
        # suite file, and a scenario naming one gets its definition (presets resolve later).
        if not isinstance(data, Mapping):
            return data
        context = info.context if isinstance(info.context, Mapping) else {}
        base = Path(context.get(_BASE_DIR, "."))
        own = data.get("conditions")
        named: dict[str, Any] = {}
        if isinstance(own, Mapping):
            for key, value in own.items():
                named[key] = (
                    _resolved_noise_path({**value, "name": key}, base, ("conditions", key))
                    if isinstance(value, Mapping)
                    else value
                )
            data = {**data, "conditions": named}
        defaults = _as_mapping(data.get("defaults")) or {}
        fallback = defaults.get("condition")
        if not isinstance(data.get("scenarios"), list):
            return data
        scenarios: list[Any] = []
        for index, entry in enumerate(data["scenarios"]):
            if not isinstance(entry, Mapping):
                scenarios.append(entry)  # left for validation to report
                continue
            scenario = dict(entry)
            if fallback is not None:
                scenario.setdefault("condition", fallback)
            chosen = scenario.get("condition")
            if isinstance(chosen, str) and chosen in named:
                scenario["condition"] = named[chosen]
            elif isinstance(chosen, Mapping):
                scenario["condition"] = _resolved_noise_path(
                    chosen, base, ("scenarios", index, "condition")
                )
            scenarios.append(scenario)
        return {**data, "scenarios": scenarios}

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
                raise FieldProblem(
                    ("scenarios", index, "name"),
                    f"duplicate scenario name {scenario.name!r}; "
                    f"scenarios[{first_use[scenario.name]}] already uses it",
                )
            first_use[scenario.name] = index
        return self

    @model_validator(mode="after")
    def _conditions_known(self) -> Self:
        for index, name in enumerate(self.matrix):
            try:
                resolve_condition(name, self.conditions)
            except ValueError as error:
                raise FieldProblem(("matrix", index), str(error)) from None
        if self.defaults.condition is not None:
            try:
                resolve_condition(self.defaults.condition, self.conditions)
            except ValueError as error:
                raise FieldProblem(("defaults", "condition"), str(error)) from None
        # Runs are named after their condition (`weather@phone`); the matrix multiplies them.
        # The scenarios are replaced in place: a frozen model has no other way to hold its
        # own expansion, and doing it here means every way of building a suite gets it.
        object.__setattr__(self, "scenarios", _under_conditions(self))
        return self


def _resolved_noise_path(
    condition: Mapping[str, Any], base: Path, where: tuple[str | int, ...]
) -> dict[str, Any]:
    noise = condition.get("noise")
    if not isinstance(noise, Mapping) or not isinstance(noise.get("path"), str | Path):
        return dict(condition)
    path = Path(noise["path"])
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise FieldProblem((*where, "noise", "path"), f"noise file not found: {path}")
    return {**condition, "noise": {**noise, "path": path.resolve()}}


def _under_conditions(suite: Suite) -> list[ScenarioSpec]:
    """The suite's scenarios named after their conditions, times the matrix if it has one."""
    if not suite.matrix:
        return [
            spec
            if spec.condition is None or split_cell(spec.name)[0] != spec.name
            else spec.model_copy(update={"name": cell_name(spec.name, spec.condition.name)})
            for spec in suite.scenarios
        ]
    bases: dict[str, ScenarioSpec] = {}
    for spec in suite.scenarios:  # an expanded suite is expanded again from its first copies
        bases.setdefault(split_cell(spec.name)[0], spec)
    return [
        spec.model_copy(
            update={
                "name": cell_name(base, name),
                "condition": resolve_condition(name, suite.conditions),
            }
        )
        for base, spec in bases.items()
        for name in suite.matrix
    ]


def with_conditions(suite: Suite, conditions: list[str]) -> Suite:
    """``suite`` with every scenario run under each of ``conditions`` (``--conditions``).

    Raises:
        ConfigError: a name is neither a preset nor one of the suite's conditions.
    """
    known = known_conditions(suite.conditions)
    for name in conditions:
        if name not in known:
            raise ConfigError(
                f"unknown condition {name!r}; known: {', '.join(known)}", location="--conditions"
            )
    expanded = suite.model_copy(update={"matrix": list(conditions)})
    return expanded.model_copy(update={"scenarios": _under_conditions(expanded)})


def load_suite(path: str | PathLike[str]) -> Suite:
    """Read, validate and resolve the suite file at ``path``.

    Relative ``audio:`` paths are resolved against the file's directory and must exist. A bare
    name that is no file here (``smoke``) is a packaged example suite (:mod:`voxray.examples`).

    Raises:
        ConfigError: one single-line error naming the file, the scenario and the field.
    """
    path = Path(path)
    if not path.exists():
        path = packaged_suite(str(path)) or path
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        examples = ", ".join(suite_names())
        raise ConfigError(
            f"suite file not found (packaged examples, run by name: {examples})", location=where
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the suite file: {error}", location=where) from error
    raw = parse_yaml(text, where)
    if not isinstance(raw, dict):
        raise ConfigError(
            f"expected a mapping with `name` and `scenarios`, got {type(raw).__name__}",
            location=where,
        )
    try:
        folders = {_BASE_DIR: path.parent, TOOL_SEARCH_PATH: path.parent.resolve()}
        return Suite.model_validate(raw, context=folders)
    except ValidationError as error:
        raise config_error(error, raw, where, Suite) from error


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
    backend: Literal["sim", "xai", "replay"] | None = None,
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
        raise ConfigError(
            problem_message(first, Suite), location=f"override {dotted(first['loc'])}"
        ) from error
