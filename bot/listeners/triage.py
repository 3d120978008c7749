"""Triage in the thread: the menu on each critical and high row, and its three modals.

*Acknowledge* and *Reopen* act at once; *Assign…*, *Accept risk…* and *False positive…* open a modal
(``views.open`` must use the trigger within 3 seconds, so it is made here). A decision is stored before the
ack (one Redis transaction); showing it (the row, a note in the thread) is an RQ job. Menu values carry a
short versioned key, never the decision: a tampered or unknown key is refused with a sentence.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.findings_messages import FindingsMessages
from bot.jobs.home import enqueue_home
from bot.jobs.triage_import import enqueue_prepare_import, unstash
from bot.jobs.triage_thread import enqueue_show_decision
from bot.listeners.context import ListenerContext, enqueue_or_explain, nested_id, scan_denied, text_id
from bot.render import slack_text
from bot.render.findings import TRIAGE_ACTION, Verb
from bot.render.triage_views import (
    ACCEPT_CALLBACK,
    ASSIGN_CALLBACK,
    ASSIGNEE,
    CALLBACKS,
    FALSE_POSITIVE_CALLBACK,
    IMPORT_CALLBACK,
    JUSTIFICATION,
    REASON,
    REPOSITORY,
    SCOPE,
    UNTIL,
    import_waiting,
    metadata_key,
    submitted_fields,
    submitted_repository,
    triage_modal,
)
from bot.slack_client import error_code, tell_user
from bot.usergroups import membership
from workers.reference import InvalidReference, parse_reference
from workers.triage.decide import Change, decide
from workers.triage.imports import IMPORT_SEVERITY, Proposal, refusals
from workers.triage.model import Scope, StaleDecision, TriageState
from workers.triage.store import ActionTarget, DecisionStore
from workers.triage.validate import TriageInputError

log = logging.getLogger(__name__)

UNKNOWN_MENU = "I do not recognise that menu (it may come from an altered or very old message). Run `/scan` again."
MODALS = {Verb.ASSIGN: ASSIGN_CALLBACK, Verb.ACCEPT: ACCEPT_CALLBACK, Verb.FALSE_POSITIVE: FALSE_POSITIVE_CALLBACK}
DECIDING = {ACCEPT_CALLBACK, FALSE_POSITIVE_CALLBACK}  # decisions that hide a finding: TRIAGE_ALLOWED_*


def register(app: App, ctx: ListenerContext) -> None:
    register_import(app, ctx)

    @app.action(TRIAGE_ACTION)
    def triage_menu(ack: Ack, body: dict, client) -> None:
        ack()
        verb, key = _choice(body)
        target = _target(ctx, key, body)
        user, channel = nested_id(body, "user"), nested_id(body, "channel")
        say = _responder(body)
        if target is None or verb not in Verb.LABELS:
            say(UNKNOWN_MENU)
            return
        denial = scan_denied(ctx.settings, channel, user)
        if not denial and MODALS.get(verb) in DECIDING:
            denial = _decider_denied(ctx, client, user)
        if denial:
            say(denial)
            return
        if verb in MODALS:
            _open_modal(ctx, client, body, verb, key, target, say)
            return
        state = TriageState.ACKNOWLEDGED if verb == Verb.ACKNOWLEDGE else TriageState.OPEN
        problem = _decide_all(ctx, target, key, Change(state=state, by=user, thread=_thread_link(target)))
        if problem:
            say(problem[1])

    for callback in CALLBACKS:

        @app.view(callback)
        def triage_submitted(ack: Ack, body: dict, view: dict, client) -> None:
            callback_id = view.get("callback_id") if isinstance(view, dict) else None
            key, user = metadata_key(view), nested_id(body, "user")
            target = _target(ctx, key, body)
            if target is None or not user:
                ack(response_action="errors", errors={REASON: UNKNOWN_MENU})
                return
            if callback_id in DECIDING and (denial := _decider_denied(ctx, client, user)):
                ack(response_action="errors", errors={REASON: denial})
                return
            fields = submitted_fields(view)
            change, problem = _submitted_change(ctx, callback_id, fields, user, target, key)
            if problem:
                ack(response_action="errors", errors={SCOPE: problem})
                return
            problem = _decide_all(ctx, target, key, change)
            if problem:
                field, sentence = problem
                ack(response_action="errors", errors={_block_for(callback_id, field): sentence})
                return
            ack()


IMPORT_SHORTCUT = "import_triage"
NO_FILE = "Use *Import triage decisions* on a message with an OpenVEX file or a .trivyignore.yaml attached."


def register_import(app: App, ctx: ListenerContext) -> None:
    @app.shortcut(IMPORT_SHORTCUT)
    def import_shortcut(ack: Ack, shortcut: dict, client) -> None:
        ack()
        channel, user, team = nested_id(shortcut, "channel"), nested_id(shortcut, "user"), nested_id(shortcut, "team")
        say = _responder(shortcut)
        denial = scan_denied(ctx.settings, channel, user) or _decider_denied(ctx, client, user)
        files = (shortcut.get("message") or {}).get("files") if isinstance(shortcut.get("message"), dict) else None
        file_id = (
            text_id(files[0].get("id")) if isinstance(files, list) and files and isinstance(files[0], dict) else None
        )
        trigger = text_id(shortcut.get("trigger_id"))
        if denial or not file_id or not trigger:
            say(denial or NO_FILE)
            return
        try:
            view_id = client.views_open(trigger_id=trigger, view=import_waiting())["view"]["id"]
        except SlackApiError as exc:
            log.warning("views.open failed: %s", error_code(exc))
            say("I could not open the import form; try again in a moment.")
            return
        request = {"team": team, "user": user, "channel": channel, "file": file_id, "view": view_id}
        failure = enqueue_or_explain(lambda: enqueue_prepare_import(ctx.queue, request), "an import")
        if failure:
            say(failure)

    @app.view(IMPORT_CALLBACK)
    def import_confirmed(ack: Ack, body: dict, view: dict, client) -> None:
        user, team = nested_id(body, "user"), nested_id(body, "team")
        data = unstash(ctx.redis, metadata_key(view))
        if data is None or not user or (team and data.get("team") and data["team"] != team):
            ack(response_action="errors", errors={REPOSITORY: "This import expired (an hour); start it again."})
            return
        if denial := _decider_denied(ctx, client, user):
            ack(response_action="errors", errors={REPOSITORY: denial})
            return
        try:
            image = parse_reference(submitted_repository(view) or "")
        except InvalidReference as exc:
            ack(response_action="errors", errors={REPOSITORY: str(exc)})
            return
        proposals = [Proposal.from_dict(p) for p in data["proposals"]]
        if refused := _import_refusals(ctx, proposals):
            ack(response_action="errors", errors={REPOSITORY: refused})  # nothing stored
            return
        stored, skipped = _store_import(ctx, data, proposals, image, user, team)
        ack()
        summary = _import_summary(user, stored, data["name"], skipped)
        try:
            client.chat_postMessage(channel=data["channel"], text=summary)
        except SlackApiError as exc:
            log.warning("import summary not posted: %s", error_code(exc))


def _store_import(ctx: ListenerContext, data: dict, proposals: list[Proposal], image, user: str, team: str | None):
    """Each proposal decided as the menu would; ``(how many changed, the sentences of those skipped)``."""
    stored, skipped = 0, []
    for proposal in proposals:
        change = Change(
            proposal.state,
            by=user,
            reason=proposal.reason,
            until=proposal.until,
            justification=proposal.justification,
            thread=None,
        )
        repository = parse_reference(proposal.repository) if proposal.repository else image
        try:
            result = decide(
                DecisionStore(ctx.redis),
                ctx.settings.engine,
                team=data.get("team") or team or "local",
                image=repository,
                vulnerability=proposal.vulnerability,
                package=proposal.package,
                change=change,
                now=_now(),
                severity=IMPORT_SEVERITY,
            )
            stored += result.changed
        except TriageInputError as exc:
            skipped.append(f"{proposal.vulnerability} in {proposal.package}: {exc.sentence}")
    return stored, skipped


def _import_summary(user: str, stored: int, name: str, skipped: list[str]) -> str:
    """``@ana imported 3 triage decisions from x.yaml.``; the file's name and lines are escaped (a stranger's)."""
    summary = f"{slack_text.user(user)} imported {stored} triage decision{'s' if stored != 1 else ''} from "
    summary += slack_text.escape(name) + "."
    if skipped:
        listed = "; ".join(skipped[:5]) + ("…" if len(skipped) > 5 else "")
        summary += f" {len(skipped)} skipped: " + slack_text.escape(listed)
    return summary


def _import_refusals(ctx: ListenerContext, proposals: list[Proposal]) -> str | None:
    """The menus' limits, applied to a whole import before anything is stored: a sentence, or None."""
    engine = ctx.settings.engine
    found = refusals(
        proposals,
        today=_now().date(),
        max_accept_days=engine.triage_max_accept_days,
        max_accept_days_critical=engine.triage_max_accept_days_critical,
    )
    if not found:
        return None
    more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
    return "Nothing was imported: " + "; ".join(found[:3]) + more


