"""The request-level safety layer: descriptions we refuse to turn into emoji or stickers.

Three checks, cheapest first, all before any retrieval or image generation:
`rules` (curated multilingual terms over normalised text), `semantic` (nearest labelled
exemplars under a multilingual sentence encoder, offline) and, only before an images call,
the provider's moderation endpoint (in the router). `SafetyGate` runs the two local ones.
"""

from services.emoji.safety.categories import Category, Refusal
from services.emoji.safety.rules import check

__all__ = ["Category", "Refusal", "check"]
