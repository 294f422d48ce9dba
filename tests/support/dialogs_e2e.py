"""What the dialogs e2e tests share (issue 18): the stack with deals and dialogs, the demo bot switched to
long polling against the fake Bot API the stack starts (tests/fakes/telegram_bot_api.py), calls through the
gateway as a demo role, and the fake's test-control API (a client writes, shares a contact, presses a button;
what the bot sent)."""
import json
import urllib.request

from e2e import StackTest
from idempotency import load_cases

_INBOX_CASES = load_cases("dialogs_inbox")
DEMO_BOT = _INBOX_CASES.DEMO_BOT
DEMO_TOKEN = _INBOX_CASES.DEMO_TOKEN


def fake_control(telegram_url, token, action, body=None):
    """The test control of the fake Bot API at `telegram_url` for the bot of `token`: GET without a body,
    else POST of `body`; the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request("%s/_fake/bot%s/%s" % (telegram_url, token, action), data=data,
                                 method="GET" if body is None else "POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


class DialogsStackTest(StackTest):
    services = ["deals", "dialogs"]
    role = "telegram_operator"  # who call() acts as unless told

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        _INBOX_CASES.use_polling(cls.curl, lambda role, *h: [cls.stack.bearer(role)] + list(h))

    def call(self, method, path, body=None, role=None, status=200, headers=()):
        """`method` `path` through the gateway as `role` (default: the class's); asserts `status`, returns JSON."""
        r = self.curl(method, path, body, headers=self.as_(role or self.role, *headers))
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def control(self, action, body=None):
        """The fake Bot API's test control for the demo bot: GET without a body, else POST of `body`."""
        return fake_control(self.stack.telegram_url, DEMO_TOKEN, action, body)

    def sent_to(self, chat, containing):
        """What the bot sent to `chat` whose text contains `containing`."""
        return [s for s in self.control("sent") if s["chat_id"] == chat and containing in (s.get("text") or "")]