def _choice(body: dict) -> tuple[str | None, str | None]:
    actions = body.get("actions") if isinstance(body, dict) else None
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    option = action.get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    if not isinstance(value, str) or "|" not in value:
        return None, None
    verb, _, key = value.partition("|")
    return verb, key


def _target(ctx: ListenerContext, key: str | None, body: dict) -> ActionTarget | None:
    """The row a key names, if it belongs to the workspace the request comes from."""
    if not key:
        return None
    try:
        target = DecisionStore(ctx.redis).resolve_action_key(key)
    except Exception:
        log.exception("could not read an action key")
        return None
    team = nested_id(body, "team")
    if target is None or (team and target.team != team):
        return None
    return target


def _change(callback_id: str | None, fields: dict, user: str, target: ActionTarget, digest: str | None) -> Change:
    link = _thread_link(target)
    if callback_id == ASSIGN_CALLBACK:
        return Change(TriageState.ASSIGNED, by=user, assignee=fields["assignee"], reason=fields[REASON], thread=link)
    if callback_id == ACCEPT_CALLBACK:
        return Change(
            TriageState.ACCEPTED, by=user, reason=fields[REASON], until=fields[UNTIL], digest=digest, thread=link
        )
    return Change(
        TriageState.FALSE_POSITIVE, by=user, justification=fields[JUSTIFICATION], reason=fields[REASON], thread=link
    )


