"""Agent files: the YAML behind ``voxray serve``, its models, and loading it with clear errors.

An agent file names one or more agents; each is the same agent configuration a suite scenario
uses (voice, instructions, tools, VAD, transcription, search tools, ``replace``), plus an
optional ``greeting`` (said first, verbatim) and which calls reach it::

    backend: sim                     # sim (offline, the default) or xai (XAI_API_KEY)
    defaults:
      agent: {voice: ara}
    agents:
      - name: support
        greeting: Thanks for calling. How can I help?
        agent:
          instructions: You are the support line of Example Corp. Keep answers short.
          tools: [voxray.examples.tools:get_weather]
        routes:
          ingresses: [twilio, browser]     # empty or absent: every ingress
          numbers: ["+15551234567"]        # called numbers routed here (Twilio `To`, SIP To)
          default: true                    # the agent when nothing else picks one
        sim: {default_reply: echo}         # the simulator's brain (backend sim only)

:func:`load_agent_file` turns every problem (unreadable, bad YAML, an unknown key, a tool that
cannot be imported, two defaults) into one :class:`~voxray.actors.errors.ConfigError` naming the
file, the agent and the field, exactly as suites do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.errors import ConfigError
from voxray.actors.gateway.agents import AgentRoutes, HostedAgent
from voxray.actors.simulator.rules import BrainScript
from voxray.evals.suite_errors import FieldProblem, config_error, problem_message
from voxray.evals.yaml_source import parse_yaml

__all__ = ["AgentEntry", "AgentFile", "load_agent_file"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentEntry(_Model):
    """One named agent of the file."""

    name: str = Field(description="Unique; callers ask for it (letters, digits, -, _).")
    description: str = Field("", description="What the agent is for, for humans.")
    agent: AgentConfig = Field(
        default_factory=AgentConfig, description="The session configuration, as in suites."
    )
    greeting: str | None = Field(
        None, min_length=1, max_length=2000, description="Said first, verbatim."
    )
    routes: AgentRoutes = Field(default_factory=AgentRoutes, description="Which calls reach it.")
    sim: BrainScript = Field(
        default_factory=BrainScript, description="The simulator's scripted brain (backend sim)."
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not _SAFE_NAME.match(name):
            raise ValueError(f"{name!r} may only use letters, digits, '-' and '_'")
        return name

    def hosted(self) -> HostedAgent:
        """The runtime form the gateway receives."""
        return HostedAgent(
            name=self.name, agent=self.agent, greeting=self.greeting, routes=self.routes
        )


class AgentDefaults(_Model):
    """Agent keys every agent starts from; an agent's own keys win."""

    agent: dict[str, Any] = Field(default_factory=dict, description="Deep-merged under `agent`.")

    @field_validator("agent")
    @classmethod
    def _valid_agent(cls, agent: dict[str, Any]) -> dict[str, Any]:
        try:
            AgentConfig.model_validate(agent)
        except ValidationError as error:
            first = error.errors()[0]
            raise FieldProblem(tuple(first["loc"]), problem_message(first, AgentConfig)) from None
        return agent


class AgentFile(_Model):
    """The agents ``voxray serve`` hosts."""

    backend: Literal["sim", "xai"] = Field(
        "sim", description="`sim`: the built-in simulator; `xai`: the real service (XAI_API_KEY)."
    )
    defaults: AgentDefaults = Field(default_factory=AgentDefaults, description="Merged under all.")
    agents: list[AgentEntry] = Field(min_length=1, description="Unique names.")

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("agents"), list):
            return data
        defaults = data.get("defaults")
        base = defaults.get("agent") if isinstance(defaults, dict) else None
        if not isinstance(base, dict) or not base:
            return data
        merged = []
        for entry in data["agents"]:
            own = entry.get("agent", {}) if isinstance(entry, dict) else None
            if isinstance(own, dict):
                merged.append({**entry, "agent": _deep_merge(base, own or {})})
            else:
                merged.append(entry)
        return {**data, "agents": merged}

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: dict[str, int] = {}
        numbers: dict[str, str] = {}
        defaults: list[str] = []
        for index, entry in enumerate(self.agents):
            if entry.name in seen:
                raise FieldProblem(
                    ("agents", index, "name"),
                    f"duplicate agent name {entry.name!r}; agents[{seen[entry.name]}] uses it",
                )
            seen[entry.name] = index
            for position, number in enumerate(entry.routes.numbers):
                if number in numbers:
                    raise FieldProblem(
                        ("agents", index, "routes", "numbers", position),
                        f"{number} already routes to agent {numbers[number]!r}",
                    )
                numbers[number] = entry.name
            if entry.routes.default:
                defaults.append(entry.name)
        if len(defaults) > 1:
            index = seen[defaults[1]]
            raise FieldProblem(
                ("agents", index, "routes", "default"),
                f"only one agent may be the default; {defaults[0]!r} is already",
            )
        return self

    def hosted(self) -> list[HostedAgent]:
        """Every agent in the gateway's form, in file order."""
        return [entry.hosted() for entry in self.agents]


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        merged[key] = (
            _deep_merge(below, value)
            if isinstance(below, dict) and isinstance(value, dict)
            else value
        )
    return merged


def load_agent_file(path: Path) -> AgentFile:
    """Read and validate the agent file at ``path``.

    Raises:
        ConfigError: one single-line error naming the file, the agent and the field.
    """
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ConfigError("agent file not found", location=where) from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the agent file: {error}", location=where) from error
    raw = parse_yaml(text, where)
    if not isinstance(raw, dict):
        raise ConfigError(
            f"expected a mapping with `agents`, got {type(raw).__name__}", location=where
        )
    try:
        return AgentFile.model_validate(raw)
    except ValidationError as error:
        raise config_error(error, raw, where, AgentFile) from error
