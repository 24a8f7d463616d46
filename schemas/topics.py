"""Topic names.

Rule: `cairn.<feature>.<kind>.v<major>` where kind is `requests` or `results`; one shared
dead-letter topic `cairn.dlq.v1`. The major version changes only with a breaking change of
the contract; producers and consumers of both versions then run side by side until the old
topic drains. Records are keyed by the thread / stack / user id so that one conversation
stays in order on one partition.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DLQ_TOPIC: Final = "cairn.dlq.v1"


class Feature(StrEnum):
    SUMMARIZE = "summarize"
    REWRITE = "rewrite"
    EMOJI = "emoji"


def request_topic(feature: str, version: int = 1) -> str:
    return f"cairn.{feature}.requests.v{version}"


def result_topic(feature: str, version: int = 1) -> str:
    return f"cairn.{feature}.results.v{version}"
