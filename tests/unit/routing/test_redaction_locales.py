"""Redaction across locales: phone numbers of several regions in national and E.164
formats, postcodes in context, names where the text marks them; and ordinary sentences
full of numbers, quantities, times and prices that must come out unchanged."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from shared.routing.redaction import Redaction

CONTACT_DETAILS = [
    # phones, national + E.164
    ("Call me at (415) 555-2671 tonight.", "(415) 555-2671", "PHONE"),
    ("Call +1 415 555 2671 tonight.", "+1 415 555 2671", "PHONE"),
    ("Ring 020 7946 0958 after lunch.", "020 7946 0958", "PHONE"),
    ("Ring 07700 900123 after lunch.", "07700 900123", "PHONE"),
    ("Ring +44 7700 900123 after lunch.", "+44 7700 900123", "PHONE"),
    ("Ruf mich unter 030 12345678 an.", "030 12345678", "PHONE"),
    ("Ruf mich unter 0151 23456789 an.", "0151 23456789", "PHONE"),
    ("Ruf mich unter +49 151 23456789 an.", "+49 151 23456789", "PHONE"),
    ("Tel. +49 (0)30 1234567 bitte.", "+49 (0)30 1234567", "PHONE"),
    ("Appelle-moi au 06 12 34 56 78 demain.", "06 12 34 56 78", "PHONE"),
    ("Appelle-moi au 01.42.68.53.00 demain.", "01.42.68.53.00", "PHONE"),
    ("Appelle-moi au +33 6 12 34 56 78 demain.", "+33 6 12 34 56 78", "PHONE"),
    ("Bel me op 06-12345678 morgen.", "06-12345678", "PHONE"),
    ("Bel me op 020 123 4567 morgen.", "020 123 4567", "PHONE"),
    ("Bel me op +31 6 12345678 morgen.", "+31 6 12345678", "PHONE"),
    ("Llámame al 612 34 56 78 mañana.", "612 34 56 78", "PHONE"),
    ("Llámame al 912 345 678 mañana.", "912 345 678", "PHONE"),
    ("Llámame al +34 612 345 678 mañana.", "+34 612 345 678", "PHONE"),
    ("Chiamami al 347 123 4567 domani.", "347 123 4567", "PHONE"),
    ("Chiamami al 06 6982 1234 domani.", "06 6982 1234", "PHONE"),
    ("Chiamami al +39 347 123 4567 domani.", "+39 347 123 4567", "PHONE"),
    ("電話は090-1234-5678です。", "090-1234-5678", "PHONE"),
    ("電話は03-1234-5678です。", "03-1234-5678", "PHONE"),
    ("電話は+81 90-1234-5678です。", "+81 90-1234-5678", "PHONE"),
    # details touching Japanese letters (no spaces around them)
    ("メールはquill@example.com、よろしく。", "quill@example.com", "EMAIL"),
    ("詳細はhttps://example.com/x を見て", "https://example.com/x", "URL"),
    ("口座は12345678901です", "12345678901", "ACCOUNT"),
    ("カード4111111111111111で払う", "4111111111111111", "CARD"),
    # postcodes
    ("Send it to SW1A 1AA please.", "SW1A 1AA", "POSTCODE"),
    ("Send it to 10 Downing St, London SW1A 2AA.", "SW1A 2AA", "POSTCODE"),
    ("Ship to 1600 Pennsylvania Avenue, Washington, DC 20500-0003.", "20500-0003", "POSTCODE"),
    ("Ship to Springfield, IL 62704 by Friday.", "62704", "POSTCODE"),
    ("Zip code: 94103 for billing.", "94103", "POSTCODE"),
    ("Schick es an Hauptstraße 5, 10115 Berlin, danke.", "10115", "POSTCODE"),
    ("Adresse: D-80331 München.", "D-80331", "POSTCODE"),
    ("PLZ 20095, Hamburg.", "20095", "POSTCODE"),
    ("Envoyez à 12 rue de Rivoli, 75001 Paris, merci.", "75001", "POSTCODE"),
    ("Code postal : 69002 pour Lyon.", "69002", "POSTCODE"),
    ("Stuur naar Damrak 1, 1012 LG Amsterdam.", "1012 LG", "POSTCODE"),
    ("Postcode 3511 AB voor Utrecht.", "3511 AB", "POSTCODE"),
    ("Enviar a Calle Mayor 10, 28013 Madrid, gracias.", "28013", "POSTCODE"),
    ("Spedire a Via Roma 1, 00184 Roma, grazie.", "00184", "POSTCODE"),
    ("住所は〒100-0001 東京都です。", "100-0001", "POSTCODE"),
    # names
    ("Dear Alice, thanks for the note.", "Alice", "NAME"),
    ("Hi John Smith, see you soon.", "John Smith", "NAME"),
    ("Please ask Mr. Okafor about it.", "Okafor", "NAME"),
    ("Liebe Johanna, danke dir.", "Johanna", "NAME"),
    ("Bitte frag Frau Schneider.", "Schneider", "NAME"),
    ("Bonjour Camille, à demain.", "Camille", "NAME"),
    ("Je m'appelle Théo Martin.", "Théo Martin", "NAME"),
    ("Hola Lucía, nos vemos.", "Lucía", "NAME"),
    ("Me llamo Javier.", "Javier", "NAME"),
    ("Ciao Giulia, a presto.", "Giulia", "NAME"),
    ("Thanks,\nPriya", "Priya", "NAME"),
    ("Viele Grüße\nMarkus", "Markus", "NAME"),
    ("My name is Wei Zhang.", "Wei Zhang", "NAME"),
]

ORDINARY = [
    "Meeting on 2024-05-01 at 10:30, version 3.11.2, 1,000 units, 42 people.",
    "Room 12, floor 3, call me in 15 minutes; 25/12/2024 works.",
    "Total: $1,234.56 for 3 items on 12.03.2024.",
    "I have 2 Dr appointments and 3 St bernards.",
    "The train leaves at 14:45 from platform 9 and arrives at 18:20.",
    "We sold 12000 copies in 2023, up from 9500 in 2022.",
    "Order 3 kg of flour, 250 g butter and 2 litres of milk.",
    "The flight costs €1.299,00 and takes 11 hours 35 minutes.",
    "Die Konferenz hatte 10000 Besucher und 250 Aussteller.",
    "Wir treffen uns um 19:30 Uhr, Tisch 14, für 6 Personen.",
    "Der Preis liegt bei 12500 Euro, zahlbar in 24 Raten.",
    "Das Stadion fasst 75000 Zuschauer, 2000 mehr als letztes Jahr.",
    "Le colis de 2,5 kg arrive le 12/03 entre 8h et 12h.",
    "Nous avons 35000 abonnés et 1200 commentaires, merci !",
    "Il reste 15000 places, prix 45 €, ouverture à 20h30.",
    "El pedido 4521 llega el 3 de mayo, son 120 euros.",
    "Compramos 25000 unidades a 3,50 euros cada una.",
    "Il volo parte alle 7:15, costa 89 euro, posto 23A.",
    "Abbiamo 30000 clienti, 120 dipendenti e 12 negozi.",
    "Het kost 1250 euro en duurt 3 uur, vertrek om 9:45.",
    "We hebben 2024 EU subsidie en 150 medewerkers.",
    "Score was 3-2, attendance 45000, next game 2025-01-04.",
    "Batch 20231 passed QA at 98.5% with 12 defects per 10000.",
    "Version 10.0.19045 build 4291 fixed 17 bugs.",
    "Model X has 450 hp, 0-100 km/h in 4.2 s, price $79,990.",
    "I ran 10 km in 52:30, my best since March 2021.",
    "Chapter 12, page 345, paragraph 3 of the 2019 edition.",
    "Temperature 21.5 °C, humidity 65%, wind 15 km/h.",
    "The CPU runs at 3.6 GHz with 16 GB RAM and a 1 TB SSD.",
    "Invoice total 4,750.00 USD due in 30 days.",
    "セールは3月15日10時から、価格は1980円です。",
    "参加者は1200人、会場は3階の301号室です。",
    "Hi all, the meeting moved to 3pm.",
    "Dear Sir or Madam, please find attached 3 files.",
    "Best regards\nThe team",
    "Liebe Grüße und bis bald!",
    "Sehr geehrte Damen und Herren, anbei 2 Dokumente.",
    "Thanks, see you at 10.",
    "I am happy with the 5 results.",
    "In 2022 we had 50000 users, in 2023 about 80000.",
]

GREETINGS_WITHOUT_NAMES = [
    "Ich bin müde, komme um 8.",
    "Hi there, 2 quick questions.",
    "Hallo zusammen, Treffen um 9.",
    "Bonjour à tous, rendez-vous à 10h.",
    "Hola a todos, son las 5.",
    "Ciao a tutti, ci vediamo alle 18.",
    "I'm at gate 23 now.",
    "Cheers!",
    "Thanks again for the 3 tickets.",
]


@pytest.mark.parametrize(("text", "value", "kind"), CONTACT_DETAILS)
def test_contact_details_are_replaced_and_restored(text: str, value: str, kind: str) -> None:
    redaction = Redaction()
    redacted = redaction.redact(text)
    assert value not in redacted, redacted
    assert f"[{kind}_1]" in redacted, redacted
    assert redaction.rehydrate(redacted) == text


@pytest.mark.parametrize("text", ORDINARY + GREETINGS_WITHOUT_NAMES)
def test_ordinary_sentences_with_numbers_are_left_alone(text: str) -> None:
    redaction = Redaction()
    assert redaction.redact(text) == text
    assert redaction.empty


def test_rates_over_the_sets() -> None:
    """The numbers the docs quote: every detail caught, no ordinary sentence touched."""
    caught = sum(value not in Redaction().redact(text) for text, value, _kind in CONTACT_DETAILS)
    touched = sum(Redaction().redact(t) != t for t in ORDINARY + GREETINGS_WITHOUT_NAMES)
    assert (caught, len(CONTACT_DETAILS)) == (len(CONTACT_DETAILS), 56)
    assert (touched, len(ORDINARY + GREETINGS_WITHOUT_NAMES)) == (0, 49)


def test_a_number_valid_in_several_regions_gets_one_placeholder() -> None:
    redaction = Redaction()
    text = "Call 06 12 34 56 78 or 06 12 34 56 78, not 030 12345678."
    redacted = redaction.redact(text)
    assert redacted == "Call [PHONE_1] or [PHONE_1], not [PHONE_2]."
    assert redaction.counts == {"PHONE": 2}


def test_full_address_block_in_german() -> None:
    redaction = Redaction()
    text = "Lieferung an Frau Schneider, Hauptstraße 5, 10115 Berlin, Tel. 030 12345678."
    redacted = redaction.redact(text)
    for secret in ("Schneider", "Hauptstraße 5", "10115", "030 12345678"):
        assert secret not in redacted, redacted
    assert redaction.rehydrate(redacted) == text


class Contact(BaseModel):
    greeting: str
    lines: list[str]


def test_new_kinds_rehydrate_inside_structured_answers() -> None:
    redaction = Redaction()
    redaction.redact("Dear Alice, send it to SW1A 1AA or call 0151 23456789.")
    answer = Contact(greeting="Hello [NAME_1]", lines=["[POSTCODE_1]", "phone: [phone_1]"])
    restored = redaction.rehydrate_model(answer)
    assert restored.greeting == "Hello Alice"
    assert restored.lines == ["SW1A 1AA", "phone: 0151 23456789"]


def test_names_without_a_marking_context_are_not_found() -> None:
    """The documented limit: no named-entity model, so a bare name in running text stays."""
    text = "Alice will pick up the keys from Bob."
    assert Redaction().redact(text) == text
