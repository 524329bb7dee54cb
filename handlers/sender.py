"""Posting alerts: the `Sender` protocol, Slack's Web API behind it, and a console stand-in.

Every outcome is a value (`Posted`, `RateLimited`, `SlackFailed`), never an exception, so
`jobs.deliver` decides what to retry without knowing slack_sdk.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import re
import socket
import sys
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO
from urllib.error import HTTPError, URLError

from handlers.blocks import Message
from models.outbox import CONSOLE, SLACK, SenderKind

if TYPE_CHECKING:  # slack_sdk is imported only where it is used: jobs/ import this module
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)

FailureKind = Literal["transient", "unknown", "channel", "auth", "content", "gone"]

ALERT_EVENT = "diplo_alert"
HISTORY_PAGES = 5
HISTORY_PAGE_SIZE = 200

# Slack `error` codes by what they mean for a post (`classify_error`, tested as a table).
# Transient: Slack is down or busy; retried without limit (it only delays). Unknown: any
# other code; retried a bounded number of times (jobs.deliver), as content is at once,
# then once as text only, then failed: one bad alert never holds its channel for good.
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "timeout",
        "connection_refused",
        "connection_dropped",
        "unexpected_error",
        "team_added_to_org",
    }
)
CHANNEL_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "cannot_reply_to_message",
        "team_access_not_granted",
        "method_not_supported_for_channel_type",
    }
)
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
        "ekm_access_denied",
        "org_login_required",
    }
)
CONTENT_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_attachments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
    }
)
# The message an edit or a reply refers to is gone (deleted, or never a message of ours).
GONE_ERRORS = frozenset(
    {"message_not_found", "thread_not_found", "cant_update_message", "edit_window_closed"}
)
STORY_EVENT = "diplo_story"
REPLY_PAGES = 10
_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,60}$")


@dataclass(frozen=True, slots=True)
class Posted:
    """The message is in the channel, with this `ts`."""

    ts: str


@dataclass(frozen=True, slots=True)
class RateLimited:
    """Slack said 429; try again after `retry_after` seconds."""

    retry_after: float


@dataclass(frozen=True, slots=True)
class SlackFailed:
    """Slack (or the way to it) failed; `kind` says whether retrying can help.

    `transient`: outage, timeout, 5xx (retry later, without limit; it may have been posted).
    `unknown`: an error code not in any list (retried a few times, then given up).
    `channel`: this channel refuses posts. `auth`: the token is bad for every call.
    `content`: this message is malformed for Slack. `gone`: the message an edit or a
    reply refers to no longer exists.
    """

    error: str
    kind: FailureKind


PostResult = Posted | RateLimited | SlackFailed
LookupResult = Posted | RateLimited | SlackFailed | None


@dataclass(frozen=True, slots=True)
class Uploaded:
    """A file's bytes are with Slack (`file_id`), not shared anywhere yet."""

    file_id: str


UploadResult = Uploaded | RateLimited | SlackFailed


class Sender(Protocol):
    """Where alerts go: Slack in production, stdout in console mode, the fake in tests."""

    pace: float  # seconds to leave between two posts to one channel
    kind: SenderKind  # the channels it delivers to: it claims no other alerts

    def post(self, channel: str, message: Message, metadata: dict[str, Any] | None) -> PostResult:
        """Post one message to a channel."""
        ...

    def find_posted(self, channel: str, alert_id: int, oldest: datetime) -> LookupResult:
        """Look for an alert already in the channel since `oldest`.

        `Posted(ts)` when found, None when surely absent, else why the lookup failed
        (then nobody can tell, and the alert must not be posted yet).
        """
        ...

    def join(self, channel: str) -> bool:
        """Join a public channel; True when the bot is now a member."""
        ...

    def reply(
        self,
        channel: str,
        thread_ts: str,
        message: Message,
        metadata: dict[str, Any] | None,
        broadcast: bool = False,
    ) -> PostResult:
        """Post a reply in the thread of `thread_ts` (`broadcast`: also to the channel)."""
        ...

    def update(self, channel: str, ts: str, message: Message) -> PostResult:
        """Replace the text and blocks of our message `ts` (its metadata stays)."""
        ...

    def find_op(
        self, channel: str, op_id: int, oldest: datetime, thread_ts: str | None = None
    ) -> LookupResult:
        """Look for a story message carrying outbox op `op_id`, like `find_posted`.

        Top-level messages are searched in the channel's history; with `thread_ts`, the
        replies of that thread (history does not list them).
        """
        ...

    def permalink(self, channel: str, ts: str) -> str | None:
        """A link to the message, or None when Slack cannot give one."""
        ...

    def upload_file(self, filename: str, data: bytes) -> UploadResult:
        """Hand a file's bytes to Slack (not shared yet: `share_file` does that)."""
        ...

    def share_file(
        self, file_id: str, title: str, channel: str, thread_ts: str | None, comment: str
    ) -> PostResult:
        """Share an uploaded file in the channel (in the thread of `thread_ts` when given)."""
        ...


