"""Socket Mode: slack-bolt's handler, given what ``bot/web.py`` gives each HTTP request.

Each envelope runs inside a request context of its own (a request id every log line and job of it carries), and a
payload Slack would never send (``actions`` that are not a list of objects, a ``view`` that is a string:
:func:`bot.edge.well_formed`) is refused with one log line before Bolt, which would raise on it and leave the
envelope unacknowledged, so Slack would show the user an error and deliver it again. A refused envelope is acked
with nothing. Signatures and replays are HTTP's concerns: the socket itself is opened with the app-level token.
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode import SocketModeHandler as BoltSocketModeHandler
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot import edge
from workers.telemetry.context import RequestContext, bound, new_request_id

log = logging.getLogger(__name__)


class SocketModeHandler(BoltSocketModeHandler):
    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        with bound(RequestContext(new_request_id())):
            if not edge.well_formed(req.payload):
                log.warning("refused a Socket Mode %s envelope: %s", req.type, edge.Refusal.MALFORMED.reason)
                client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
                return
            super().handle(client, req)
