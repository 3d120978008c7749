"""The App Home tab: the user's teams, their open criticals and highs by image, acceptances ending this week, and
per image the buttons to rescan, triage or open its thread. Pure: what the job read in, a ``home`` view out,
within Slack's limit of 100 blocks (the images left out are counted in the last line)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.render.slack_text import Mrkdwn, channel, escape, mrkdwn

MAX_BLOCKS = 100
HOME_RESCAN = "home_rescan"
HOME_TRIAGE = "home_triage"


@dataclass(frozen=True)
class ImageHome:
    reference: str
    critical: int | None  # open after triage; None: not scanned yet
    high: int | None
    expiring: tuple[tuple[str, str, str], ...] = ()  # (vulnerability, package, until) ending within 7 days
    thread: str | None = None  # the permalink of its latest thread in the team's channel


@dataclass(frozen=True)
class TeamHome:
    name: str
    channel: str
    images: tuple[ImageHome, ...] = field(default_factory=tuple)


def short(reference: str) -> str:
    return reference.removeprefix("docker.io/library/").removeprefix("docker.io/")


def home_view(teams: list[TeamHome], updated: str, *, routed: bool = True) -> dict:
    """The Home tab. ``routed``: a routing file is in force (else the tab says how to set one up)."""
    blocks: list[dict] = [_section(Mrkdwn("*chainscan*: your teams' images, open criticals and highs after triage."))]
    if not teams:
        why = (
            "You are in no team of the routing file: ask whoever keeps `deploy/owners.yaml` to add you to a team's "
            "`members` (or its user group)."
            if routed
            else "No routing file is in force: teams come from `deploy/owners.yaml` (see the README's *Owners*)."
        )
        blocks.append(_section(Mrkdwn(why)))
    left_out = 0
    for team in teams:
        if len(blocks) + 3 > MAX_BLOCKS - 1:
            left_out += len(team.images)
            continue
        blocks.append({"type": "divider"})
        blocks.append(_section(_team_line(team)))
        for image in team.images:
            if len(blocks) + 2 > MAX_BLOCKS - 1:
                left_out += 1
                continue
            blocks += [_section(_image_line(image)), _buttons(team, image)]
    if left_out:
        blocks.append(
            _context(
                f"{left_out} more images are not shown here (Slack shows at most {MAX_BLOCKS} blocks); `/scan watch list` in each channel lists them."
            )
        )
    blocks.append(_context(f"Updated {escape(updated)}."))
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


def _team_line(team: TeamHome) -> Mrkdwn:
    critical = sum(i.critical or 0 for i in team.images)
    high = sum(i.high or 0 for i in team.images)
    return (
        mrkdwn("*{name}* ", name=team.name)
        + Mrkdwn(f"in {channel(team.channel)}")
        + mrkdwn(" · {n} watched images · {c} critical, {h} high open", n=len(team.images), c=critical, h=high)
    )


def _image_line(image: ImageHome) -> Mrkdwn:
    if image.critical is None:
        line = mrkdwn("`{image}` · not scanned yet", image=short(image.reference))
    else:
        emoji = "🔴" if image.critical else "🟠" if image.high else "🟢"
        line = mrkdwn(
            "{emoji} `{image}` · {c} critical, {h} high open",
            emoji=emoji,
            image=short(image.reference),
            c=image.critical,
            h=image.high,
        )
    for vuln, package, until in image.expiring[:5]:
        line += mrkdwn("\n⏳ acceptance of {v} in {p} ends {until}", v=vuln, p=package, until=until)
    return Mrkdwn(str(line)[:2900])


def _buttons(team: TeamHome, image: ImageHome) -> dict:
    value = f"{team.channel}|{image.reference}"[:2000]
    elements = [
        {"type": "button", "action_id": HOME_RESCAN, "text": {"type": "plain_text", "text": "Rescan"}, "value": value},
        {"type": "button", "action_id": HOME_TRIAGE, "text": {"type": "plain_text", "text": "Triage"}, "value": value},
    ]
    if image.thread:
        elements.append(
            {
                "type": "button",
                "action_id": "home_open_thread",
                "text": {"type": "plain_text", "text": "Open thread"},
                "url": image.thread,
            }
        )
    return {"type": "actions", "elements": elements}


def _section(text: Mrkdwn) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": str(text)[:3000]}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}