def classify_error(error: str) -> FailureKind:
    """What a Slack `error` code (of an HTTP 200 or 4xx answer) means for the alert posted.

    `invalid_*` and `*_too_long` codes are about the message unless they name the token.
    """
    if error in AUTH_ERRORS:
        return "auth"
    if error in CHANNEL_ERRORS:
        return "channel"
    if error in TRANSIENT_ERRORS or re.fullmatch(r"http_5\d\d", error):
        return "transient"
    if error in CONTENT_ERRORS or error.startswith("invalid_") or error.endswith("_too_long"):
        return "content"
    if error in GONE_ERRORS:
        return "gone"
    return "unknown"


def make_web_client(token: str, base_url: str, timeout: float = 10) -> WebClient:
    """A WebClient for posting alerts: bounded timeout, and no automatic retries.

    slack_sdk's default ConnectionErrorRetryHandler re-sends a request whose connection
    dropped, which can post an alert twice; a 429 retry handler would sleep in our thread.
    """
    from slack_sdk import WebClient

    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])  # type: ignore[arg-type]


def _api_failure(e: SlackApiError) -> PostResult:
    status = e.response.status_code
    data = e.response.data if isinstance(e.response.data, dict) else {}
    raw = str(data.get("error") or "")
    error = raw if _ERROR_CODE.match(raw) else f"http_{status}"
    if status == 429 or error == "ratelimited":
        headers = {k.lower(): v for k, v in (e.response.headers or {}).items()}
        try:
            retry_after = float(headers.get("retry-after", 1))
        except (TypeError, ValueError):
            retry_after = 1.0
        return RateLimited(retry_after=max(retry_after, 0.0))
    if status >= 500:
        return SlackFailed(error, "transient")
    return SlackFailed(error, classify_error(error))


def _transport_failure(e: BaseException) -> SlackFailed:
    """A failure on the way to Slack (or in slack_sdk itself): always worth a retry."""
    reason = e.reason if isinstance(e, URLError) else e
    if isinstance(reason, TimeoutError | socket.timeout):
        return SlackFailed("timeout", "transient")
    if isinstance(reason, ConnectionRefusedError):
        return SlackFailed("connection_refused", "transient")
    if isinstance(reason, ConnectionError | http.client.HTTPException):
        return SlackFailed("connection_dropped", "transient")
    return SlackFailed(f"error_{type(reason).__name__}".lower(), "transient")


