"""The faithfulness guard: invented entities are caught, grounded paraphrases pass."""

from __future__ import annotations

import pytest

from shared.verification.facts import EntityKind, extract
from shared.verification.grounding import Sources, check

SOURCES = [
    "Alice Moreau",
    "Dinner moved to 7:30 PM on Friday, March 14. Table at Chez Nous for 4.",
    "Bob Stone",
    "I paid $45.50 for the tickets, send me 20 dollars by tomorrow. Details: https://tix.example.com/o/88",
    "Mail me at bob.stone@example.org if plans change.",
]


@pytest.fixture(scope="module")
def sources() -> Sources:
    return Sources.of(SOURCES, counts=(2, 2))


@pytest.mark.parametrize(
    "summary",
    [
        "Alice moved dinner to 7:30pm Friday at Chez Nous; Bob paid $45.50 for the tickets.",
        "Bob wants $20 by tomorrow; dinner is on March 14 at 19:30.",
        "Alice Moreau: dinner Friday 14 March, 7.30 p.m., table for four.",
        "Bob asks for USD 20 tomorrow and paid 45.50 dollars; details at tix.example.com/o/88.",
        "Dinner moved to Friday. Bob will take an email at bob.stone@example.org.",
        "2 messages: Alice's dinner plan and Bob's ticket money.",
        "Plans for March: dinner Friday.",
    ],
)
def test_paraphrases_with_grounded_entities_pass(sources: Sources, summary: str) -> None:
    report = check(summary, sources)
    assert report.ok, report.describe()
    assert report.entities  # the summaries do mention entities; they are all grounded


@pytest.mark.parametrize(
    ("summary", "kind", "text"),
    [
        ("Carol moved dinner to Friday.", EntityKind.NAME, "Carol"),
        ("Dinner with Alice and Dr. Grant on Friday.", EntityKind.NAME, "Grant"),
        ("The BBC reports that Alice moved dinner.", EntityKind.NAME, "BBC"),
        ("Dinner moved to 8:30 PM on Friday.", EntityKind.TIME, "8:30 PM"),
        ("Dinner moved to 7:30 AM on Friday.", EntityKind.TIME, "7:30 AM"),
        ("Dinner moved to Saturday.", EntityKind.DATE, "Saturday"),
        ("Dinner moved to March 15.", EntityKind.DATE, "March 15"),
        ("Bob wants $25 by tomorrow.", EntityKind.AMOUNT, "$25"),
        ("Bob wants 20 euros by tomorrow.", EntityKind.AMOUNT, "20 euros"),
        ("Table for 6 at Chez Nous.", EntityKind.NUMBER, "6"),
        ("Table for five at Chez Nous.", EntityKind.NUMBER, "five"),
        ("Bob wants $20 by today.", EntityKind.DATE, "today"),
        (
            "Details at https://tix.example.com/o/89",
            EntityKind.LINK,
            "https://tix.example.com/o/89",
        ),
        ("Write to bob@example.org.", EntityKind.LINK, "bob@example.org."),
    ],
)
def test_invented_entities_are_rejected(
    sources: Sources, summary: str, kind: EntityKind, text: str
) -> None:
    report = check(summary, sources)
    assert not report.ok
    assert [(e.kind, e.text.rstrip(".")) for e in report.ungrounded] == [(kind, text.rstrip("."))]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("3pm", "3:00 PM"),
        ("3pm", "15:00"),
        ("3 p.m.", "3 o'clock"),
        ("noon", "12:00"),
        ("$20", "20 dollars"),
        ("$20", "$20.00"),
        ("USD 1,200", "$1200"),
        ("$1.2k", "1,200 dollars"),
        ("50 cents", "$0.50"),
        ("£5", "5 pounds"),
        ("March 5th", "5 March"),
        ("Mar. 5", "2025-03-05"),
        ("3/5", "March 5"),
        ("Fri", "Friday"),
        ("tonight", "today"),
        ("#Person1#", "Person1"),
        ("two", "2"),
    ],
)
def test_equal_facts_written_differently_normalise_alike(a: str, b: str) -> None:
    (ea,) = extract(a)
    (eb,) = extract(b)
    assert ea.kind == eb.kind
    assert ea.keys & eb.keys


@pytest.mark.parametrize(
    ("a", "b"),
    [("3pm", "3am"), ("$20", "€20"), ("$20", "$200"), ("March 5", "March 6"), ("Mon", "Tue")],
)
def test_different_facts_stay_different(a: str, b: str) -> None:
    (ea,) = extract(a)
    (eb,) = extract(b)
    assert not ea.keys & eb.keys