def _decide_all(ctx: ListenerContext, target: ActionTarget, key: str, change: Change) -> tuple[str, str] | None:
    """Store the change for every package of the row, then queue showing it; a problem is (field, sentence)."""
    severity = _severity(ctx, key)
    try:
        versions = []
        for repository in target.all_repositories:  # a grouped alert's "all images": each repository
            for package in target.all_packages:
                result = decide(
                    DecisionStore(ctx.redis),
                    ctx.settings.engine,
                    team=target.team,
                    image=parse_reference(repository),
                    vulnerability=target.vulnerability,
                    package=package,
                    change=change,
                    now=_now(),
                    severity=severity,
                )
                versions.append(result.decision.version)
    except TriageInputError as exc:
        return exc.field, exc.sentence
    except StaleDecision as exc:
        return REASON, str(exc)
    except Exception:
        log.exception("could not store a triage decision")
        return REASON, "I could not save that: the bot's Redis is not answering. Try again in a minute."
    failure = enqueue_or_explain(lambda: enqueue_show_decision(ctx.queue, key, max(versions)), "a triage update")
    if not failure and change.by:  # the decider's Home tab shows the new counts
        enqueue_or_explain(lambda: enqueue_home(ctx.queue, ctx.redis, target.team, change.by), "a Home update")
    return (REASON, failure) if failure else None


def _open_modal(ctx: ListenerContext, client, body: dict, verb: str, key: str, target: ActionTarget, say) -> None:
    """The form of a menu choice, with the scopes this finding may be decided for."""
    trigger = text_id(body.get("trigger_id"))
    if not trigger:
        say("Slack did not send what I need to open the form; try the menu again.")
        return
    modal = triage_modal(
        MODALS[verb],
        key,
        _title(target),
        today=_now().date(),
        max_days=_max_days(ctx, key),
        scopes=tuple((s.value, label) for s, (label, _) in _wider_scopes(ctx, target).items()),
    )
    try:
        client.views_open(trigger_id=trigger, view=modal)
    except SlackApiError as exc:
        log.warning("views.open failed: %s", error_code(exc))
        say("I could not open the triage form; try again in a moment.")


