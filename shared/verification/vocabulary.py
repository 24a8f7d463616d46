"""Word lists the fact extractor and the summarizer's urgency rules share (English)."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

MONTHS: Final[dict[str, int]] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip

WEEKDAYS: Final[dict[str, int]] = {
    "monday": 0, "mon": 0, "tuesday": 1, "tues": 1, "tue": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thu": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip

# Relative days and the day each one names; "tonight" is part of "today".
RELATIVE_DAYS: Final[dict[str, str]] = {
    "today": "today", "tonight": "today", "tomorrow": "tomorrow", "tmrw": "tomorrow",
    "yesterday": "yesterday", "weekend": "weekend",
}  # fmt: skip

# "one" is left out: "no one", "one of them" are not counts.
NUMBER_WORDS: Final[dict[str, int]] = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000, "twice": 2, "dozen": 12,
    "both": 2, "couple": 2,
}  # fmt: skip

CURRENCY_SYMBOLS: Final[dict[str, str]] = {
    "US$": "USD", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW",
}  # fmt: skip

# Currency words and the factor to the main unit ("50 cents" is 0.5 USD).
CURRENCY_WORDS: Final[dict[str, tuple[str, Decimal]]] = {
    "dollars": ("USD", Decimal(1)), "dollar": ("USD", Decimal(1)), "bucks": ("USD", Decimal(1)),
    "usd": ("USD", Decimal(1)), "cents": ("USD", Decimal("0.01")),
    "euros": ("EUR", Decimal(1)), "euro": ("EUR", Decimal(1)), "eur": ("EUR", Decimal(1)),
    "pounds": ("GBP", Decimal(1)), "pound": ("GBP", Decimal(1)), "quid": ("GBP", Decimal(1)),
    "gbp": ("GBP", Decimal(1)), "pence": ("GBP", Decimal("0.01")),
    "yen": ("JPY", Decimal(1)), "jpy": ("JPY", Decimal(1)),
    "rupees": ("INR", Decimal(1)), "inr": ("INR", Decimal(1)),
    "yuan": ("CNY", Decimal(1)), "rmb": ("CNY", Decimal(1)),
}  # fmt: skip


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Capitalised everywhere, never a name; the greetings of the languages the other word lists
# know, so that "Salut Paul !" names Paul, not "Salut Paul".
ALWAYS_CAPITALISED: Final[frozenset[str]] = _wordset(
    "i i'm i'll i've i'd ok okay hi hey hello ps re fw fwd dr mr mrs ms mx prof st"
    " hallo servus moin salut bonjour bonsoir hola ciao olá oi"
    # The salutations and sign-offs of formal letters ("Sehr geehrte Damen und Herren",
    # "Mit freundlichen Grüßen", "Madame, Monsieur"): capitalised nouns, never a name.
    " damen herren grüßen grüße grüsse gruß kolleginnen kollegen madame monsieur mesdames"
    " messieurs señor señora señores saludos signora signore"
)

# Words that commonly open a sentence of a summary or a message; capitalised there by
# grammar only. A sentence-initial word outside this list is checked like a name.
SENTENCE_STARTERS: Final[frozenset[str]] = (
    _wordset(
        """
    a an the this that these those there here it its they them their he him his she her we
    us our you your yours my me mine who whom whose what when where why how which while
    if then so but and or nor yet also as at by for from in into of off on onto out over to
    up upon with within without about above after again against all any before below
    between both during each few more most no not only other same some such than too very
    can could may might must shall should will would do does did done don't doesn't didn't
    is are was were be been being have has had having get gets got getting let let's lets
    please thanks thank sorry yes yeah yep nope sure great good nice cool fine well oh wow
    dear just still now new old next last first second third another every everyone
    everybody someone somebody anyone anybody nobody nothing something anything everything
    reminder update updates summary note notice alert warning important urgent asap fyi
    meeting call calls missed message messages email emails text texts chat reply replies
    payment order delivery package parcel shipment your account security verification code
    one two three four five six seven eight nine ten several many lots both neither either
    once since until unless because although though however meanwhile later soon today
    tonight tomorrow yesterday morning afternoon evening night weekend week month year
    please see check join come go going gone went coming meet ask asks asked asking tell
    tells told say says said talk talks talked discuss discusses discussed want wants wanted
    need needs needed like likes liked love loves loved hope hopes think thinks thought
    know knows knew make makes made take takes took give gives gave find finds found
    send sends sent sending receive received arriving arrived arrives confirm confirmed
    pay pays paid buy buys bought bring brings brought help helps helped invite invites
    invited remember remembers remembered agree agrees agreed decide decides decided
    cancel cancelled canceled schedule scheduled rescheduled moved move booked book
    don't can't won't isn't aren't wasn't weren't haven't hasn't hadn't shouldn't wouldn't
    couldn't it's that's there's here's what's who's we're we'll we've you're you'll
    they're they'll he's she's
    write writes wrote reply replied read reads open opens review reviews sign signs submit
    share shares shared watch listen pick drop grab try tries tried wait waits hurry leave
    leaves left stop stops start starts started keep stay turn use visit contact track
    download install verify enter tap click complete finish prepare plan plans arrange
    remind reminds reminded expect expects let lets allow offers offer suggest suggests
    suggested explain explains explained show shows showed invites inform informs informed
    dinner lunch breakfast party flight train bus trip travel hotel room table ticket
    tickets team family friends friend group work job school class doctor appointment
    bill bills invoice receipt refund transfer deposit balance card bank money price
    order orders item items news photo photos video videos post posts event events
    everyone's nobody's
    kind kindly warm warmest warmly regards sincerely respectfully cordially cheers yours
    greetings unfortunately fortunately regrettably additionally furthermore moreover
    however therefore consequently otherwise instead meanwhile apologies apology
    congratulations welcome attached enclosed following looking hoping wishing best
    certainly absolutely definitely actually basically honestly hopefully ideally
    alternatively finally firstly secondly lastly overall currently recently
    """
    )
    | ALWAYS_CAPITALISED
)
