"""Explicit size limits of every contract, in one place.

They bound memory and model cost per event; an event over a limit is rejected with the
limit's name in the error, so the producer knows exactly what to fix.
"""

from __future__ import annotations

from typing import Final

MAX_EVENT_BYTES: Final = 256 * 1024
ID_MAX_CHARS: Final = 128
LOCALE_MAX_CHARS: Final = 35

# Notification summaries
MAX_NOTIFICATIONS_PER_STACK: Final = 50
MAX_NOTIFICATION_TITLE_CHARS: Final = 200
MAX_NOTIFICATION_BODY_CHARS: Final = 2_000
MIN_SUMMARY_CHARS: Final = 40
MAX_SUMMARY_CHARS: Final = 400
DEFAULT_SUMMARY_CHARS: Final = 160
MAX_OPTED_OUT_APPS: Final = 200

# Writing tools
MAX_WRITING_TEXT_CHARS: Final = 8_000
MAX_INSTRUCTION_CHARS: Final = 500

# Emoji
MAX_EMOJI_DESCRIPTION_CHARS: Final = 200
MAX_EMOJI_COUNT: Final = 10
MAX_STICKER_VARIATIONS: Final = 4
MIN_STICKER_PX: Final = 160
MAX_STICKER_PX: Final = 256
