"""Updating a stored summary when new notifications join a stack already summarised."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from schemas.envelope import RequestEnvelope
from schemas.summarize import Notification, NotificationStack, NotificationSummary
from schemas.topics import Feature
from shared.messaging.handler import StateReader
from shared.observability.logging import describe_error
from shared.verification.grounding import Sources, check

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Previous:
    """A stored summary that covers the oldest notifications of the stack, and what is new."""

    summary: str
    extractive: bool
    covered_ids: tuple[str, ...]
    new: tuple[Notification, ...]


async def find_previous(
    state: StateReader | None,
    request: RequestEnvelope[NotificationStack],
    notifications: Sequence[Notification],
    sources: Sources,
) -> Previous | None:
    """The stored summary of this user's stack if it can be extended; None to start over.

    Looked up by tenant, user and stack id: stack ids come from apps, so another tenant or
    user may have a stack of the same id, and their summary must never seed this one.

    It can when it covers a prefix of the time-ordered ids (nothing was removed or reordered),
    and its text is still grounded in today's notifications (an app may edit one).
    """
    if state is None:
        return None
    stack_id = request.payload.stack_id
    stored = await state.latest_output(
        Feature.SUMMARIZE,
        tenant_id=request.tenant_id,
        user_id=request.user_id,
        subject_key=stack_id,
    )
    if stored is None:
        return None
    try:
        previous = NotificationSummary.model_validate(stored)
    except ValidationError as exc:
        log.warning("stored summary is unreadable, starting over: %s", describe_error(exc))
        return None
    ids = [n.id for n in notifications]
    covered = list(previous.covered_ids)
    if previous.skipped_reason or not previous.summary or not covered:
        return None
    if ids[: len(covered)] != covered:
        log.info("stack changed under its stored summary, starting over")
        return None
    report = check(previous.summary, sources)
    if not report.ok:
        log.info("stored summary no longer grounded (%d entities)", len(report.ungrounded))
        log.debug("stored summary of stack %s no longer grounded: %s", stack_id, report.describe())
        return None
    return Previous(
        summary=previous.summary,
        extractive=previous.extractive,
        covered_ids=tuple(covered),
        new=tuple(notifications[len(covered) :]),
    )
