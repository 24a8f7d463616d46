"""No user text in the logs of the three real services, and none in DLQ headers.

Every field a user or an app controls carries a sentinel: texts, notification titles, bodies
and senders, app names, emoji descriptions, user ids, stack and notification ids, in five
languages, plus contact details the router must redact (their values are the placeholders'
values). The services run as deployed: real SmolLM2 and MiniLM, the real broker and
database, the production JSON log formatter writing the lines that are then searched.
Events that fail validation go to the DLQ; events that escalate reach the fake OpenAI
server, with consent and a key, through provider faults and through answers that violate
the schema while quoting the prompt (so pydantic's messages would quote user text).

Logged on purpose, so free of sentinels here: `request_id` (an opaque id the producing app
draws to correlate a request across services; every line carries it) and `tenant_id` (an
organisation, named in budget accounting). A user id, a stack or thread id or an app name
can name a person or a conversation, so none of them is logged at INFO or above.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from schemas.limits import MAX_EMOJI_DESCRIPTION_CHARS, MAX_WRITING_TEXT_CHARS
from shared.messaging import dlq
from shared.observability.logging import configure_logging
from tests.e2e.conftest import RouterFactory, StartCairn
from tests.e2e.support import envelope, notification_stack, provider_answer
from tests.fakes.openai_server import JSON, FakeOpenAIServer, Fault, prompt_text
from tests.support.events import consume_until, produce

pytestmark = [pytest.mark.kafka, pytest.mark.model, pytest.mark.slow, pytest.mark.timeout(900)]

LANGS = ("en", "de", "fr", "es", "ja")
LOCALES = {"en": "en-US", "de": "de-DE", "fr": "fr-FR", "es": "es-ES", "ja": "ja-JP"}


def tag(field: str, lang: str) -> str:
    """A sentinel word: unique per field and language, found whatever the case."""
    return f"Zq{field}{lang}"


# Contact details per language, each to be redacted before anything leaves.
CONTACTS: dict[str, dict[str, str]] = {
    "en": {
        "email": "quill.sentinel.en@example.com",
        "phone": "(415) 555-2671",
        "postcode": "SW1A 1AA",
        "name": "Ottoline",
    },
    "de": {
        "email": "quill.sentinel.de@example.com",
        "phone": "0151 23456789",
        "postcode": "10115",
        "name": "Wiebke",
    },
    "fr": {
        "email": "quill.sentinel.fr@example.com",
        "phone": "06 12 34 56 78",
        "postcode": "75001",
        "name": "Clémentine",
    },
    "es": {
        "email": "quill.sentinel.es@example.com",
        "phone": "612 34 56 78",
        "postcode": "28013",
        "name": "Remedios",
    },
    "ja": {
        "email": "quill.sentinel.ja@example.com",
        "phone": "090-1234-5678",
        "postcode": "100-0001",
        "name": "Hanako",
    },
}


def contact_sentence(lang: str) -> str:
    c = CONTACTS[lang]
    return {
        "en": f"Dear {c['name']}, mail {c['email']} or call {c['phone']}; "
        f"the parcel goes to 10 Downing St, London {c['postcode']}.",
        "de": f"Liebe {c['name']}, schreib an {c['email']} oder ruf {c['phone']} an; "
        f"Lieferung an Hauptstraße 5, {c['postcode']} Berlin, bitte.",
        "fr": f"Bonjour {c['name']}, écris à {c['email']} ou appelle le {c['phone']} ; "
        f"livraison au 12 rue de Rivoli, {c['postcode']} Paris, merci.",
        "es": f"Hola {c['name']}, escribe a {c['email']} o llama al {c['phone']}; "
        f"envío a Calle Mayor 10, {c['postcode']} Madrid, gracias.",
        "ja": f"Dear {c['name']}, メールは{c['email']}、電話は{c['phone']}、"
        f"住所は〒{c['postcode']} 東京都です。",
    }[lang]


def text_sentence(lang: str) -> str:
    t = tag("text", lang)
    return {
        "en": f"Pls tell {t} that i will bring the {t} slides tomorow.",
        "de": f"Bitte sag {t}, dass ich die {t} Folien morgen mitbringe.",
        "fr": f"Dis à {t} que j'apporterai les diapos {t} demain.",
        "es": f"Dile a {t} que mañana traigo las diapositivas {t}.",
        "ja": f"{t}さんに、明日{t}の資料を持っていくと伝えてください。",
    }[lang]


# Prompts carrying this word get an answer that violates the schema while quoting them.
QUOTE_BACK = "Zqquoteback"


def responder(body: JSON) -> str | JSON:
    prompt = prompt_text(body)
    if QUOTE_BACK in prompt:
        fields = set(body["response_format"]["json_schema"]["schema"].get("properties", {}))
        return {name: {"echo": prompt} for name in fields}
    return provider_answer(body)


def ids(lang: str, n: int) -> tuple[str, str]:
    """A user id and a stack id that carry sentinels (ids are app-chosen, not logged)."""
    return f"{tag('user', lang)}-{n}", f"{tag('stack', lang)}-{uuid.uuid4().hex[:6]}"


def summary_event(lang: str, n: int, *, consent: bool, quote_back: bool = False) -> JSON:
    user, stack_id = ids(lang, n)
    extra = f" {QUOTE_BACK}" if quote_back else ""
    payload = notification_stack(
        stack_id,
        tag("app", lang),
        "message",
        [
            (tag("sender", lang), tag("title", lang), contact_sentence(lang), 30),
            (tag("senderb", lang), tag("titleb", lang), text_sentence(lang) + extra, 10),
        ],
    )
    return envelope(payload, user=user, locale=LOCALES[lang], consent=consent)


def rewrite_event(lang: str, n: int, operation: str, *, consent: bool, **fields: Any) -> JSON:
    user, _ = ids(lang, n)
    text = f"{text_sentence(lang)} {contact_sentence(lang)}"
    payload: JSON = {"operation": operation, "text": text, **fields}
    return envelope(payload, user=user, locale=LOCALES[lang], consent=consent)


def emoji_event(lang: str, n: int, description: str, *, consent: bool) -> JSON:
    user, _ = ids(lang, n)
    payload = {"description": description, "count": 3, "variations": 1, "sticker": True}
    return envelope(payload, user=user, locale=LOCALES[lang], consent=consent)


def sentinels() -> list[str]:
    out = [QUOTE_BACK]
    for lang in LANGS:
        for field in ("text", "user", "stack", "app", "sender", "senderb", "title", "titleb"):
            out.append(tag(field, lang))
        out.append("Zqdesc" + lang)
        out.extend(CONTACTS[lang].values())
    return out


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The production logging (`configure_logging`, JSON lines at INFO) into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("aiokafka").level, sys.stderr)
    buffer = io.StringIO()
    sys.stderr = buffer  # configure_logging binds its handler to sys.stderr as it is now
    try:
        configure_logging("INFO", json_lines=True)
    finally:
        sys.stderr = saved[3]
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("aiokafka").setLevel(saved[2])


def invalid_events() -> dict[str, list[tuple[bytes, tuple[str, ...]]]]:
    """Per feature: raw event bytes that fail validation, each with sentinels inside, and
    what its DLQ reason must name (field path, error type or constraint)."""

    def raw(event: JSON) -> bytes:
        return json.dumps(event, ensure_ascii=False).encode()

    too_long = rewrite_event("de", 90, "proofread", consent=True)
    too_long["payload"]["text"] = (tag("text", "de") + " ") * (MAX_WRITING_TEXT_CHARS // 8)
    bad_locale = rewrite_event("fr", 91, "proofread", consent=True)
    bad_locale["locale"] = tag("text", "fr")
    wrong_type = rewrite_event("es", 92, "proofread", consent=True)
    wrong_type["payload"]["text"] = [text_sentence("es")]
    no_tone = rewrite_event("en", 93, "rewrite", consent=True)
    bad_user = rewrite_event("ja", 94, "proofread", consent=True)
    bad_user["user_id"] = f"{tag('user', 'ja')} with spaces"
    extra_field = rewrite_event("en", 95, "proofread", consent=True)
    extra_field["payload"]["note"] = text_sentence("en")

    dup_ids = summary_event("de", 96, consent=True)
    for item in dup_ids["payload"]["notifications"]:
        item["id"] = tag("stack", "de")
    long_body = summary_event("fr", 97, consent=True)
    long_body["payload"]["notifications"][0]["body"] = tag("text", "fr") * 300

    long_desc = emoji_event("es", 98, "Zqdesces " * MAX_EMOJI_DESCRIPTION_CHARS, consent=True)
    zero_count = emoji_event("ja", 99, "Zqdescja の猫", consent=True)
    zero_count["payload"]["count"] = 0
    sentinel_bytes = tag("text", "en").encode()
    return {
        "rewrite": [
            (raw(too_long), ("payload.text", "string_too_long", str(MAX_WRITING_TEXT_CHARS))),
            (raw(bad_locale), ("locale", "value_error", "BCP 47")),
            (raw(wrong_type), ("payload.text", "string_type")),
            (raw(no_tone), ("payload", "tone is required")),
            (raw(bad_user), ("user_id", "string_pattern_mismatch")),
            (raw(extra_field), ("payload.note", "extra_forbidden")),
            (b'{"request_id": "x", "payload": "' + sentinel_bytes, ("json_invalid",)),
            (b"\xff\xfe" + sentinel_bytes, ("not UTF-8",)),
        ],
        "summarize": [
            (raw(dup_ids), ("payload", "must be unique")),
            (raw(long_body), ("payload.notifications.0.body", "string_too_long", "2000")),
        ],
        "emoji": [
            (raw(long_desc), ("payload.description", "string_too_long")),
            (raw(zero_count), ("payload.count", "greater_than_equal", "1")),
        ],
    }


def assert_clean(where: str, text: str, secrets: list[str]) -> None:
    lowered = text.lower()
    for secret in secrets:
        assert secret.lower() not in lowered, f"{secret!r} in {where}: {text[:600]}"


async def test_no_sentinel_in_any_log_line_or_dlq_header(
    cairn: StartCairn,
    make_router: RouterFactory,
    json_logs: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Bounded local work on a loaded 2-core machine (one candidate, short drafts): the
    # logs of every path are what is checked here, not the quality of local answers.
    for name, value in {
        "REWRITER_MAX_NEW_TOKENS": "160",
        "REWRITER_CANDIDATES": "1",
        "CAIRN_SUMMARIZER_CANDIDATES": "1",
    }.items():
        monkeypatch.setenv(name, value)
    async with FakeOpenAIServer(responder=responder) as fake:
        router = make_router(
            OPENAI_API_KEY="test-key",
            OPENAI_BASE_URL=fake.base_url,
            OPENAI_TIMEOUT_S=10,
            OPENAI_IMAGE_TIMEOUT_S=10,
        )
        services = await cairn(router)
        # Provider faults first: a 500, a 429, a reset connection, a malformed and a
        # truncated answer; retries and fallbacks log their way through them.
        fake.inject(
            Fault.error(500),
            Fault.rate_limit(0.05),
            Fault.reset(),
            Fault.malformed_content(),
            Fault.truncated(),
        )

        rewrites = [
            # Escalated (free-form instruction), with consent: every language reaches the
            # provider, contact details redacted.
            *(
                rewrite_event(lang, i, "instruction", consent=True, instruction="Make it polite.")
                for i, lang in enumerate(LANGS)
            ),
            # Local with SmolLM2: English proofread; German without consent (degraded).
            rewrite_event("en", 10, "proofread", consent=False),
            rewrite_event("de", 11, "proofread", consent=False),
        ]
        rewrites.append(
            rewrite_event("fr", 12, "instruction", consent=True, instruction=QUOTE_BACK)
        )
        summaries = [
            summary_event("en", 20, consent=False),
            *(summary_event(lang, 21 + i, consent=True) for i, lang in enumerate(LANGS[1:])),
            summary_event("de", 30, consent=True, quote_back=True),
        ]
        emoji = [
            emoji_event("en", 40, "a cat wearing sunglasses Zqdescen", consent=False),
            emoji_event(
                "en",
                41,
                f"a retirement annuity amortization schedule Zqdescen {CONTACTS['en']['email']}",
                consent=True,
            ),
        ]
        bad = invalid_events()
        for feature, events in bad.items():
            await produce(services.bootstrap, services.input_topic(feature), [v for v, _ in events])

        delivered = {
            **(await services.request("rewrite", rewrites)),
            **(await services.request("summarize", summaries)),
            **(await services.request("emoji", emoji)),
        }
        dead = {
            feature: await consume_until(
                services.bootstrap,
                f"{services.base_topic}.{feature}.dlq",
                count=len(events),
                distinct_by=None,
            )
            for feature, events in bad.items()
        }

    secrets = sentinels()
    lines = [line for line in json_logs.getvalue().splitlines() if line.strip()]

    # The capture saw the services at work: routing decisions, escalations, DLQ warnings.
    docs = [json.loads(line) for line in lines]
    assert {d["level"] for d in docs} <= {"INFO", "WARNING", "ERROR", "CRITICAL"}
    messages = [d["msg"] for d in docs]
    assert sum("invalid event at" in m for m in messages) == sum(map(len, bad.values()))
    assert any("tier=openai" in m for m in messages), "some requests were escalated"
    assert any("attempt 1 failed" in m for m in messages), "provider faults were retried"
    assert {d.get("request_id") for d in docs} & set(delivered), "lines carry request ids"
    for line in lines:
        assert_clean("a log line", line, secrets)

    # The DLQ: original bytes kept, a reason that names field and constraint, no text.
    for feature, events in bad.items():
        records = dead[feature]
        assert sorted(r.value for r in records) == sorted(v for v, _ in events)
        for record in records:
            headers = dict(record.headers)
            reason = headers[dlq.ERROR_MESSAGE].decode()
            expected = next(words for value, words in events if value == record.value)
            for word in expected:
                assert word in reason, (word, reason)
            assert_clean("a DLQ header", " ".join(v.decode() for v in headers.values()), secrets)

    # Outside check of the redaction: the provider saw each language's text (consent), but
    # not one contact detail, for requests in en, de, fr, es and ja.
    bodies = [r.text for r in fake.requests]
    for lang in LANGS:
        assert any(tag("text", lang) in b for b in bodies), f"no {lang} request escalated"
        assert_clean(f"a provider body ({lang})", "\n".join(bodies), list(CONTACTS[lang].values()))
    # And every result is back with its contact details restored where the provider answered.
    served = [d for d in delivered.values() if d.row.tier == "openai"]
    assert served, "the provider answered some requests"
