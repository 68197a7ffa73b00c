"""A Bot API test server on 127.0.0.1: the methods Parallax uses, Telegram's limits and checks.

It records every call, lets tests inject updates from simulated users (private chats, groups,
commands, mentions, replies, button presses), answers 429 with ``retry_after`` when a chat goes
over Telegram's limits (more than one edit a second of one message, more than 20 messages a
minute in a group), and rejects what Telegram rejects: bad HTML ("can't parse entities"), text
over 4,096 characters, and edits that change nothing ("message is not modified").
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import html.parser
import itertools
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BOT_ID = 999000
BOT_USERNAME = "parallax_test_bot"
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                "tg-spoiler", "span", "blockquote", "tg-emoji"}


class _HTMLCheck(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error = ""
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f"Unsupported start tag \"{tag}\""
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f"Can't find end tag corresponding to start tag \"{tag}\""
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(text: str) -> tuple[str, str]:
    """(plain text, error) of a parse_mode=HTML text, as Telegram would judge it."""
    # a bare & must be an entity
    for i, ch in enumerate(text):
        if ch == "&":
            rest = text[i + 1:i + 12]
            if ";" not in rest or not (rest.split(";")[0].isalnum() or
                                       rest.startswith("#")):
                return "", "Can't parse entities: unescaped &"
    p = _HTMLCheck()
    p.feed(text)
    p.close()
    if p.error:
        return "", f"Can't parse entities: {p.error}"
    if p.stack:
        return "", f"Can't parse entities: unclosed tag \"{p.stack[-1]}\""
    return "".join(p.text), ""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    result: Any = None


@dataclass
class StoredMessage:
    chat_id: int
    message_id: int
    text: str  # plain text, as a user sees it
    raw: str
    parse_mode: str | None
    reply_markup: Any = None
    document: dict[str, Any] | None = None
    edits: list[float] = field(default_factory=list)
    reply_to: int | None = None


class FakeBotAPI:
    def __init__(self, token: str = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        self.updates: list[dict[str, Any]] = []
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(1000)
        self.cond = threading.Condition()
        self.group_window: dict[int, list[float]] = {}
        self.group_limit = 20
        self.edit_interval = 1.0
        self.force_429: int = 0  # answer the next N sends/edits with 429
        # faults: the next N sends/edits answer 500, or hang for stall_seconds (the client
        # times out) and are not carried out
        self.fail_500: int = 0
        self.stall: int = 0
        self.stall_seconds = 6.0
        self.retry_after = 1
        self.admins: set[int] = set()
        self.chat_types: dict[int, str] = {}
        self.photos: list[tuple[int, str, bytes]] = []
        self.documents: list[tuple[str, bytes]] = []
        self.blocked: set[int] = set()  # users who blocked the bot
        self.webhook: dict[str, Any] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- life ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/bot"

    def start(self) -> FakeBotAPI:
        self.thread.start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # -- what tests inject --------------------------------------------------------------------
    def _push(self, update: dict[str, Any]) -> None:
        with self.cond:
            update["update_id"] = next(self.update_ids)
            self.updates.append(update)
            self.cond.notify_all()

    def user(self, user_id: int, language_code: str | None = None) -> dict[str, Any]:
        u: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            u["language_code"] = language_code
        return u

    def edit_text(self, chat_id: int, user_id: int, message_id: int, text: str) -> None:
        """A user edits their message ``message_id`` to ``text`` (an edited_message update)."""
        self._push({"edited_message": {
            "message_id": message_id, "date": int(time.time()), "edit_date": int(time.time()),
            "text": text, "chat": self._chat(chat_id), "from": self.user(user_id, None),
            **({"entities": [{"type": "bot_command", "offset": 0,
                              "length": len(text.split()[0])}]} if text.startswith("/") else {})}})

    def send_text(self, chat_id: int, user_id: int, text: str, *, chat_type: str = "private",
                  language_code: str | None = None, reply_to: int | None = None) -> int:
        """A user writes ``text``; commands and mentions get their entities."""
        self.chat_types[chat_id] = chat_type
        message_id = next(self.message_ids)
        msg: dict[str, Any] = {
            "message_id": message_id, "date": int(time.time()), "text": text,
            "chat": self._chat(chat_id), "from": self.user(user_id, language_code)}
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0,
                             "length": len(text.split()[0])})
        at = text.find(f"@{BOT_USERNAME}")
        if at >= 0 and not text.startswith("/"):
            entities.append({"type": "mention", "offset": at, "length": len(BOT_USERNAME) + 1})
        if entities:
            msg["entities"] = entities
        if reply_to is not None:
            original = self.messages.get((chat_id, reply_to))
            msg["reply_to_message"] = {
                "message_id": reply_to, "date": int(time.time()), "chat": self._chat(chat_id),
                "text": original.text if original else "",
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Parallax",
                         "username": BOT_USERNAME}}
        self._push({"message": msg})
        return message_id

    def press(self, chat_id: int, user_id: int, message_id: int, data: str,
              language_code: str | None = None) -> None:
        stored = self.messages.get((chat_id, message_id))  # None: a press forged elsewhere
        self._push({"callback_query": {
            "id": str(next(self.update_ids)), "from": self.user(user_id, language_code),
            "chat_instance": "ci", "data": data,
            "message": {"message_id": message_id, "date": int(time.time()),
                        "chat": self._chat(chat_id), "text": stored.text if stored else "",
                        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Parallax"}}}})

    def _chat(self, chat_id: int) -> dict[str, Any]:
        kind = self.chat_types.get(chat_id, "private")
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind != "private":
            chat["title"] = "Demo group"
        return chat

    # -- what tests read ----------------------------------------------------------------------
    def sent(self, chat_id: int) -> list[StoredMessage]:
        return [m for (c, _), m in sorted(self.messages.items()) if c == chat_id]

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.cond:
                if predicate():
                    return
            time.sleep(0.05)
        raise AssertionError("timed out waiting for the bot")

    # -- the HTTP side ------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = self.path
                prefix = f"/bot{api.token}/"
                if not path.startswith(prefix):
                    self._reply(401, {"ok": False, "error_code": 401,
                                      "description": "Unauthorized"})
                    return
                method = path[len(prefix):]
                params, files = _parse(self.headers.get("Content-Type", ""), body)
                status, payload = api.handle(method, params, files)
                self._reply(status, payload)

            do_GET = do_POST

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the bot stopped polling while we answered

        return Handler

    def handle(self, method: str, params: dict[str, Any],
               files: dict[str, tuple[str, bytes]]) -> tuple[int, dict[str, Any]]:
        call = Call(method, params, time.monotonic())
        try:
            if method == "getUpdates":
                return 200, {"ok": True, "result": self._get_updates(params)}
            if method in ("sendMessage", "editMessageText"):
                with self.cond:
                    fault = "500" if self.fail_500 > 0 else "stall" if self.stall > 0 else ""
                    if fault == "500":
                        self.fail_500 -= 1
                    elif fault == "stall":
                        self.stall -= 1
                if fault:
                    if fault == "stall":
                        time.sleep(self.stall_seconds)
                    call.status = 500
                    with self.cond:
                        self.calls.append(call)
                    return 500, {"ok": False, "error_code": 500,
                                 "description": "Internal Server Error"}
            with self.cond:
                self.calls.append(call)
                status, payload = self._dispatch(method, params, files, call)
                call.status = status
                call.result = payload
                self.cond.notify_all()
                return status, payload
        except Exception as exc:  # a bug in the test server must show, not hang the bot
            return 500, {"ok": False, "error_code": 500, "description": repr(exc)}

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 2.0)
        with self.cond:
            while True:
                ready = [u for u in self.updates if u["update_id"] >= offset]
                if ready or time.monotonic() >= deadline:
                    self.updates = ready
                    return ready
                self.cond.wait(timeout=max(0.0, deadline - time.monotonic()))

    def _limited(self, chat_id: int, message: StoredMessage | None, now: float) -> int:
        """Seconds to wait if this send/edit breaks a limit, else 0."""
        if self.force_429 > 0:
            self.force_429 -= 1
            return self.retry_after
        if message is not None and message.edits and now - message.edits[-1] < \
                self.edit_interval:
            return 1
        if self.chat_types.get(chat_id, "private") != "private":
            window = [t for t in self.group_window.get(chat_id, []) if now - t < 60.0]
            self.group_window[chat_id] = window
            if len(window) >= self.group_limit:
                return int(60.0 - (now - window[0])) + 1
            window.append(now)
        return 0

    def _error(self, code: int, description: str, **extra: Any) -> tuple[int, dict[str, Any]]:
        payload: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if extra:
            payload["parameters"] = extra
        return code, payload

    def _message_json(self, m: StoredMessage) -> dict[str, Any]:
        out: dict[str, Any] = {"message_id": m.message_id, "date": int(time.time()),
                               "chat": self._chat(m.chat_id), "text": m.text,
                               "from": {"id": BOT_ID, "is_bot": True, "first_name": "Parallax",
                                        "username": BOT_USERNAME}}
        if m.document:
            out["document"] = m.document
            out.pop("text")
        return out

    def _text(self, params: dict[str, Any]) -> tuple[str, str]:
        raw = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML":
            plain, error = check_html(raw)
            if error:
                return "", error
        else:
            plain = raw
        if not plain.strip():
            return "", "Bad Request: message text is empty"
        if utf16_len(plain) > 4096:
            return "", "Bad Request: message is too long"
        return plain, ""

    def _dispatch(self, method: str, params: dict[str, Any],
                  files: dict[str, tuple[str, bytes]], call: Call) -> tuple[int, dict[str, Any]]:
        now = call.at
        if method == "getMe":
            return 200, {"ok": True, "result": {
                "id": BOT_ID, "is_bot": True, "first_name": "Parallax",
                "username": BOT_USERNAME, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}}
        if int(params.get("chat_id") or 0) in self.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        if method == "setWebhook":
            self.webhook = dict(params)
            return 200, {"ok": True, "result": True}
        if method in ("deleteWebhook", "setMyCommands", "deleteMyCommands", "sendChatAction",
                      "answerCallbackQuery", "close", "logOut"):
            return 200, {"ok": True, "result": True}
        if method == "getChatMember":
            user_id = int(params["user_id"])
            if user_id in self.admins:
                member = {"status": "creator", "is_anonymous": False}
            else:
                member = {"status": "member"}
            return 200, {"ok": True, "result": {**member, "user": self.user(user_id)}}
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            plain, error = self._text(params)
            if error:
                return self._error(400, error if error.startswith("Bad") else
                                   f"Bad Request: {error}")
            wait = self._limited(chat_id, None, now)
            if wait:
                return self._error(429, f"Too Many Requests: retry after {wait}",
                                   retry_after=wait)
            m = StoredMessage(chat_id, next(self.message_ids), plain, str(params["text"]),
                              params.get("parse_mode"), _json(params.get("reply_markup")),
                              reply_to=int(params["reply_to_message_id"])
                              if params.get("reply_to_message_id") else None)
            m.edits.append(now)
            self.messages[(chat_id, m.message_id)] = m
            return 200, {"ok": True, "result": self._message_json(m)}
        if method == "editMessageText":
            chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
            m = self.messages.get((chat_id, message_id))
            if m is None:
                return self._error(400, "Bad Request: message to edit not found")
            plain, error = self._text(params)
            if error:
                return self._error(400, error if error.startswith("Bad") else
                                   f"Bad Request: {error}")
            markup = _json(params.get("reply_markup"))
            if plain == m.text and markup == m.reply_markup and \
                    params.get("parse_mode") == m.parse_mode:
                return self._error(400, "Bad Request: message is not modified: specified new "
                                        "message content and reply markup are exactly the same")
            wait = self._limited(chat_id, m, now)
            if wait:
                return self._error(429, f"Too Many Requests: retry after {wait}",
                                   retry_after=wait)
            m.text, m.raw, m.parse_mode, m.reply_markup = plain, str(params["text"]), \
                params.get("parse_mode"), markup
            m.edits.append(now)
            return 200, {"ok": True, "result": self._message_json(m)}
        if method == "sendPhoto":
            chat_id = int(params["chat_id"])
            name, data = files.get("photo", ("", b""))
            self.photos.append((chat_id, name, data))
            m = StoredMessage(chat_id, next(self.message_ids), str(params.get("caption", "")),
                              "", None, reply_to=int(params["reply_to_message_id"])
                              if params.get("reply_to_message_id") else None)
            self.messages[(chat_id, m.message_id)] = m
            result = self._message_json(m)
            result["photo"] = [{"file_id": f"p{len(self.photos)}",
                                "file_unique_id": f"pu{len(self.photos)}",
                                "width": 100, "height": 100}]
            return 200, {"ok": True, "result": result}
        if method == "sendDocument":
            chat_id = int(params["chat_id"])
            name, data = files.get("document", ("", b""))
            self.documents.append((name, data))
            m = StoredMessage(chat_id, next(self.message_ids), str(params.get("caption", "")),
                              "", None, document={"file_id": f"f{len(self.documents)}",
                                                  "file_unique_id": f"u{len(self.documents)}",
                                                  "file_name": name})
            self.messages[(chat_id, m.message_id)] = m
            return 200, {"ok": True, "result": self._message_json(m)}
        return self._error(404, f"Not Found: method {method} is not in the test server")


def _json(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _parse(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    files: dict[str, tuple[str, bytes]] = {}
    if content_type.startswith("multipart/form-data"):
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        params: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True) or b""
            if filename:
                files[str(name)] = (filename, payload)
            else:
                params[str(name)] = payload.decode("utf-8")
        return params, files
    if content_type.startswith("application/json"):
        return (json.loads(body or b"{}"), files)
    parsed = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}, files


def unescape(text: str) -> str:
    return html.unescape(text)
