"""The browser ingress: the page in headless Chromium with a fake microphone talks to an agent
and shows its reply; the websocket refuses callers without a valid token."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import subprocess
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from voxray.actors.audio.speech import SpeechSynthesizer
from voxray.actors.gateway.tokens import mint_token, token_valid
from voxray.actors.simulator.server import Simulator

from tests.gateway_fixtures import GREETING, running_gateway, until


def test_tokens_expire_and_are_bound_to_the_secret() -> None:
    token = mint_token("secret", 60, now=1000)
    assert token_valid("secret", token, now=1059)
    assert not token_valid("secret", token, now=1061)
    assert not token_valid("other", token, now=1000)
    assert not token_valid("secret", token.replace(".", ".x"), now=1000)
    assert not token_valid("secret", None)


async def test_the_websocket_needs_a_valid_token(simulator: Simulator, tmp_path: Path) -> None:
    async with (
        running_gateway(simulator, tmp_path) as gateway,
        aiohttp.ClientSession() as http,
    ):
        ws_url = gateway.url.replace("http://", "ws://") + "/browser/ws"
        for query in ("", "?token=1.forged", f"?token={mint_token('test-secret', -1)}"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(ws_url + query)
            assert refused.value.status == 401
        token = mint_token("test-secret", 60)
        async with http.get(f"{gateway.url}/") as page:
            assert page.status == 200 and "AudioWorkletNode" in await page.text()
        headers = {"Authorization": f"Bearer {token}"}
        async with http.ws_connect(ws_url + "?rate=16000", headers=headers) as ws:
            ready = json.loads((await ws.receive()).data)
            assert ready == {"type": "ready", "agent": "support", "rate": 24000}
            await ws.send_bytes(b"\x00\x00\x00")  # odd-length PCM16: refused, this call only
            while (message := await ws.receive()).type is not aiohttp.WSMsgType.CLOSE:
                pass
            assert message.data == aiohttp.WSCloseCode.POLICY_VIOLATION
        metrics = gateway.context.metrics.render().decode()
    assert 'voxray_call_refusals_total{cause="unauthorized",ingress="browser"} 3.0' in metrics


# --- the page in a real browser -----------------------------------------------------------


def _speech_wav(path: Path) -> Path:
    """A caller's sentence followed by 3 s of silence (Chromium loops the file)."""
    speech = SpeechSynthesizer().synthesize("Hello, I would like to know the opening hours.")
    silence = np.zeros(speech.rate * 3, dtype=np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(speech.rate)
        out.writeframes(np.concatenate([speech.samples, silence]).tobytes())
    return path


@contextlib.asynccontextmanager
async def _chromium(
    url: str, wav: Path, profile: Path
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip(
            "chromium is not installed here (.ci/run installs it: apt-get install chromium)"
        )
    process = await asyncio.create_subprocess_exec(
        executable,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        url,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                async with http.get(f"http://127.0.0.1:{port}/json/list") as listing:
                    pages = [t for t in await listing.json() if t["type"] == "page"]
                if pages:
                    break
                await asyncio.sleep(0.05)
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as cdp:
                yield cdp
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()


class _Page:
    def __init__(self, cdp: aiohttp.ClientWebSocketResponse) -> None:
        self._cdp = cdp
        self._next = 0

    async def call(self, method: str, **params: object) -> dict[str, object]:
        self._next += 1
        await self._cdp.send_json({"id": self._next, "method": method, "params": params})
        while True:
            reply = await self._cdp.receive_json()
            if reply.get("id") == self._next:
                result: dict[str, object] = reply.get("result", {})
                return result

    async def evaluate(self, expression: str) -> object:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        value = result.get("result")
        return value.get("value") if isinstance(value, dict) else None


async def test_the_page_talks_to_the_agent_and_shows_its_reply(
    simulator: Simulator, tmp_path: Path
) -> None:
    wav = _speech_wav(tmp_path / "caller.wav")
    profile = tmp_path / "profile"
    profile.mkdir()
    async with running_gateway(simulator, tmp_path) as gateway:
        url = f"{gateway.url}/?token={mint_token('test-secret', 300)}"
        async with _chromium(url, wav, profile) as cdp:
            page = _Page(cdp)
            for _ in range(200):
                if await page.evaluate("document.getElementById('agent').options.length") == 1:
                    break
                await asyncio.sleep(0.05)
            await page.evaluate("document.getElementById('start').click()")
            text = ""
            for _ in range(600):  # up to 30 s: the fake microphone speaks in real time
                text = str(await page.evaluate("document.getElementById('transcript').innerText"))
                if "You said" in text:
                    break
                await asyncio.sleep(0.05)
            shot = await page.call("Page.captureScreenshot", format="png")
            (tmp_path / "page.png").write_bytes(base64.b64decode(str(shot["data"])))
            status = await page.evaluate("document.getElementById('status').textContent")
            # The browser resampled the microphone to the agent's input rate: the gateway has
            # nothing to resample per frame.
            capture_rate = await page.evaluate("micContext && micContext.sampleRate")
            await page.evaluate("document.getElementById('stop').click()")
        # The greeting may be cut short: the fake microphone starts speaking over it at once
        # (how much of it is heard first depends on when Chromium's fake device starts).
        assert text.startswith("Agent: " + GREETING.split(",")[0]), text
        assert "You said" in text, (text, status)
        assert capture_rate == 24_000
        await until(lambda: gateway.context.calls.live == 0, "the call ended after Stop")


async def test_an_oversized_frame_ends_only_that_call(simulator: Simulator, tmp_path: Path) -> None:
    async with (
        running_gateway(simulator, tmp_path) as gateway,
        aiohttp.ClientSession() as http,
    ):
        ws_url = gateway.url.replace("http://", "ws://") + "/browser/ws?rate=16000"
        headers = {"Authorization": f"Bearer {mint_token('test-secret', 60)}"}
        async with (
            http.ws_connect(ws_url, headers=headers) as good,
            http.ws_connect(ws_url, headers=headers) as bad,
        ):
            for ws in (good, bad):
                assert json.loads((await ws.receive()).data)["type"] == "ready"
            await bad.send_bytes(bytes(70 * 1024))  # over the 64 KiB bound
            while (message := await bad.receive()).type is not aiohttp.WSMsgType.CLOSE:
                pass
            assert message.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
            await good.send_json({"type": "text", "text": "Are you there?"})
            kinds: set[str] = set()
            while "transcript" not in kinds:  # the other call still talks
                reply = await asyncio.wait_for(good.receive(), 10)
                if reply.type is aiohttp.WSMsgType.TEXT:
                    kinds.add(json.loads(reply.data)["type"])
            assert gateway.context.calls.live == 1
        metrics = gateway.context.metrics.render().decode()
    assert 'voxray_call_refusals_total{cause="bad_request",ingress="browser"} 1.0' in metrics
