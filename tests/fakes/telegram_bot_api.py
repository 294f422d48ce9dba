#!/usr/bin/python3
"""telegram_bot_api: a fake Telegram Bot API server for tests and `tools/crm up` (python3 stdlib only).

It speaks the real wire protocol, so the dialogs service talks to it exactly as to api.telegram.org:
    POST|GET /bot<token>/<method>     JSON, application/x-www-form-urlencoded or query parameters
            -> {"ok":true,"result":...}
             | {"ok":false,"error_code":N,"description":"...","parameters":{"retry_after":N}}
    GET /file/bot<token>/<file_path>  a file's bytes (getFile gives the path)
Methods: getMe, setWebhook (url, secret_token, allowed_updates, max_connections, drop_pending_updates;
updates are then POSTed to the url with X-Telegram-Bot-Api-Secret-Token, in order, retrying non-2xx),
deleteWebhook, getWebhookInfo, getUpdates (offset, limit, timeout: long poll; 409 while a webhook is set, and
409 "terminated by other getUpdates request" to a long poll another getUpdates of the bot overtakes, as
Telegram does when two instances poll one bot),
sendMessage, sendDocument, getFile, answerCallbackQuery. Any token of the form <digits>:<letters/digits/_->
is a bot (username "fake<digits>_bot"); another token gets 401 Unauthorized.

Test control, JSON in and out, under /_fake/bot<token>/ (a stable interface: tests depend on it):
    POST message   {"user_id", "text", "chat_id"?, "first_name"?, "chat_type"?}   a client writes -> the Update
    POST contact   {"user_id", "phone_number", "contact_user_id"?, "first_name"?}  a client shares a contact
    POST document  {"user_id", "file_name", "mime_type", "content"?}               a client sends a file
    POST press     {"user_id", "data", "message_id"?, "chat_id"?}                  a client presses a button
    POST burst     {"count", "chats", "first_user_id"?}   `count` text updates round-robin over `chats`
                   private chats (ids first_user_id.., default 1000001..) -> {"first_update_id", "last_update_id"}
    POST fail      {"chat_id", "error_code"?: 429, "retry_after"?: 5, "count"?: 1, "description"?}
                   the next `count` sends to the chat fail so (429 carries parameters.retry_after)
    POST migrate   {"chat_id", "to"}   sends to chat_id answer 400 with parameters.migrate_to_chat_id = to
    GET  sent      what the bot sent: [{"method","chat_id","text","params","time","ok","error_code"}], time
                   in Unix seconds (float) as the fake received the call
    GET  rates     {"max_per_chat_1s", "max_per_bot_1s", "max_per_group_60s", "sends"}: the largest number
                   of successful sends seen in any window (per chat 1 s, per bot 1 s, per group chat 60 s)
    GET  state     {"webhook_url", "webhook_secret", "pending", "delivered", "next_update_id", "confirmed_offset",
                   "unanswered_callbacks", "poll_calls", "poll_conflicts", "webhook_max_connections"}: webhook_secret
                   is the secret_token Telegram sends and webhook_max_connections its concurrency (tests and
                   the suite bench deliver updates themselves with them);
                   poll_calls counts getUpdates calls, poll_conflicts those made while another was in flight
    POST redeliver {"update"}   Telegram sends an update again (it missed the answer): the Update as
                   message/contact/... returned it joins the queue again
    POST slow      {"seconds"}   every getUpdates answer of the bot waits this long first (a slow network:
                   tests stop a poller mid-burst)
    POST reset     forget the bot's updates, sends, failures and webhook
When ready it prints exactly one line on stdout (flushed):
    telegram_bot_api listening on 127.0.0.1:<port>
Usage: /usr/bin/python3 tests/fakes/telegram_bot_api.py [--port PORT]   (0, the default, picks a free port)
"""

import argparse
import base64
import collections
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse
import urllib.request

TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class Bot:
    def __init__(self, token):
        self.token = token
        self.id = int(TOKEN_RE.match(token).group(1))
        self.username = "fake%d_bot" % self.id
        self.cond = threading.Condition()
        self.reset()

    def reset(self):
        self.updates = []          # pending (not yet confirmed / delivered), in update_id order
        self.next_update_id = 100000001
        self.confirmed_offset = 0
        self.delivered = 0
        self.webhook = None        # {"url", "secret_token", "allowed_updates", "max_connections"}
        self.last_error = None
        self.sent = []
        self.message_id = 1
        self.failures = collections.defaultdict(list)   # chat_id -> [(error_code, retry_after, description)]
        self.migrations = {}
        self.files = {}            # file_id -> {"file_unique_id", "file_path", "content", "size"}
        self.callbacks = set()
        self.answered = set()
        self.slow = 0.0
        self.polls = 0             # getUpdates calls in flight
        self.poll_generation = 0   # the newest getUpdates call; an older one still waiting is terminated
        self.poll_conflicts = 0
        self.poll_calls = 0


