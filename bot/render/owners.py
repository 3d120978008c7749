"""Who owns an image, as a sentence: for the terminal (plain) and for Slack (escaped, with a channel link).
Pure."""

from __future__ import annotations

from bot.render.slack_text import Mrkdwn, channel, escape, group, mrkdwn
from workers.owners.lookup import Ownership


def owner_mrkdwn(image: str, ownership: Ownership) -> Mrkdwn:
    """``mariadb`` is owned by *payments* in #payments (@payments-oncall): why. One paragraph, escaped."""
    owner, lines = ownership.owner, []
    if owner is None:
        lines.append(
            mrkdwn(
                "Nobody owns `{image}`: no team of the routing file claims it and no channel watches it.", image=image
            )
        )
    else:
        who = mrkdwn("*{team}*", team=owner.team) if owner.team else mrkdwn("the channel")
        ping = Mrkdwn(f" ({group(owner.group)})") if owner.group else ""
        lines.append(
            mrkdwn("`{image}` is owned by ", image=image)
            + who
            + Mrkdwn(f" in {channel(owner.channel)}")
            + ping
            + mrkdwn(": {why}.", why=owner.why)
        )
    lines += _notes(ownership, escape)
    return Mrkdwn("\n".join(lines))


def owner_text(image: str, ownership: Ownership) -> str:
    """The same for a terminal: channel IDs as they are, nothing escaped."""
    owner = ownership.owner
    if owner is None:
        first = f"Nobody owns {image}: no team of the routing file claims it and no channel watches it."
    else:
        who = f"team {owner.team}" if owner.team else "the channel"
        ping = f", user group {owner.group}" if owner.group else ""
        first = f"{image} is owned by {who} in channel {owner.channel}{ping}: {owner.why}."
    return "\n".join([first, *_notes(ownership, str)])


def _notes(ownership: Ownership, escape_text) -> list[str]:
    notes = []
    if ownership.labels_problem:
        notes.append(f"(Labels not read: {escape_text(ownership.labels_problem)}.)")
    if ownership.file_problem:
        notes.append(f"(Routing file: {escape_text(ownership.file_problem)})")
    return notes


def owned_elsewhere(image: str, ownership: Ownership, here: str) -> Mrkdwn | None:
    """The note a /scan in another channel gets: who owns the image, when a team does and it is not here."""
    owner = ownership.owner
    if owner is None or owner.team is None or owner.channel == here:
        return None
    return mrkdwn("`{image}` is owned by *{team}*", image=image, team=owner.team) + Mrkdwn(
        f" ({channel(owner.channel)}): its alerts and digests are theirs to act on; `/scan owners` says why."
    )
