"""A simulated caller: a second realtime session that plays a person with a goal.

A scenario's ``caller:`` describes who calls (``persona``), what they want (``goal``), what must
be true when the call ends (``success``) and when to give up (``max_turns``,
``max_duration_s``). The caller is its own realtime session: on xAI a second voice-to-voice
session whose instructions are built here from the persona and goal; on the simulator a second
scripted session. It hangs up with its own function tool, :data:`END_CALL_TOOL`
(``end_call(outcome, reason)``), which the bridge (:mod:`.caller_bridge`) answers itself: the
call never goes to the tool pool.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from voxray.actors.conversation.agent import KNOWN_VOICES, AgentConfig
from voxray.actors.tools.spec import ToolSpec

__all__ = [
    "CALL_CONNECTED_CUE",
    "END_CALL_TOOL",
    "CallerOutcome",
    "CallerReport",
    "CallerSpec",
    "DialogueLine",
    "caller_agent",
    "caller_instructions",
    "end_call",
]

CALL_CONNECTED_CUE = "(The call has connected. You speak first.)"
"""The text turn the bridge gives the caller's session when the call starts: the caller opens
the call. On the simulator this is the caller's turn 1 (its rules answer it with the opening
line)."""


def end_call(outcome: Literal["success", "failure"], reason: str) -> dict[str, bool]:
    """Hang up. Call it once you judge your goal met (outcome "success") or out of reach
    ("failure"); say goodbye first. ``reason``: one sentence saying why."""
    # The bridge answers this tool itself (it ends the call); this body is its declaration
    # and what the model receives: the call was ended.
    del outcome, reason
    return {"ended": True}


END_CALL_TOOL = ToolSpec(
    name="end_call",
    ref="voxray.actors.conversation.caller:end_call",
    description=(end_call.__doc__ or "").strip(),
    parameters={
        "type": "object",
        "properties": {
            "outcome": {"type": "string", "enum": ["success", "failure"]},
            "reason": {"type": "string", "description": "One sentence: why the call ends."},
        },
        "required": ["outcome", "reason"],
    },
    timeout_s=5.0,
)
"""The caller's own hang-up tool (answered by the bridge, never run by the tool pool)."""


class CallerSpec(BaseModel):
    """Who calls, what they want, and when they give up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    persona: str = Field(
        min_length=1, description="Who the caller is and how they talk, in plain words."
    )
    goal: str = Field(min_length=1, description="What the caller wants from the call.")
    success: str = Field(
        "", description="What must be true when the call ends for the caller to call it a success."
    )
    max_turns: int = Field(
        10, ge=1, le=200, description="Caller utterances before the call is ended (outcome limit)."
    )
    max_duration_s: float = Field(
        180.0, gt=0, le=3600, description="Call length before it is ended (outcome limit)."
    )
    voice: str = Field("rex", description="The caller session's voice (xAI voice name).")

    @field_validator("voice")
    @classmethod
    def _known_voice(cls, voice: str) -> str:
        if voice.lower() not in KNOWN_VOICES:
            raise ValueError(f"unknown voice {voice!r}; known: {', '.join(sorted(KNOWN_VOICES))}")
        return voice.lower()


def caller_instructions(spec: CallerSpec) -> str:
    """The caller session's instructions: play the persona, pursue the goal, hang up with
    ``end_call``."""
    success = f" The call is a success when: {spec.success}." if spec.success else ""
    return (
        "You are role-playing a person who phones a voice agent. Stay in character; never say "
        "you are an AI or a simulation. Speak like a caller on the phone: short turns, one "
        f"thing at a time, and let the agent answer.\nWho you are: {spec.persona}\n"
        f"Your goal: {spec.goal}.{success}\n"
        "When your goal is met, thank the agent, say goodbye, then call end_call with outcome "
        '"success". If the agent cannot or will not help after a fair try, say goodbye and '
        'call end_call with outcome "failure". Give a one-sentence reason either way.'
    )


def caller_agent(spec: CallerSpec, like: AgentConfig, **overrides: Any) -> AgentConfig:
    """The caller session's configuration: the agent's model and audio formats (so audio passes
    between the two unconverted), the persona's instructions and voice, and ``end_call``."""
    return like.model_copy(
        update={
            "voice": spec.voice,
            "instructions": caller_instructions(spec),
            "tools": (END_CALL_TOOL,),
            "web_search": None,
            "x_search": None,
            "file_search": None,
            "replace": None,
            **overrides,
        }
    )


class CallerOutcome(BaseModel):
    """How the call ended, in the caller's words (or the bridge's, at a limit)."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["success", "failure", "limit", "error"]
    reason: str


class DialogueLine(BaseModel):
    """One utterance of the call, as the other side heard it, on the call's timeline (ms)."""

    model_config = ConfigDict(frozen=True)

    speaker: Literal["agent", "caller"]
    start_ms: float
    end_ms: float
    text: str


class CallerReport(BaseModel):
    """The simulated caller's side of a call, kept in the agent's result."""

    model_config = ConfigDict(frozen=True)

    outcome: CallerOutcome
    dialogue: tuple[DialogueLine, ...] = ()
    audio_in_ms: float = Field(0.0, description="Audio the caller's session received.")
    audio_out_ms: float = Field(0.0, description="Audio the caller's session produced.")
    cost_estimate_usd: float = Field(0.0, description="The caller session's audio minutes.")
    error: str | None = Field(None, description="Why the caller's session failed, if it did.")
