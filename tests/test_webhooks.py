"""Standard Webhooks verification and the realtime.call.incoming body, on known vectors."""

from __future__ import annotations

import json
import pickle

import pytest
from pydantic import SecretStr
from voxray.actors.errors import ConfigError, ProtocolError, WebhookRejected
from voxray.actors.realtime.sip_events import parse_call_incoming, sip_number
from voxray.actors.realtime.webhooks import (
    WebhookVerifier,
    decode_secret,
    sign_webhook,
    webhook_headers,
)
from voxray.settings import VoxraySettings

# The Standard Webhooks reference vector (its test suite signs this exact message).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def verifier(now: float = TIMESTAMP, **options: float) -> WebhookVerifier:
    return WebhookVerifier(SecretStr(SECRET), clock=lambda: now, **options)  # type: ignore[arg-type]


def headers(signature: str = SIGNATURE, *, message_id: str = MESSAGE_ID) -> dict[str, str]:
    return {
        "Webhook-Id": message_id,
        "Webhook-Timestamp": str(TIMESTAMP),
        "Webhook-Signature": signature,
    }


def test_the_reference_vector_signs_and_verifies() -> None:
    key = decode_secret(SECRET)
    assert sign_webhook(key, MESSAGE_ID, TIMESTAMP, BODY) == SIGNATURE
    assert decode_secret(SECRET.removeprefix("whsec_")) == key  # the prefix is optional
    assert verifier().verify(headers(), BODY) == MESSAGE_ID


def test_one_valid_signature_among_several_passes() -> None:
    offered = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2," + SIGNATURE.removeprefix("v1,"),  # right digest, unknown version: ignored
            SIGNATURE,
        ]
    )
    assert verifier().verify(headers(offered), BODY) == MESSAGE_ID


@pytest.mark.parametrize(
    ("signature", "body"),
    [
        ("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", BODY),  # one character off
        ("v2," + SIGNATURE.removeprefix("v1,"), BODY),  # only an unknown version
        (SIGNATURE, b'{"test": 2432232315}'),  # the body was changed
        ("v1,not base64 at all", BODY),
    ],
)
def test_a_bad_signature_is_rejected(signature: str, body: bytes) -> None:
    with pytest.raises(WebhookRejected) as caught:
        verifier().verify(headers(signature), body)
    assert caught.value.cause == "bad_signature"


def test_stale_and_future_timestamps_are_rejected_at_five_minutes() -> None:
    assert verifier(now=TIMESTAMP + 300).verify(headers(), BODY) == MESSAGE_ID
    with pytest.raises(WebhookRejected) as stale:
        verifier(now=TIMESTAMP + 301).verify(headers(), BODY)
    assert stale.value.cause == "stale"
    assert "301 s old" in stale.value.message
    with pytest.raises(WebhookRejected) as future:
        verifier(now=TIMESTAMP - 301).verify(headers(), BODY)
    assert future.value.cause == "future"


def test_a_replayed_id_is_rejected_and_a_forgery_does_not_burn_the_id() -> None:
    checker = verifier()
    with pytest.raises(WebhookRejected):  # a forged copy first: must not consume the id
        checker.verify(headers("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="), BODY)
    assert checker.verify(headers(), BODY) == MESSAGE_ID
    with pytest.raises(WebhookRejected) as replay:
        checker.verify(headers(), BODY)
    assert replay.value.cause == "replayed"


def test_the_seen_set_forgets_expired_ids_and_stays_bounded() -> None:
    key = decode_secret(SECRET)
    now = [float(TIMESTAMP)]
    checker = WebhookVerifier(SECRET, clock=lambda: now[0], max_seen=3)
    for n in range(5):
        checker.verify(webhook_headers(key, f"msg_{n}", BODY, timestamp=TIMESTAMP), BODY)
    assert checker.remembered == 3
    now[0] += 301  # every id is now too old to pass again: all forgotten on the next check
    checker.verify(webhook_headers(key, "msg_new", BODY, timestamp=int(now[0])), BODY)
    assert checker.remembered == 1