BOTS = {}
BOTS_LOCK = threading.Lock()


def bot_for(token):
    if not TOKEN_RE.match(token or ""):
        return None
    with BOTS_LOCK:
        if token not in BOTS:
            BOTS[token] = Bot(token)
            threading.Thread(target=deliver_loop, args=(BOTS[token],), daemon=True).start()
        return BOTS[token]


def ok(result):
    return 200, {"ok": True, "result": result}


def err(code, description, **parameters):
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return code, body


def add_update(bot, kind, payload):
    with bot.cond:
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.updates.append(update)
        bot.cond.notify_all()
        return update


def user(uid, first_name="Клиент"):
    return {"id": uid, "is_bot": False, "first_name": first_name, "language_code": "ru"}


def chat(cid, uid, first_name, chat_type):
    if chat_type == "private" or cid == uid:
        return {"id": cid, "type": "private", "first_name": first_name}
    return {"id": cid, "type": chat_type or "group", "title": "Группа %d" % cid}


def client_message(bot, body, extra):
    uid = int(body["user_id"])
    first = body.get("first_name", "Клиент")
    msg = {"message_id": bot.message_id, "date": int(time.time()), "from": user(uid, first),
           "chat": chat(int(body.get("chat_id", uid)), uid, first, body.get("chat_type"))}
    bot.message_id += 1
    msg.update(extra)
    return add_update(bot, "message", msg)