def test_amount_is_one_entity_not_also_a_number() -> None:
    assert [e.kind for e in extract("Pay $20 now")] == [EntityKind.AMOUNT]


def test_counts_of_the_stack_are_grounded_but_other_counts_are_not() -> None:
    sources = Sources.of(["Missed call", "Missed call", "Missed call"], counts=(3, 1))
    assert check("3 missed calls", sources).ok
    assert check("Three missed calls", sources).ok
    assert not check("4 missed calls", sources).ok


def test_speaker_tags_are_checked_as_speakers_not_numbers() -> None:
    sources = Sources.of(["#Person1#", "Hi, I need a room for 2 nights.", "#Person2#", "Sure."])
    assert check("#Person1# books a room for 2 nights with #Person2#.", sources).ok
    report = check("#Person3# books a room.", sources)
    assert [e.kind for e in report.ungrounded] == [EntityKind.SPEAKER]


def test_sentence_initial_common_words_are_not_names_but_unknown_ones_are() -> None:
    sources = Sources.of(["Bob: the parcel is here"])
    assert check("Reminder: Bob says the parcel is here.", sources).ok
    assert not check("Fedex says the parcel is here.", sources).ok


def test_multi_word_names_must_appear_as_a_phrase() -> None:
    sources = Sources.of(["New plan: meet Alice at the York office", "Times change"])
    assert check("Meet Alice at the York office.", sources).ok
    assert not check("The New York Times reports on Alice.", sources).ok


def test_possessives_and_typographic_apostrophes_match() -> None:
    sources = Sources.of(["Luigi's is booked for Dana"])
    assert check("Dana’s table at Luigi’s.", sources).ok


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("C'mon. We're only switching two days.", EntityKind.DATE),  # no Monday in "C'mon"
        ("It says'No smoking' on the door.", EntityKind.NAME),  # no name "No"
    ],
)
def test_no_fact_is_read_inside_a_contraction(text: str, absent: EntityKind) -> None:
    assert absent not in {e.kind for e in extract(text)}


def test_quoting_a_message_with_contractions_is_grounded() -> None:
    # Both once made the extractive fallback fail its own guard (a PermanentError, so the
    # request went to the dead-letter topic instead of getting a summary).
    texts = ["C'mon. We're only switching two days.", "It says'No smoking'"]
    for text in texts:
        assert check(text, Sources.of(texts)).ok


def test_a_name_one_speaker_calls_the_other_is_the_others() -> None:
    # DialogSum dev: the human summary names the speakers by the names they call each other.
    from shared.verification import attribution

    messages = [
        attribution.Message("#Person1#", "Excuse me, Mr. White? I just need you to sign these."),
        attribution.Message("#Person2#", "Sure, Sherry. Sorry to have kept you waiting."),
        attribution.Message("#Person1#", "That's my job, sir. Just one more signature here."),
        attribution.Message("#Person2#", "There you are."),
    ]
    assert attribution.problem("Sherry reminds Mr. White to sign.", messages) is None
    names = attribution._addressed_names(messages, {"person1", "person2"})
    assert names == {"sherry": "person1", "mr white": "person2", "white": "person2"}


def test_a_name_both_speakers_use_is_nobodys() -> None:
    from shared.verification import attribution

    messages = [
        attribution.Message("Anna", "Tom, are you coming?"),
        attribution.Message("Ben", "Yes. Tom, too."),
    ]
    assert attribution._addressed_names(messages, {"anna", "ben"}) == {}


def test_a_message_without_a_sender_does_not_break_the_names() -> None:
    from shared.verification import attribution

    messages = [
        attribution.Message("Anna", "Hi Ben, can you send the slides?"),
        attribution.Message("", "Reminder: standup at 10."),
        attribution.Message("Ben", "Sure, Anna."),
    ]
    assert attribution.problem("Anna asks Ben to send the slides.", messages) is None


def test_a_clause_about_both_speakers_or_opened_by_an_adverb_has_no_single_actor() -> None:
    from shared.verification import attribution

    messages = [
        attribution.Message("#Person1#", "There are advertisements everywhere in Hong Kong."),
        attribution.Message("#Person2#", "I like the billboards, they make the city feel alive."),
        attribution.Message("#Person1#", "Shall we go back to the books now?"),
    ]
    for summary in (
        "#Person1# and #Person2# talk about advertisements in Hong Kong.",
        "Then they get back to the books.",
    ):
        assert attribution.problem(summary, messages) is None, summary
    # One of them alone is still held to their own words.
    assert (
        attribution.problem("#Person1# likes the billboards.", messages)
        == "attributes a message to the wrong person"
    )
