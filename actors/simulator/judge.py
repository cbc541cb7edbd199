"""The simulator's chat completions endpoint: a scripted judge for ``expect.judge`` rubrics.

``POST /v1/chat/completions`` answers like xAI's (OpenAI-shaped) chat completions API with
structured output: the assistant message's ``content`` is a JSON object
``{"verdict": "pass"|"fail", "reason": "..."}``. Which verdict is scripted in a scenario's
``sim:`` block, so the judging path runs offline and in CI::

    sim:
      judge:
        rules:
          - rubric: 'confirm.*order number'      # regex searched in the rubric item
            transcript: 'order (number )?\\d+'   # regex searched in the transcript
            verdict: pass
            reason: 'The agent said "order 1234".'
          - rubric: polite
            verdicts: [pass, fail, pass]         # cycled per request: judges disagree
            reason: scripted disagreement
        default_verdict: fail
        default_reason: no judge rule matched
        faults:
          - {kind: rate_limit, times: 1}        # the first request gets HTTP 429

The request's last user message carries the rubric item between ``<rubric>`` and ``</rubric>``
and the transcript between ``<transcript>`` and ``</transcript>`` (voxray's judge writes them so);
without the tags the whole message is searched. The first matching rule wins; a rule without
``rubric`` or ``transcript`` matches anything on that side.

Faults (each for the first ``times`` requests of the script's token, or every one when
``times`` is omitted): ``malformed`` (content that is not the schema's JSON), ``refusal`` (the
message's ``refusal`` set, no content), ``timeout`` (no answer for ``delay_s``), ``rate_limit``
(HTTP 429 with ``Retry-After: 0``) and ``server_error`` (HTTP 500).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from voxray.actors.simulator.patterns import checked_pattern

__all__ = ["CHAT_COMPLETIONS_PATH", "JudgeFault", "JudgeRule", "JudgeScript", "ScriptedJudge"]

CHAT_COMPLETIONS_PATH: Final = "/v1/chat/completions"

Verdict = Literal["pass", "fail"]

_RUBRIC = re.compile(r"<rubric>(.*?)</rubric>", re.DOTALL)
_TRANSCRIPT = re.compile(r"<transcript>(.*?)</transcript>", re.DOTALL)
_REFUSAL_TEXT: Final = "I'm sorry, but I can't help with evaluating this conversation."


class JudgeRule(BaseModel):
    """When the rubric and transcript match, answer this verdict with this reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rubric: str | None = Field(
        None, description="Regex searched case-insensitively in the rubric item."
    )
    transcript: str | None = Field(
        None, description="Regex searched case-insensitively in the transcript sent."
    )
    verdict: Verdict | None = Field(None, description="The verdict answered every time.")
    verdicts: list[Verdict] | None = Field(
        None,
        min_length=1,
        description="Verdicts answered in turn, one per request matching this rule (cycled): "
        "a judge that disagrees with itself.",
    )
    reason: str = Field("scripted verdict", description="The reason answered with the verdict.")

    @field_validator("rubric", "transcript")
    @classmethod
    def _regexes_compile(cls, value: str | None) -> str | None:
        return checked_pattern(value)

    @model_validator(mode="after")
    def _one_verdict(self) -> Self:
        if (self.verdict is None) == (self.verdicts is None):
            raise ValueError("a judge rule has `verdict` or `verdicts` (exactly one)")
        return self

    def matches(self, rubric: str, transcript: str) -> bool:
        """Whether both of the rule's regexes (those it has) are found."""
        return (
            self.rubric is None or re.search(self.rubric, rubric, re.IGNORECASE) is not None
        ) and (
            self.transcript is None
            or re.search(self.transcript, transcript, re.IGNORECASE) is not None
        )