def deliver_loop(bot):
    """Delivers pending updates to the webhook, in order, one at a time; retries a failure."""
    while True:
        with bot.cond:
            while bot.webhook is None or not bot.updates:
                bot.cond.wait()
            hook = dict(bot.webhook)
            update = bot.updates[0]
        data = json.dumps(update).encode()
        req = urllib.request.Request(hook["url"], data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        if hook.get("secret_token"):
            req.add_header("X-Telegram-Bot-Api-Secret-Token", hook["secret_token"])
        delivered = False
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                delivered = 200 <= resp.status < 300
        except Exception as e:  # non-2xx raises HTTPError; connection errors too
            with bot.cond:
                bot.last_error = (int(time.time()), str(e))
        with bot.cond:
            if delivered and bot.updates and bot.updates[0] is update:
                bot.updates.pop(0)
                bot.delivered += 1
                bot.cond.notify_all()
            elif not delivered:
                bot.cond.wait(0.2)  # Telegram retries later


def record_send(bot, method, chat_id, text, params):
    """Applies an injected failure or a migration; returns an error reply or None."""
    entry = {"method": method, "chat_id": chat_id, "text": text, "params": params, "time": time.time(),
             "ok": True, "error_code": 0}
    reply = None
    if chat_id in bot.migrations:
        reply = err(400, "Bad Request: group chat was upgraded to a supergroup chat",
                    migrate_to_chat_id=bot.migrations[chat_id])
    elif bot.failures.get(chat_id):
        code, retry_after, description = bot.failures[chat_id].pop(0)
        if code == 429:
            reply = err(429, description or "Too Many Requests: retry after %d" % retry_after,
                        retry_after=retry_after)
        else:
            reply = err(code, description or "Bad Request: staged failure")
    if reply is not None:
        entry["ok"] = False
        entry["error_code"] = reply[0]
    bot.sent.append(entry)
    return reply


def int_param(params, name, default=None):
    v = params.get(name, default)
    if v is None:
        return None
    return int(v)


def method_call(bot, method, p):
    if method == "getMe":
        return ok({"id": bot.id, "is_bot": True, "first_name": "Fake bot", "username": bot.username,
                   "can_join_groups": True, "supports_inline_queries": False})
    if method == "setWebhook":
        url = p.get("url", "")
        if url == "":
            with bot.cond:
                bot.webhook = None
            return ok(True)
        if not url.startswith(("http://", "https://")):
            return err(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not SECRET_RE.match(secret):
            return err(400, "Bad Request: secret token contains unallowed characters")
        allowed = p.get("allowed_updates")
        if isinstance(allowed, str):
            allowed = json.loads(allowed)
        max_conn = int_param(p, "max_connections", 40)
        if not 1 <= max_conn <= 100:
            return err(400, "Bad Request: bad max_connections")
        with bot.cond:
            if str(p.get("drop_pending_updates", "false")).lower() == "true":
                bot.updates = []
            bot.webhook = {"url": url, "secret_token": secret, "allowed_updates": allowed,
                           "max_connections": max_conn}
            bot.cond.notify_all()
        return ok(True)
    if method == "deleteWebhook":
        with bot.cond:
            bot.webhook = None
            if str(p.get("drop_pending_updates", "false")).lower() == "true":
                bot.updates = []
        return ok(True)
    if method == "getWebhookInfo":
        with bot.cond:
            info = {"url": bot.webhook["url"] if bot.webhook else "", "has_custom_certificate": False,
                    "pending_update_count": len(bot.updates)}
            if bot.webhook:
                info["max_connections"] = bot.webhook["max_connections"]
                if bot.webhook.get("allowed_updates") is not None:
                    info["allowed_updates"] = bot.webhook["allowed_updates"]
            if bot.last_error:
                info["last_error_date"], info["last_error_message"] = bot.last_error
        return ok(info)
    if method == "getUpdates":
        offset = int_param(p, "offset", 0)
        limit = max(1, min(100, int_param(p, "limit", 100)))
        timeout = max(0, int_param(p, "timeout", 0))
        if bot.slow:
            time.sleep(bot.slow)
        deadline = time.time() + timeout
        with bot.cond:
            if bot.webhook is not None:
                return err(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
            bot.poll_calls += 1
            bot.poll_generation += 1
            generation = bot.poll_generation
            if bot.polls:  # another instance polls the bot: Telegram ends the older long poll
                bot.poll_conflicts += 1
                bot.cond.notify_all()
            bot.polls += 1
            try:
                if offset:
                    bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
                    bot.confirmed_offset = max(bot.confirmed_offset, offset)
                while not bot.updates and time.time() < deadline and generation == bot.poll_generation:
                    bot.cond.wait(deadline - time.time())
                if generation != bot.poll_generation:
                    return err(409, "Conflict: terminated by other getUpdates request; make sure that only one "
                                    "bot instance is running")
                return ok(bot.updates[:limit])
            finally:
                bot.polls -= 1
    if method in ("sendMessage", "sendDocument"):
        if "chat_id" not in p:
            return err(400, "Bad Request: chat_id is empty")
        chat_id = int(p["chat_id"])
        text = p.get("text") if method == "sendMessage" else p.get("caption", "")
        if method == "sendMessage" and not text:
            return err(400, "Bad Request: message text is empty")
        if method == "sendDocument" and not p.get("document"):
            return err(400, "Bad Request: there is no document in the request")
        with bot.cond:
            failed = record_send(bot, method, chat_id, text, p)
            if failed:
                return failed
            mid = bot.message_id
            bot.message_id += 1
        msg = {"message_id": mid, "date": int(time.time()),
               "from": {"id": bot.id, "is_bot": True, "first_name": "Fake bot", "username": bot.username},
               "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"}}
        if method == "sendMessage":
            msg["text"] = text
        else:
            msg["document"] = {"file_id": str(p["document"]), "file_unique_id": "u" + str(mid)}
        return ok(msg)
    if method == "getFile":
        f = bot.files.get(p.get("file_id", ""))
        if f is None:
            return err(400, "Bad Request: invalid file_id")
        return ok({"file_id": p["file_id"], "file_unique_id": f["file_unique_id"], "file_size": f["size"],
                   "file_path": f["file_path"]})
    if method == "answerCallbackQuery":
        qid = p.get("callback_query_id", "")
        with bot.cond:
            if qid not in bot.callbacks:
                return err(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
            bot.answered.add(qid)
            bot.sent.append({"method": method, "chat_id": 0, "text": p.get("text", ""), "params": p,
                             "time": time.time(), "ok": True, "error_code": 0})
        return ok(True)
    return err(404, "Not Found: method not found")


def rates(bot):
    sends = [s for s in bot.sent if s["ok"] and s["method"] != "answerCallbackQuery"]

    def max_window(times, width):
        times = sorted(times)
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - width:
                j += 1
            best = max(best, i - j + 1)
        return best

    per_chat = collections.defaultdict(list)
    for s in sends:
        per_chat[s["chat_id"]].append(s["time"])
    return {"sends": len(sends),
            "max_per_bot_1s": max_window([s["time"] for s in sends], 1.0),
            "max_per_chat_1s": max((max_window(t, 1.0) for t in per_chat.values()), default=0),
            "max_per_group_60s": max((max_window(t, 60.0) for c, t in per_chat.items() if c < 0), default=0)}


def control(bot, action, body):
    if action == "message":
        return 200, client_message(bot, body, {"text": body.get("text", "")})
    if action == "contact":
        uid = int(body["user_id"])
        contact = {"phone_number": body["phone_number"], "first_name": body.get("first_name", "Клиент"),
                   "user_id": int(body.get("contact_user_id", uid))}
        return 200, client_message(bot, body, {"contact": contact})
    if action == "document":
        content = base64.b64decode(body.get("content", "")) if body.get("content") else b"fake file"
        with bot.cond:
            n = len(bot.files) + 1
            fid = "BQACAgIAAx%d" % n
            bot.files[fid] = {"file_unique_id": "AgAD%d" % n, "file_path": "documents/file_%d" % n,
                              "content": content, "size": len(content)}
        doc = {"file_id": fid, "file_unique_id": "AgAD%d" % n, "file_name": body.get("file_name", "file"),
               "mime_type": body.get("mime_type", "application/octet-stream"), "file_size": len(content)}
        extra = {"document": doc}
        if body.get("caption"):
            extra["caption"] = body["caption"]
        return 200, client_message(bot, body, extra)
    if action == "press":
        uid = int(body["user_id"])
        with bot.cond:
            qid = "%d%06d" % (uid, len(bot.callbacks) + 1)
            bot.callbacks.add(qid)
        query = {"id": qid, "from": user(uid), "chat_instance": "ci%d" % uid, "data": body["data"],
                 "message": {"message_id": int(body.get("message_id", 1)), "date": int(time.time()),
                             "chat": chat(int(body.get("chat_id", uid)), uid, "Клиент", None)}}
        return 200, add_update(bot, "callback_query", query)
    if action == "burst":
        count, chats = int(body["count"]), int(body["chats"])
        first_user = int(body.get("first_user_id", 1000001))
        first = None
        last = None
        for i in range(count):
            u = client_message(bot, {"user_id": first_user + i % chats}, {"text": "сообщение %d" % i})
            first = first if first is not None else u["update_id"]
            last = u["update_id"]
        return 200, {"first_update_id": first, "last_update_id": last}
    if action == "fail":
        with bot.cond:
            for _ in range(int(body.get("count", 1))):
                bot.failures[int(body["chat_id"])].append(
                    (int(body.get("error_code", 429)), int(body.get("retry_after", 5)), body.get("description")))
        return 200, {}
    if action == "migrate":
        with bot.cond:
            bot.migrations[int(body["chat_id"])] = int(body["to"])
        return 200, {}
    if action == "redeliver":
        with bot.cond:
            bot.updates.append(body["update"])
            bot.cond.notify_all()
        return 200, {}
    if action == "slow":
        bot.slow = float(body["seconds"])
        return 200, {}
    if action == "sent":
        with bot.cond:
            return 200, list(bot.sent)
    if action == "rates":
        with bot.cond:
            return 200, rates(bot)
    if action == "state":
        with bot.cond:
            return 200, {"webhook_url": bot.webhook["url"] if bot.webhook else "",
                         "webhook_secret": (bot.webhook or {}).get("secret_token") or "",
                         "webhook_max_connections": (bot.webhook or {}).get("max_connections") or 40,
                         "poll_calls": bot.poll_calls, "poll_conflicts": bot.poll_conflicts,
                         "pending": len(bot.updates),
                         "delivered": bot.delivered, "next_update_id": bot.next_update_id,
                         "confirmed_offset": bot.confirmed_offset,
                         "unanswered_callbacks": len(bot.callbacks - bot.answered)}
    if action == "reset":
        with bot.cond:
            bot.reset()
            bot.cond.notify_all()
        return 200, {}
    return 404, {"error": "unknown control " + action}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests read stdout
        pass

    def reply(self, code, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def params(self):
        url = urllib.parse.urlsplit(self.path)
        p = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if raw and ctype == "application/json":
            p.update(json.loads(raw))
        elif raw and ctype == "application/x-www-form-urlencoded":
            p.update({k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()})
        return url.path, p

    def handle_any(self):
        try:
            path, p = self.params()
        except (ValueError, json.JSONDecodeError):
            return self.reply(*err(400, "Bad Request: can't parse request body"))
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "_fake" and parts[1].startswith("bot"):
            bot = bot_for(parts[1][3:])
            if bot is None:
                return self.reply(404, {"error": "not a token"})
            try:
                return self.reply(*control(bot, parts[2], p))
            except (KeyError, ValueError) as e:
                return self.reply(400, {"error": "bad control request: %s" % e})
        if len(parts) >= 3 and parts[0] == "file" and parts[1].startswith("bot"):
            bot = bot_for(parts[1][3:])
            path_in = "/".join(parts[2:])
            for f in (bot.files.values() if bot else []):
                if f["file_path"] == path_in:
                    return self.reply(200, f["content"], "application/octet-stream")
            return self.reply(*err(404, "Not Found"))
        if len(parts) == 2 and parts[0].startswith("bot"):
            bot = bot_for(parts[0][3:])
            if bot is None:
                return self.reply(*err(401, "Unauthorized"))
            try:
                return self.reply(*method_call(bot, parts[1], p))
            except (KeyError, ValueError, TypeError) as e:
                return self.reply(*err(400, "Bad Request: %s" % e))
        return self.reply(*err(404, "Not Found"))

    do_GET = handle_any
    do_POST = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("telegram_bot_api listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