class SlackSender:
    """Posts through slack_sdk's WebClient (build it with `make_web_client`)."""

    def __init__(self, client: WebClient, pace: float = 1.0) -> None:
        from slack_sdk.errors import SlackApiError, SlackClientError

        self.client = client
        self.kind = SLACK
        self.pace = pace  # Slack allows about one message per second per channel
        self._api_error: type[SlackApiError] = SlackApiError
        self._other_errors = (URLError, OSError, http.client.HTTPException, SlackClientError)

    def post(self, channel: str, message: Message, metadata: dict[str, Any] | None) -> PostResult:
        """chat.postMessage with link unfurling off; every failure becomes a value."""
        return self._post_message(channel, message, metadata)

    def _post_message(
        self, channel: str, message: Message, metadata: dict[str, Any] | None, **thread: Any
    ) -> PostResult:
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks or None,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
                **thread,
            )
        except self._api_error as e:
            return _api_failure(e)
        except self._other_errors as e:
            return _transport_failure(e)
        return Posted(ts=str(response["ts"]))

    def find_posted(self, channel: str, alert_id: int, oldest: datetime) -> LookupResult:
        """Page through conversations.history (newest first) for the alert's metadata."""
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            try:
                response = self.client.conversations_history(
                    channel=channel,
                    oldest=f"{oldest.timestamp():.6f}",
                    limit=HISTORY_PAGE_SIZE,
                    include_all_metadata=True,
                    cursor=cursor,
                )
            except self._api_error as e:
                return _api_failure(e)
            except self._other_errors as e:
                return _transport_failure(e)
            for message in response.get("messages") or []:
                if _carries_alert(message, alert_id):
                    return Posted(ts=str(message["ts"]))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        logger.warning(
            "channel %s: alert %s not in %d history pages", channel, alert_id, HISTORY_PAGES
        )
        return None

    def join(self, channel: str) -> bool:
        """conversations.join; False when Slack refuses (private, archived, missing) or fails."""
        try:
            self.client.conversations_join(channel=channel)
        except self._api_error as e:
            logger.warning("could not join channel %s: %s", channel, e.response.get("error"))
            return False
        except self._other_errors as e:
            logger.warning("could not join channel %s: %s", channel, _transport_failure(e).error)
            return False
        return True

    def reply(
        self,
        channel: str,
        thread_ts: str,
        message: Message,
        metadata: dict[str, Any] | None,
        broadcast: bool = False,
    ) -> PostResult:
        """chat.postMessage with `thread_ts` (and `reply_broadcast`); failures are values."""
        return self._post_message(
            channel, message, metadata, thread_ts=thread_ts, reply_broadcast=broadcast
        )

    def update(self, channel: str, ts: str, message: Message) -> PostResult:
        """chat.update of text and blocks; an edit repeated is harmless (idempotent)."""
        try:
            self.client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks or []
            )
        except self._api_error as e:
            return _api_failure(e)
        except self._other_errors as e:
            return _transport_failure(e)
        return Posted(ts=ts)

    def find_op(
        self, channel: str, op_id: int, oldest: datetime, thread_ts: str | None = None
    ) -> LookupResult:
        """Page through history (or the thread's replies) for a message carrying `op_id`."""
        cursor: str | None = None
        pages = REPLY_PAGES if thread_ts else HISTORY_PAGES
        for _ in range(pages):
            args: dict[str, Any] = {
                "channel": channel,
                "oldest": f"{oldest.timestamp():.6f}",
                "limit": HISTORY_PAGE_SIZE,
                "include_all_metadata": True,
                "cursor": cursor,
            }
            try:
                if thread_ts:
                    response = self.client.conversations_replies(ts=thread_ts, **args)
                else:
                    response = self.client.conversations_history(**args)
            except self._api_error as e:
                failure = _api_failure(e)
                if thread_ts and isinstance(failure, SlackFailed) and failure.kind == "gone":
                    return None  # no thread: the reply cannot be in it
                return failure
            except self._other_errors as e:
                return _transport_failure(e)
            for message in response.get("messages") or []:
                if _carries_op(message, op_id):
                    return Posted(ts=str(message["ts"]))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        logger.warning("channel %s: op %s not in %d pages searched", channel, op_id, pages)
        return None

    def permalink(self, channel: str, ts: str) -> str | None:
        """chat.getPermalink; None when Slack refuses or fails."""
        try:
            response = self.client.chat_getPermalink(channel=channel, message_ts=ts)
        except self._api_error as e:
            logger.info("no permalink for %s in %s: %s", ts, channel, e.response.get("error"))
            return None
        except self._other_errors as e:
            logger.info("no permalink for %s in %s: %s", ts, channel, _transport_failure(e).error)
            return None
        link = response.get("permalink")
        return str(link) if link else None

    def upload_file(self, filename: str, data: bytes) -> UploadResult:
        """files.getUploadURLExternal, then a POST of the bytes to the URL it gives.

        Nothing is visible in Slack until `share_file` (files.completeUploadExternal).
        """
        try:
            response = self.client.files_getUploadURLExternal(filename=filename, length=len(data))
        except self._api_error as e:
            return _upload_failure(_api_failure(e))
        except self._other_errors as e:
            return _transport_failure(e)
        url, file_id = response.get("upload_url"), response.get("file_id")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or not file_id:
            return SlackFailed("bad_upload_url", "unknown")
        request = urllib.request.Request(url, data=data, method="POST")
        request.add_header("Content-Type", "application/octet-stream")
        try:
            with urllib.request.urlopen(request, timeout=self.client.timeout) as answer:
                answer.read()
        except HTTPError as e:
            kind: FailureKind = "transient" if e.code >= 500 or e.code == 429 else "unknown"
            return SlackFailed(f"upload_http_{e.code}", kind)
        except (URLError, OSError, http.client.HTTPException) as e:
            return _transport_failure(e)
        return Uploaded(str(file_id))

    def share_file(
        self, file_id: str, title: str, channel: str, thread_ts: str | None, comment: str
    ) -> PostResult:
        """files.completeUploadExternal into the channel (or thread); failures are values."""
        try:
            response = self.client.files_completeUploadExternal(
                files=[{"id": file_id, "title": title}],
                channel_id=channel,
                thread_ts=thread_ts,
                initial_comment=comment,
            )
        except self._api_error as e:
            return _api_failure(e)
        except self._other_errors as e:
            return _transport_failure(e)
        files = response.get("files") or [{}]
        return Posted(ts=str(files[0].get("id") or file_id))


def _upload_failure(result: PostResult) -> UploadResult:
    return result if not isinstance(result, Posted) else SlackFailed("unexpected_error", "unknown")