class JudgeFault(BaseModel):
    """A failure of the judge's endpoint, for the first ``times`` requests (or all)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["malformed", "refusal", "timeout", "rate_limit", "server_error"]
    times: int | None = Field(
        None, ge=1, description="Requests it applies to, from the first; omitted: every one."
    )
    delay_s: float = Field(
        600.0,
        gt=0,
        le=600,
        description="How long a `timeout` keeps the request unanswered (then HTTP 504); "
        "the default outlasts any client's timeout. The simulator stopping ends it.",
    )


class JudgeScript(BaseModel):
    """The scripted judge of one scenario's simulator token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: list[JudgeRule] = Field(default_factory=list, description="Tried in order.")
    default_verdict: Verdict = Field(
        "fail", description="The verdict when no rule matches (fail: a missing rule shows)."
    )
    default_reason: str = Field("no judge rule matched", description="Its reason.")
    faults: list[JudgeFault] = Field(
        default_factory=list, description="Failures, tried in order; the first that applies."
    )


@dataclass
class ScriptedJudge:
    """A :class:`JudgeScript` and its counters (requests seen, each rule's next verdict)."""

    script: JudgeScript
    requests: int = 0
    _cycles: dict[int, int] = field(default_factory=dict)

    def fault(self) -> JudgeFault | None:
        """Count a request; the fault that applies to it, if any."""
        self.requests += 1
        for fault in self.script.faults:
            if fault.times is None or self.requests <= fault.times:
                return fault
        return None

    def decide(self, rubric: str, transcript: str) -> tuple[Verdict, str]:
        """The verdict and reason for ``rubric`` judged over ``transcript``."""
        for index, rule in enumerate(self.script.rules):
            if not rule.matches(rubric, transcript):
                continue
            if rule.verdicts is not None:
                turn = self._cycles.get(index, 0)
                self._cycles[index] = turn + 1
                return rule.verdicts[turn % len(rule.verdicts)], rule.reason
            assert rule.verdict is not None  # one of the two, by validation
            return rule.verdict, rule.reason
        return self.script.default_verdict, self.script.default_reason


def _error(status: int, kind: str, code: str, message: str) -> web.Response:
    headers = {"Retry-After": "0"} if status == 429 else None
    body = {"error": {"type": kind, "code": code, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def _bad_request(message: str) -> web.Response:
    return _error(400, "invalid_request_error", "invalid_value", message)


def _prompt_text(body: dict[str, Any]) -> str | None:
    """The last user message's text (string content or text parts), or None if malformed."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                part.get("text", "")
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
    return None


def _completion(model: str, content: str | None, refusal: str | None, prompt: str) -> web.Response:
    prompt_tokens = max(1, len(prompt) // 4)  # about four characters a token
    completion_tokens = max(1, len(content or refusal or "") // 4)
    return web.json_response(
        {
            "id": f"chatcmpl-sim-{secrets.token_hex(8)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


async def answer(
    judge: ScriptedJudge, request: web.Request, closing: asyncio.Event
) -> web.Response:
    """Answer one chat completions request as the scripted judge (auth already checked).

    ``closing`` is set when the simulator stops, so a ``timeout`` fault never holds it open.
    """
    try:
        body = await request.json()
    except (ValueError, json.JSONDecodeError):
        return _bad_request("the body must be a JSON object")
    if not isinstance(body, dict):
        return _bad_request("the body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _bad_request("`model` is required")
    prompt = _prompt_text(body)
    if prompt is None:
        return _bad_request("`messages` must hold a user message with text content")
    fault = judge.fault()
    if fault is not None:
        match fault.kind:
            case "timeout":
                # Unanswered until the client gives up (or the simulator stops).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closing.wait(), fault.delay_s)
                return _error(504, "internal_error", "timeout", "the judge timed out")
            case "rate_limit":
                return _error(429, "rate_limit_error", "rate_limit_exceeded", "Too many requests.")
            case "server_error":
                return _error(500, "internal_error", "internal_error", "Internal server error.")
            case "refusal":
                return _completion(model, None, _REFUSAL_TEXT, prompt)
            case "malformed":
                return _completion(model, '{"verdict": "pass", "reas', None, prompt)
    rubric_match = _RUBRIC.search(prompt)
    transcript_match = _TRANSCRIPT.search(prompt)
    rubric = rubric_match.group(1).strip() if rubric_match else prompt
    transcript = transcript_match.group(1) if transcript_match else prompt
    verdict, reason = judge.decide(rubric, transcript)
    content = json.dumps({"verdict": verdict, "reason": reason})
    return _completion(model, content, None, prompt)