@pytest.mark.parametrize(
    ("mutate", "cause"),
    [
        (lambda h: h.pop("Webhook-Id"), "missing_headers"),
        (lambda h: h.pop("Webhook-Signature"), "missing_headers"),
        # Present but no id a sender would use (a memory bound on the replay set): not missing.
        (lambda h: h.update({"Webhook-Id": "m" * 257}), "invalid_id"),
        (lambda h: h.update({"Webhook-Timestamp": "hello"}), "bad_timestamp"),
        (lambda h: h.update({"Webhook-Timestamp": "1614265330.5"}), "bad_timestamp"),
    ],
)
def test_missing_or_malformed_headers_are_rejected(mutate: object, cause: str) -> None:
    bad = headers()
    mutate(bad)  # type: ignore[operator]
    with pytest.raises(WebhookRejected) as caught:
        verifier().verify(bad, BODY)
    assert caught.value.cause == cause


def test_a_rejection_never_shows_the_secret_and_survives_pickling() -> None:
    with pytest.raises(WebhookRejected) as caught:
        verifier().verify(headers("v1,AAAA"), BODY)
    rebuilt = pickle.loads(pickle.dumps(caught.value))
    assert rebuilt.cause == "bad_signature"
    key_text = SECRET.removeprefix("whsec_")
    assert key_text not in str(rebuilt) and key_text not in repr(verifier())


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_!!!not-base64!!!"])
def test_a_bad_secret_is_a_config_error_that_does_not_echo_it(secret: str) -> None:
    with pytest.raises(ConfigError) as caught:
        WebhookVerifier(secret)
    if secret:
        assert "not-base64" not in caught.value.message


def call_body(**data: object) -> bytes:
    event = {
        "object": "event",
        "id": "evt_1",
        "type": "realtime.call.incoming",
        "created_at": TIMESTAMP,
        "data": data,
    }
    return json.dumps(event).encode()


def test_call_incoming_parses_headers_as_pairs_or_object() -> None:
    pairs = call_body(
        call_id="rtc_abc123",
        sip_headers=[
            {"name": "From", "value": '"Ann" <sip:+15550100@pstn.example>;tag=9'},
            {"name": "To", "value": "<sip:+15550199@sip.example>"},
            {"name": "X-Agent", "value": "support"},
        ],
        extra_field=True,
    )
    event = parse_call_incoming(pairs)
    assert event.data.call_id == "rtc_abc123"
    assert (event.data.caller, event.data.called) == ("+15550100", "+15550199")
    assert event.data.header("x-agent") == "support"
    plain = parse_call_incoming(call_body(call_id="rtc_1", sip_headers={"To": "tel:+4930123"}))
    assert plain.data.called == "+4930123"
    assert parse_call_incoming(call_body(call_id="rtc_2")).data.sip_headers == ()


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"type": "realtime.call.ended", "data": {}}).encode(), "unexpected webhook"),
        (call_body(sip_headers=[]), "data.call_id"),
        (call_body(call_id="rtc_1&model=x"), "data.call_id"),
        (call_body(call_id="rtc_1", sip_headers=[{"name": "To"}]), "data.sip_headers"),
    ],
)
def test_a_malformed_body_is_a_protocol_error_naming_the_field(body: bytes, names: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_call_incoming(body)
    assert names in caught.value.message


def test_sip_number_reads_sip_sips_and_tel_uris() -> None:
    assert sip_number("<sips:alice@example.com>") == "alice"
    assert sip_number("tel:+15550100;phone-context=x") == "+15550100"
    assert sip_number("no uri here") is None
    assert sip_number(None) is None


def test_the_secret_comes_from_voxray_xai_webhook_secret_and_stays_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOXRAY_XAI_WEBHOOK_SECRET", SECRET)
    settings = VoxraySettings()
    assert settings.xai_webhook_secret is not None
    assert settings.xai_webhook_secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