def _submitted_change(ctx, callback_id, fields: dict, user: str, target: ActionTarget, key: str):
    """The change a modal asks for, with its scope: (change, None), or (None, a sentence for the scope field)."""
    digest = _digest(ctx, key) if fields[SCOPE] == "digest" else None
    change = _change(callback_id, fields, user, target, digest)
    if fields[SCOPE] not in (Scope.TEAM.value, Scope.BASE.value):
        return change, None
    wider = _wider_scopes(ctx, target).get(Scope(fields[SCOPE]))
    if wider is None:
        return None, "That scope is no longer offered for this image; pick another."
    return replace(change, **{"owner_team" if fields[SCOPE] == Scope.TEAM.value else "base": wider[1]}), None


def _wider_scopes(ctx: ListenerContext, target: ActionTarget) -> dict[Scope, tuple[str, str]]:
    """The team- and base-wide scopes a decision on ``target`` may take: the owning team (routing file and the
    image's labels) and the base (named, or its OS's official image), from the repository's latest scan."""
    from workers.base.attribution import official_candidate
    from workers.owners.lookup import owning_team
    from workers.scan.store import ReportStore
    from workers.triage.apply import repository_of

    latest = next(iter(ReportStore(ctx.redis).history(target.repository, 1)), {})
    offered = {}
    team = owning_team(ctx.settings.engine, ctx.redis, target.repository, latest.get("labels"))
    if team:
        offered[Scope.TEAM] = (f"Every image of team {team}", team)
    base = latest.get("base") or official_candidate(latest.get("os"))
    if base and (repository := repository_of(base)) and repository != target.repository:
        offered[Scope.BASE] = (f"Every image built on {repository.removeprefix('docker.io/library/')}", repository)
    return offered


def _decider_denied(ctx: ListenerContext, client, user: str | None) -> str | None:
    """Accepting a risk and marking a false positive: TRIAGE_ALLOWED_USERS / TRIAGE_ALLOWED_GROUPS, when set."""
    users, groups = ctx.settings.triage_users, ctx.settings.triage_groups
    if not users and not groups:
        return None
    if user in users or (groups and _in_groups(ctx, client, user, groups)):
        return None
    who = ", ".join([slack_text.user(u) for u in sorted(users)] + [slack_text.group(g) for g in sorted(groups)])
    return f"Only {who} may accept risks or mark false positives here (TRIAGE_ALLOWED_USERS, TRIAGE_ALLOWED_GROUPS)."


def _in_groups(ctx: ListenerContext, client, user: str | None, groups: frozenset[str]) -> bool:
    return bool(membership(ctx.redis, client, user, groups).groups)


def _severity(ctx: ListenerContext, key: str) -> str:
    places = FindingsMessages(ctx.redis).places(key)
    return places[0].severity if places else "unknown"


def _digest(ctx: ListenerContext, key: str) -> str | None:
    places = FindingsMessages(ctx.redis).places(key)
    return places[0].digest if places else None


def _max_days(ctx: ListenerContext, key: str) -> int:
    engine = ctx.settings.engine
    critical = _severity(ctx, key) == "critical"
    return engine.triage_max_accept_days_critical if critical else engine.triage_max_accept_days


def _title(target: ActionTarget) -> str:
    return slack_text.mrkdwn(
        "*{vulnerability}* in `{packages}` ({repository})",
        vulnerability=target.vulnerability,
        packages=", ".join(target.all_packages),
        repository=target.repository,
    )


def _thread_link(target: ActionTarget) -> str | None:
    if not target.channel or not target.ts:
        return None
    return f"https://slack.com/archives/{target.channel}/p{target.ts.replace('.', '')}"


def _responder(body: dict):
    """An ephemeral answer through the payload's response_url; never raises (tell_user logs a failure)."""

    def say(text: str) -> None:
        if not tell_user(text_id(body.get("response_url")), text):
            log.info("triage answer not delivered: %s", text)

    return say


# the blocks of each modal; a problem on a field the modal has no block for is shown on its first block
_BLOCKS = {
    ASSIGN_CALLBACK: (ASSIGNEE, REASON),
    ACCEPT_CALLBACK: (REASON, UNTIL, SCOPE),
    FALSE_POSITIVE_CALLBACK: (JUSTIFICATION, REASON),
}


def _block_for(callback_id: str | None, field: str) -> str:
    """The modal block a problem belongs to (the checks name fields; the modals name blocks alike)."""
    blocks = _BLOCKS.get(callback_id, (REASON,))
    return field if field in blocks else blocks[0]


def _now() -> datetime:
    return datetime.now(UTC)
