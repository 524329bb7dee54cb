"""Smoke tests of the fake Slack: real slack_sdk clients against it, over real sockets."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from typing import Any
from urllib.parse import quote

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient
from websockets.sync.client import connect

from tests.fakes.slack_server import MAX_CONNECTIONS, FakeSlack
from tests.slackbot import wait_for


def client(slack: FakeSlack, token: str | None = None, timeout: int = 5) -> WebClient:
    return WebClient(
        token=token or slack.bot_token, base_url=slack.url, timeout=timeout, retry_handlers=[]
    )


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def error_of(call: Any) -> tuple[int, str]:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value.response.status_code, info.value.response["error"]


def test_auth_test_and_tokens(slack: FakeSlack) -> None:
    who = client(slack).auth_test()
    assert (who["team_id"], who["user_id"], who["bot_id"]) == ("T1", "U_BOT", "B1")
    assert error_of(client(slack, "xoxb-wrong").auth_test) == (200, "invalid_auth")
    assert error_of(client(slack, slack.app_token).auth_test) == (200, "not_allowed_token_type")
    slack.set_token_revoked(True)
    assert error_of(client(slack).auth_test) == (200, "token_revoked")
    slack.set_token_revoked(False)
    assert client(slack).auth_test()["ok"]
    assert slack.requests("auth.test")[0].headers["authorization"] == f"Bearer {slack.bot_token}"


def test_post_message_is_stored_with_metadata_and_flags(slack: FakeSlack) -> None:
    meta = {"event_type": "diplo_alert", "event_payload": {"alert_id": 7}}
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    r = client(slack).chat_postMessage(
        channel="C1", text="hi", blocks=blocks, metadata=meta, unfurl_links=False
    )
    [msg] = slack.messages("C1")
    assert msg["ts"] == r["ts"] and msg["metadata"] == meta and msg["blocks"] == blocks
    [body] = slack.calls("chat.postMessage")
    assert body["unfurl_links"] is False and body["channel"] == "C1"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize(
    ("blocks", "text", "error"),
    [
        ([{"type": "divider"}] * 51, "x", "invalid_blocks"),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3001}}],
            "x",
            "invalid_blocks",
        ),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "a" * 151}}],
            "x",
            "invalid_blocks",
        ),
        (
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "a"}] * 11}],
            "x",
            "invalid_blocks",
        ),
        ([{"type": "bogus"}], "x", "invalid_blocks"),
        (None, "a" * 40_001, "msg_too_long"),
        (None, "", "no_text"),  # slack_sdk warns about it too
    ],
)
def test_post_message_enforces_slack_limits(
    slack: FakeSlack, blocks: list[dict[str, Any]] | None, text: str, error: str
) -> None:
    post = lambda: client(slack).chat_postMessage(channel="C1", text=text, blocks=blocks)  # noqa: E731
    assert error_of(post) == (200, error)
    assert slack.messages("C1") == []


def test_channel_states_and_join(slack: FakeSlack) -> None:
    slack.set_channel("CGONE", exists=False)
    slack.set_channel("CARCH", archived=True)
    slack.set_channel("COUT", member=False)
    slack.set_channel("GPRIV", member=False, private=True)
    web = client(slack)
    for channel, error in [
        ("CGONE", "channel_not_found"),
        ("CARCH", "is_archived"),
        ("COUT", "not_in_channel"),
    ]:
        assert error_of(lambda c=channel: web.chat_postMessage(channel=c, text="x")) == (200, error)
    assert error_of(lambda: web.conversations_join(channel="GPRIV"))[1] == (
        "method_not_supported_for_channel_type"
    )
    assert web.conversations_join(channel="COUT")["channel"]["is_member"] is True
    assert web.chat_postMessage(channel="COUT", text="x")["ok"]
    assert web.conversations_info(channel="CARCH")["channel"]["is_archived"] is True
    assert slack.calls("conversations.join")[0]["channel"] == "GPRIV"  # form-encoded body


def test_history_newest_first_paginated_with_metadata_on_request(slack: FakeSlack) -> None:
    web = client(slack)
    ts = [
        web.chat_postMessage(
            channel="C1",
            text=f"m{i}",
            metadata={"event_type": "t", "event_payload": {"i": i}},
        )["ts"]
        for i in range(5)
    ]
    page = web.conversations_history(channel="C1", limit=2, oldest=ts[0])
    assert [m["text"] for m in page["messages"]] == ["m4", "m3"]
    assert "metadata" not in page["messages"][0] and page["has_more"]
    cursor = page["response_metadata"]["next_cursor"]
    rest = web.conversations_history(
        channel="C1", limit=2, oldest=ts[0], cursor=cursor, include_all_metadata=True
    )
    assert [m["text"] for m in rest["messages"]] == ["m2", "m1"]  # oldest is exclusive
    assert rest["messages"][0]["metadata"]["event_payload"] == {"i": 2}
    assert rest["response_metadata"]["next_cursor"] == ""


def test_form_encoded_post_with_json_fields(slack: FakeSlack) -> None:
    data = "channel=C9&text=hello&blocks=" + quote(json.dumps([{"type": "divider"}]))
    request = urllib.request.Request(
        slack.url + "chat.postMessage",
        data=f"token={slack.bot_token}&{data}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.load(response)["ok"] is True
    assert slack.messages("C9")[0]["blocks"] == [{"type": "divider"}]


def test_scripted_failures(slack: FakeSlack) -> None:
    web = client(slack, timeout=1)
    slack.fail_next("chat.postMessage", 1, headers={"Retry-After": "7"})
    with pytest.raises(SlackApiError) as info:
        web.chat_postMessage(channel="C1", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    slack.fail_next("chat.postMessage", 1, error="internal_error", status=500)
    assert error_of(lambda: web.chat_postMessage(channel="C1", text="x")) == (500, "internal_error")
    slack.drop_next("chat.postMessage")
    with pytest.raises(Exception):  # noqa: B017  (urllib's own error for a dropped connection)
        web.chat_postMessage(channel="C1", text="lost")
    slack.drop_next("chat.postMessage", after_processing=True)
    with pytest.raises(Exception):  # noqa: B017
        web.chat_postMessage(channel="C1", text="landed")
    slack.delay("chat.postMessage", 1.5)
    with pytest.raises(TimeoutError):
        web.chat_postMessage(channel="C1", text="slow")
    slack.delay("chat.postMessage", 0)
    time.sleep(0.6)  # the timed-out call still lands, late: Slack was only slow
    assert web.chat_postMessage(channel="C1", text="ok")["ok"]
    assert [m["text"] for m in slack.messages("C1")] == ["landed", "slow", "ok"]
    assert len(slack.calls("chat.postMessage")) == 6


def test_stop_refuses_connections_until_restart(slack: FakeSlack) -> None:
    slack.stop()
    with pytest.raises(Exception, match="Connection refused"):
        client(slack).auth_test()
    slack.restart()
    assert client(slack).auth_test()["ok"]


def test_views_users_ephemeral_and_response_urls(slack: FakeSlack) -> None:
    web = client(slack)
    slack.set_admin("UADMIN")
    assert web.users_info(user="UADMIN")["user"]["is_admin"] is True
    assert web.users_info(user="U2")["user"]["is_admin"] is False
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    web.views_publish(user_id="U2", view=home)
    assert slack.views["U2"] == home
    too_big = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    assert error_of(lambda: web.views_publish(user_id="U2", view=too_big))[1] == "invalid_arguments"
    web.chat_postEphemeral(channel="C1", user="U2", text="only you")
    assert slack.ephemeral()[0]["user"] == "U2"
    WebhookClient(slack.response_url("r1")).send(text="done", response_type="ephemeral")
    assert slack.responses("r1") == [{"text": "done", "response_type": "ephemeral"}]


def test_socket_mode_envelopes_and_acks(slack: FakeSlack) -> None:
    wrong = lambda: client(slack).apps_connections_open(app_token=slack.bot_token)  # noqa: E731
    assert error_of(wrong)[1] == "not_allowed_token_type"
    url = client(slack, slack.app_token).apps_connections_open(app_token=slack.app_token)["url"]
    assert url.startswith(f"ws://127.0.0.1:{slack.ws_port}/link/?ticket=")
    with connect(url) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        slack.wait_connections(1)
        envelope_id = slack.send_envelope("slash_commands", {"command": "/diplo", "text": "help"})
        envelope = json.loads(ws.recv(timeout=5))
        assert envelope["payload"]["text"] == "help" and envelope["accepts_response_payload"]
        ws.send(json.dumps({"envelope_id": envelope_id, "payload": {"text": "hi"}}))
        assert slack.wait_ack(envelope_id)["payload"] == {"text": "hi"}
        slack.disconnect_all()
        assert json.loads(ws.recv(timeout=5)) == {
            "type": "disconnect",
            "reason": "too_many_websockets",
            "debug_info": {},
        }
        slack.close_all()
        with pytest.raises(Exception):  # noqa: B017  (the socket is gone)
            ws.recv(timeout=5)
    assert wait_for(lambda: slack.connection_count == 0)


def test_envelopes_are_spread_across_up_to_ten_connections(slack: FakeSlack) -> None:
    url = client(slack, slack.app_token).apps_connections_open(app_token=slack.app_token)["url"]
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(connect(url)) for _ in range(MAX_CONNECTIONS)]
        for ws in sockets:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        with connect(url) as extra:  # one too many: told so, and closed
            assert json.loads(extra.recv(timeout=5))["reason"] == "too_many_websockets"
        slack.wait_connections(MAX_CONNECTIONS)
        assert slack.connection_count == MAX_CONNECTIONS
        sent = [slack.send_envelope("slash_commands", {"text": str(n)}) for n in range(20)]
        numbers = set()
        for ws in sockets:  # in turn: each socket got two, ten apart
            got = [json.loads(ws.recv(timeout=5)) for _ in range(2)]
            first, second = (int(g["payload"]["text"]) for g in got)
            assert second == first + 10
            ws.send(json.dumps({"envelope_id": got[0]["envelope_id"]}))
            slack.wait_ack(got[0]["envelope_id"])
            number, acked = slack.acked_on(got[0]["envelope_id"])
            assert acked == number and slack.acked_on(got[1]["envelope_id"]) == (number, None)
            numbers.add(number)
        assert numbers == set(range(1, 11))
        assert slack.envelopes_by_connection() == {n: 2 for n in range(1, 11)}
        assert len(sent) == 20


def test_slack_sdk_socket_mode_client_acks_an_envelope(slack: FakeSlack) -> None:
    from slack_sdk.socket_mode import SocketModeClient
    from slack_sdk.socket_mode.client import BaseSocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest
    from slack_sdk.socket_mode.response import SocketModeResponse

    got = threading.Event()
    web = client(slack, slack.app_token)
    sm = SocketModeClient(app_token=slack.app_token, web_client=web)

    def listener(c: BaseSocketModeClient, req: SocketModeRequest) -> None:
        c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        got.set()

    sm.socket_mode_request_listeners.append(listener)
    sm.connect()
    try:
        slack.wait_connections(1)
        envelope_id = slack.send_envelope("events_api", {"event": {"type": "app_home_opened"}})
        assert got.wait(5)
        assert slack.wait_ack(envelope_id) == {"envelope_id": envelope_id}
    finally:
        slack.close_all()  # else SocketModeClient.close() waits 3 s for its reader
        sm.close()


# --- threads, edits, permalinks ---------------------------------------------------------------


def test_thread_replies_and_broadcast(slack: FakeSlack) -> None:
    web = client(slack)
    parent = web.chat_postMessage(channel="C1", text="story")["ts"]
    quiet = web.chat_postMessage(channel="C1", text="r1", thread_ts=parent)["ts"]
    loud = web.chat_postMessage(channel="C1", text="r2", thread_ts=parent, reply_broadcast=True)
    assert [m["text"] for m in slack.top_level("C1")] == ["story"]
    assert [m["text"] for m in slack.messages("C1")] == ["story", "r2"]  # the broadcast copy
    replies = slack.replies("C1", parent)
    assert [(m["text"], m["thread_ts"]) for m in replies] == [("r1", parent), ("r2", parent)]
    assert replies[1]["subtype"] == "thread_broadcast" and "subtype" not in replies[0]
    assert slack.all_replies("C1") == {parent: replies}
    story = slack.message("C1", parent)
    assert story is not None and (story["reply_count"], story["latest_reply"]) == (2, loud["ts"])
    history = web.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in history] == ["r2", "story"]  # replies only when broadcast
    assert error_of(lambda: web.chat_postMessage(channel="C1", text="x", thread_ts="1.2")) == (
        200,
        "thread_not_found",
    )
    assert error_of(lambda: web.chat_postMessage(channel="C1", text="x", thread_ts=quiet)) == (
        200,
        "thread_not_found",
    )


def test_conversations_replies_pages_oldest_first_with_metadata_on_request(
    slack: FakeSlack,
) -> None:
    web = client(slack)
    parent = web.chat_postMessage(channel="C1", text="story")["ts"]
    ts = [
        web.chat_postMessage(
            channel="C1",
            text=f"r{i}",
            thread_ts=parent,
            metadata={"event_type": "t", "event_payload": {"i": i}},
        )["ts"]
        for i in range(5)
    ]
    page = web.conversations_replies(channel="C1", ts=parent, limit=3)
    assert [m["text"] for m in page["messages"]] == ["story", "r0", "r1"]
    assert "metadata" not in page["messages"][1] and page["has_more"]
    rest = web.conversations_replies(
        channel="C1",
        ts=parent,
        limit=3,
        cursor=page["response_metadata"]["next_cursor"],
        include_all_metadata=True,
    )
    assert [m["text"] for m in rest["messages"]] == ["r2", "r3", "r4"]
    assert rest["messages"][0]["metadata"]["event_payload"] == {"i": 2}
    assert rest["response_metadata"]["next_cursor"] == "" and not rest["has_more"]
    since = web.conversations_replies(channel="C1", ts=parent, oldest=ts[2])["messages"]
    assert [m["text"] for m in since] == ["story", "r3", "r4"]  # the parent always comes first
    by_reply = web.conversations_replies(channel="C1", ts=ts[0])["messages"]
    assert [m["text"] for m in by_reply][:2] == ["story", "r0"]
    alone = web.chat_postMessage(channel="C1", text="alone")["ts"]
    assert [m["text"] for m in web.conversations_replies(channel="C1", ts=alone)["messages"]] == [
        "alone"
    ]
    assert error_of(lambda: web.conversations_replies(channel="C1", ts="9.9")) == (
        200,
        "thread_not_found",
    )
    slack.set_channel("COUT", member=False)
    assert error_of(lambda: web.conversations_replies(channel="COUT", ts=parent)) == (
        200,
        "not_in_channel",
    )


def test_chat_update_replaces_text_and_blocks_and_is_recorded(slack: FakeSlack) -> None:
    web = client(slack)
    meta = {"event_type": "diplo_story", "event_payload": {"story_id": 1}}
    ts = web.chat_postMessage(channel="C1", text="v1", metadata=meta)["ts"]
    reply = web.chat_postMessage(channel="C1", text="r", thread_ts=ts)["ts"]
    blocks = [{"type": "section", "text": mrkdwn("*v2*")}]
    answer = web.chat_update(channel="C1", ts=ts, text="v2", blocks=blocks)
    assert (answer["ts"], answer["text"]) == (ts, "v2")
    web.chat_update(channel="C1", ts=reply, text="r edited")
    now = slack.message("C1", ts)
    assert now is not None and (now["text"], now["blocks"], now["metadata"]) == ("v2", blocks, meta)
    assert [m["text"] for m in slack.top_level("C1")] == ["v2"]  # an edit is not a message
    assert [e["text"] for e in slack.edits("C1", ts)] == ["v2"]
    assert [m["text"] for m in slack.replies("C1", ts)] == ["r edited"]
    assert error_of(lambda: web.chat_update(channel="C1", ts="1.0", text="x")) == (
        200,
        "message_not_found",
    )
    too_many = [{"type": "divider"}] * 51
    assert error_of(lambda: web.chat_update(channel="C1", ts=ts, text="x", blocks=too_many)) == (
        200,
        "invalid_blocks",
    )
    assert error_of(lambda: web.chat_update(channel="C1", ts=ts, text="")) == (200, "no_text")
    assert len(slack.edits("C1", ts)) == 1  # refused edits are not recorded
    slack.set_channel("C1", archived=True)
    assert error_of(lambda: web.chat_update(channel="C1", ts=ts, text="x")) == (200, "is_archived")


def test_get_permalink_of_messages_and_replies(slack: FakeSlack) -> None:
    web = client(slack)
    ts = web.chat_postMessage(channel="C1", text="story")["ts"]
    reply = web.chat_postMessage(channel="C1", text="r", thread_ts=ts)["ts"]
    link = web.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert link == f"https://diplo-test.slack.com/archives/C1/p{ts.replace('.', '')}"
    reply_link = web.chat_getPermalink(channel="C1", message_ts=reply)["permalink"]
    assert reply_link.endswith(f"?thread_ts={ts}&cid=C1")
    assert error_of(lambda: web.chat_getPermalink(channel="C1", message_ts="1.0")) == (
        200,
        "message_not_found",
    )