def story_metadata(story_id: int, op_ids: list[int]) -> dict[str, Any]:
    """The metadata of a story message or reply: which outbox ops it delivers."""
    return {"event_type": STORY_EVENT, "event_payload": {"story_id": story_id, "op_ids": op_ids}}


def _carries_op(message: dict[str, Any], op_id: int) -> bool:
    meta = message.get("metadata") or {}
    payload = meta.get("event_payload") or {}
    ops = payload.get("op_ids")
    return meta.get("event_type") == STORY_EVENT and isinstance(ops, list) and op_id in ops


def _carries_alert(message: dict[str, Any], alert_id: int) -> bool:
    meta = message.get("metadata") or {}
    payload = meta.get("event_payload") or {}
    return meta.get("event_type") == ALERT_EVENT and payload.get("alert_id") == alert_id


_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def _plain(mrkdwn: str) -> str:
    """mrkdwn back to plain text: links as `label (url)`, dates as their fallback, no escapes."""

    def link(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("!date^"):
            return label or ""
        if label is None:
            return target
        return f"{label} ({target})" if target.startswith(("http://", "https://")) else label

    text = _SLACK_LINK.sub(link, mrkdwn).replace("*", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _block_lines(block: dict[str, Any]) -> list[str]:
    texts = [block.get("text"), *(block.get("elements") or []), *(block.get("fields") or [])]
    return [_plain(t["text"]) for t in texts if isinstance(t, dict) and t.get("text")]


class ConsoleSender:
    """Prints each alert as a readable plain-text block (console mode: no Slack at all)."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.stream = stream
        self.kind = CONSOLE  # prints console alerts only, never a real channel's
        self.pace = 0.0
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def post(self, channel: str, message: Message, metadata: dict[str, Any] | None) -> PostResult:
        """Print the message; it is always `Posted`."""
        lines = [line for block in message.blocks for line in _block_lines(block)]
        body = "\n".join(lines) if lines else _plain(message.text)
        with self._lock:
            n = next(self._count)
            print(f"── alert {n} for {channel} ──\n{body}\n", file=self.stream, flush=True)
        return Posted(ts=f"console-{n}")

    def find_posted(self, channel: str, alert_id: int, oldest: datetime) -> LookupResult:
        """Nothing printed can be looked up."""
        return None

    def join(self, channel: str) -> bool:
        """Console channels need no joining."""
        return True

    def _print(self, heading: str, message: Message) -> str:
        lines = [line for block in message.blocks for line in _block_lines(block)]
        body = "\n".join(lines) if lines else _plain(message.text)
        with self._lock:
            n = next(self._count)
            print(f"── {heading.format(n=n)} ──\n{body}\n", file=self.stream, flush=True)
        return f"console-{n}"

    def reply(
        self,
        channel: str,
        thread_ts: str,
        message: Message,
        metadata: dict[str, Any] | None,
        broadcast: bool = False,
    ) -> PostResult:
        """Print the reply, saying which message it answers; always `Posted`."""
        also = ", also sent to the channel" if broadcast else ""
        heading = f"reply {{n}} to {thread_ts} in {channel}{also}"
        return Posted(ts=self._print(heading, message))

    def update(self, channel: str, ts: str, message: Message) -> PostResult:
        """Print the message as it now reads; always `Posted` (with the same ts)."""
        self._print(f"{ts} in {channel} now reads", message)
        return Posted(ts=ts)

    def find_op(
        self, channel: str, op_id: int, oldest: datetime, thread_ts: str | None = None
    ) -> LookupResult:
        """Nothing printed can be looked up."""
        return None

    def permalink(self, channel: str, ts: str) -> str | None:
        """Printed messages have no links."""
        return None

    def upload_file(self, filename: str, data: bytes) -> UploadResult:
        """Write the file to a temporary path (its "file id"), to be printed when shared."""
        suffix = "-" + re.sub(r"[^A-Za-z0-9._-]", "_", filename)[-60:]
        with tempfile.NamedTemporaryFile(prefix="diplo-", suffix=suffix, delete=False) as f:
            f.write(data)
        return Uploaded(f.name)

    def share_file(
        self, file_id: str, title: str, channel: str, thread_ts: str | None, comment: str
    ) -> PostResult:
        """Print where the file is (the path `upload_file` wrote); always `Posted`."""
        where = f"the thread of {thread_ts} in {channel}" if thread_ts else channel
        with self._lock:
            n = next(self._count)
            heading = f"── file {n} for {where} ──"
            print(f"{heading}\n{comment}\n{file_id}\n", file=self.stream, flush=True)
        return Posted(ts=f"console-{n}")
