"""A model as judge: ``expect.judge`` rubric items judged by xAI's chat completions API.

Each rubric item ("the agent confirmed the order number before cancelling") is judged from the
run's dialogue, its tool calls and their outputs by ``POST {base}/v1/chat/completions`` with
structured output (``response_format: json_schema``): ``{"verdict": "pass"|"fail", "reason":
"..."}``, the reason quoting the transcript. The item is judged ``judge_samples`` times and the
majority decides (:mod:`.judge_verdicts`); every way a request can fail is its own reported
outcome and never a pass:

========================  ====================================================================
``timeout``               no reply within ``judge.timeout_s`` (not retried: it already waited)
``rate_limited``          HTTP 429 on every try (retried with backoff, ``Retry-After`` honoured)
``server_error``          HTTP 5xx on every try (retried with backoff)
``unreachable``           the endpoint refused the connection on every try
``refused``               the model set ``refusal`` instead of answering
``malformed``             content that is not the schema's JSON (or no choices at all)
``http_error``            any other HTTP error: a refused key (401/403), an unknown model (400)
========================  ====================================================================

It runs in the driver once a run's result is back (text only: no Ray). The endpoint is the
backend's own host with the backend's key: ``https://api.x.ai`` on ``backend: xai``, the job's
simulator on ``backend: sim`` (its scripted judge, :mod:`voxray.actors.simulator.judge`). The key
is sent as a bearer header only: never logged, never put in a reason or a record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from pydantic import SecretStr
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import TextTurn
from voxray.actors.realtime.redaction import InboundRedactor
from voxray.evals.judge_verdicts import JudgeSample, decide
from voxray.evals.scoring import Check, ScenarioScore
from voxray.evals.suite import ScenarioSpec
from voxray.evals.turns import spoken_text
from voxray.evals.wer import is_transcribed
from voxray.settings import JudgeSettings

__all__ = [
    "JUDGE_SCHEMA",
    "JudgeClient",
    "evidence",
    "judge_base_url",
    "judge_messages",
    "judge_run",
    "with_judgement",
]

logger = logging.getLogger("voxray.judge")

CHAT_COMPLETIONS_PATH: Final = "/v1/chat/completions"
_RETRY_AFTER_CAP_S: Final = 30.0
_OUTPUT_CLIP: Final = 600

JUDGE_SCHEMA: Final[dict[str, Any]] = {
    "type": "json_schema",
    "json_schema": {
        "name": "rubric_verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "verdict": {"type": "string", "enum": ["pass", "fail"]},
                "reason": {"type": "string"},
            },
            "required": ["verdict", "reason"],
            "additionalProperties": False,
        },
    },
}
"""The ``response_format`` of every judge request."""

_SYSTEM: Final = (
    "You evaluate one conversation between a caller (user) and a voice agent against one "
    "rubric item. The agent's instructions, when given, are its policy. Judge only that item, "
    "only from the transcript and tool calls given: what "
    "the transcript does not show did not happen. Answer verdict 'pass' when the item holds, "
    "'fail' when it does not. The reason is one or two sentences and quotes the words of the "
    "transcript (or the tool call) that decide the verdict."
)


def judge_base_url(endpoint: ProviderEndpoint, settings: JudgeSettings) -> str:
    """Where the chat completions API is: ``settings.base_url``, else the backend's host
    (``wss://api.x.ai/v1/realtime`` → ``https://api.x.ai``)."""
    if settings.base_url:
        return settings.base_url.rstrip("/")
    parts = urlsplit(endpoint.url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def evidence(spec: ScenarioSpec, result: SessionResult) -> str:
    """The dialogue (a scripted line where the backend did not transcribe the user), then
    each tool call with its arguments and output, as the judge reads them."""
    lines: list[str] = []
    for number, turn in enumerate(result.turns, 1):
        heard = _user_line(spec, number, turn.user_transcript)
        if heard:
            lines.append(f"user: {heard}")
        elif turn.kind.startswith("wait"):
            lines.append("user: (silence)")
        if turn.agent_transcript.strip():
            lines.append(f"agent: {turn.agent_transcript.strip()}")
    if result.tool_calls:
        lines.append("")
        lines.append("tool calls, in order:")
        for call in result.tool_calls:
            status = "ok" if call.ok else f"failed ({call.error_type or 'error'})"
            output = (
                call.output
                if len(call.output) <= _OUTPUT_CLIP
                else call.output[:_OUTPUT_CLIP] + "…"
            )
            lines.append(f"- {call.name}({call.arguments}) {status} -> {output}")
    return "\n".join(lines) if lines else "(nothing was said)"


def _user_line(spec: ScenarioSpec, number: int, transcript: str | None) -> str:
    """What the user said in turn ``number``: typed text as typed, speech as transcribed, or
    the script's words where the backend did not transcribe (said so)."""
    scripted = spec.turns[number - 1] if number <= len(spec.turns) else None
    if isinstance(scripted, TextTurn):
        return f"{scripted.text} (typed)"
    if is_transcribed(transcript):
        return (transcript or "").strip()
    words = spoken_text(scripted) if scripted is not None else None
    return f"{words} (scripted; not transcribed)" if words else ""


def judge_messages(rubric: str, transcript: str, instructions: str = "") -> list[dict[str, str]]:
    """The chat messages of one judge request. ``instructions`` are the agent's own (its
    policy, for items such as "the agent stayed on policy")."""
    policy = (
        f"<agent_instructions>\n{instructions}\n</agent_instructions>\n\n" if instructions else ""
    )
    user = (
        f"{policy}<transcript>\n{transcript}\n</transcript>\n\n<rubric>{rubric}</rubric>\n\n"
        "Does the conversation satisfy the rubric item?"
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


class JudgeClient:
    """Judge requests to one endpoint, over one aiohttp session. ``aclose()`` ends it."""

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        settings: JudgeSettings,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + CHAT_COMPLETIONS_PATH
        self.settings = settings
        self._key = api_key
        # What the endpoint says goes into checks, summary.json and the report: a provider (or
        # a proxy) quoting the key in an error must not carry it there.
        self._redactor = InboundRedactor([api_key.get_secret_value()])
        self._rng = rng or random.Random()
        self._http: aiohttp.ClientSession | None = None
        self._gate = asyncio.Semaphore(settings.max_concurrency)

    async def __aenter__(self) -> JudgeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s)
            )
        return self._http

    async def sample(self, rubric: str, transcript: str, instructions: str = "") -> JudgeSample:
        """One verdict on ``rubric``, or the reason there is none (never raises for the
        endpoint's failures)."""
        body = {
            "model": self.settings.model,
            "messages": judge_messages(rubric, transcript, instructions),
            "response_format": JUDGE_SCHEMA,
        }
        async with self._gate:
            return await self._post_with_retries(body)

    async def _post_with_retries(self, body: dict[str, Any]) -> JudgeSample:
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"}
        last: JudgeSample | None = None
        for attempt in range(self.settings.retries + 1):
            retry_after: float | None = None
            try:
                async with self._session().post(self.url, json=body, headers=headers) as reply:
                    text = self._redactor.all(await reply.text(errors="replace"))
                    if reply.status == 200:
                        try:
                            payload = json.loads(text)
                        except ValueError:
                            return JudgeSample(None, "the reply is not JSON", "malformed")
                        return _parse(payload)
                    if reply.status != 429 and reply.status < 500:
                        return JudgeSample(None, _http_problem(reply.status, text), "http_error")
                    last = JudgeSample(
                        None,
                        _http_problem(reply.status, text),
                        "rate_limited" if reply.status == 429 else "server_error",
                    )
                    retry_after = _retry_after(reply.headers.get("Retry-After"))
            except TimeoutError:
                return JudgeSample(
                    None, f"no reply within {self.settings.timeout_s:g} s", "timeout"
                )
            except aiohttp.ClientConnectionError as error:
                last = JudgeSample(
                    None, f"cannot reach the judge: {type(error).__name__}", "unreachable"
                )
            if attempt < self.settings.retries:
                delay = self.settings.backoff_s * 2**attempt * (0.5 + self._rng.random())
                if retry_after is not None:
                    delay = max(delay, retry_after)
                logger.info("judge request: %s; retrying in %.1f s", last.reason, delay)
                await asyncio.sleep(delay)
        assert last is not None
        tries = self.settings.retries + 1
        return JudgeSample(
            None, f"{last.reason} (after {tries} tr{'y' if tries == 1 else 'ies'})", last.error
        )


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), _RETRY_AFTER_CAP_S) if value is not None else None
    except ValueError:
        return None


def _http_problem(status: int, text: str) -> str:
    if status in (401, 403):
        # The provider's message may echo part of the key: never pass it on.
        return f"HTTP {status}: the judge's API key was refused"
    message = ""
    try:
        error = json.loads(text).get("error")
        message = error.get("message", "") if isinstance(error, dict) else str(error or "")
    except (ValueError, AttributeError):
        message = text
    message = " ".join(message.split())[:200]
    return f"HTTP {status}" + (f": {message}" if message else "")


def _parse(payload: Any) -> JudgeSample:
    """A verdict from a chat completion, or why it holds none."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    prompt_tokens = completion_tokens = 0
    if isinstance(usage, dict):
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)

    def sample(verdict: Any, reason: str, error: Any = None) -> JudgeSample:
        return JudgeSample(verdict, reason, error, prompt_tokens, completion_tokens)

    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return sample(None, "the reply has no choices", "malformed")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return sample(None, "the reply's choice has no message", "malformed")
    refusal = message.get("refusal")
    if refusal:
        return sample(None, f"the model refused: {' '.join(str(refusal).split())[:200]}", "refused")
    content = message.get("content")
    try:
        parsed = json.loads(content) if isinstance(content, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return sample(None, f"the reply is not the verdict's JSON: {_clip(content)}", "malformed")
    verdict, reason = parsed.get("verdict"), parsed.get("reason")
    if verdict not in ("pass", "fail") or not isinstance(reason, str):
        return sample(None, f"the reply is not the verdict's JSON: {_clip(content)}", "malformed")
    return sample(verdict, " ".join(reason.split()))


def _clip(content: Any) -> str:
    text = " ".join(str(content).split())
    return repr(text if len(text) <= 80 else text[:79] + "…")


async def judge_item(
    client: JudgeClient,
    rubric: str,
    transcript: str,
    samples: int,
    *,
    number: int = 1,
    instructions: str = "",
) -> Check:
    """``rubric`` judged ``samples`` times (concurrently), as one check."""
    answers = await asyncio.gather(
        *(client.sample(rubric, transcript, instructions) for _ in range(samples))
    )
    detail, got = decide(answers, client.settings.model)
    return Check(
        name=f"judge #{number}: {_short(rubric)}",
        passed=detail.outcome == "pass",
        expected=rubric,
        got=got,
        judge=detail,
    )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


async def judge_run(
    spec: ScenarioSpec,
    result: SessionResult,
    endpoint: ProviderEndpoint,
    settings: JudgeSettings,
) -> list[Check]:
    """One check per ``spec.expect.judge`` rubric item (none when there are none)."""
    rubric = spec.expect.judge
    if not rubric:
        return []
    transcript = evidence(spec, result)
    async with JudgeClient(judge_base_url(endpoint, settings), endpoint.api_key, settings) as c:
        checks = await asyncio.gather(
            *(
                judge_item(
                    c,
                    item,
                    transcript,
                    spec.expect.judge_samples,
                    number=number,
                    instructions=spec.agent.instructions,
                )
                for number, item in enumerate(rubric, 1)
            )
        )
    return list(checks)


async def with_judgement(
    spec: ScenarioSpec,
    result: SessionResult,
    verdict: ScenarioScore,
    endpoint: ProviderEndpoint,
    settings: JudgeSettings,
) -> ScenarioScore:
    """``verdict`` with the judge's checks added, for a run that completed (a failed session
    is not judged: its transcript is partial)."""
    if not spec.expect.judge or result.status != "completed":
        return verdict
    judged = await judge_run(spec, result, endpoint, settings)
    checks = (*verdict.checks, *judged)
    return ScenarioScore(passed=all(check.passed for check in checks), checks=checks)
