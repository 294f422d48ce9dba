"""Idempotency cases of the POST routes of crm.dialogs.v1.DialogService (the inbox: issue 18, T7; issue 16's
contract): read by the suite's walk of every POST route (tests/e2e/api_conventions_test.py) and by
tests/e2e/dialogs_inbox_test.py, which runs them itself.

SendMessage honours Idempotency-Key (the record in the transaction of the message and its outgoing row):
twice with one key it answers 200 with the same message and Telegram gets one; the same key with another
text is 400 naming idempotency-key. The fixture makes a dialog the way a client does: the demo bot
(services/dialogs/scenarios/demo.h) is switched to long polling and the fake Bot API the stack runs
(tests/fakes/telegram_bot_api.py) gets a client's /start; the Telegram supervisor (dialogs.supervise)
answers it. The state transitions are exempt.
"""
import json
import random
import time
import urllib.request

DEMO_BOT = "00000000-0000-7000-8000-00000000b075"
DEMO_TOKEN = "7000000:crm-demo-bot"  # services/dialogs/telegram/wire.cc


def _fake_url(curl):
    stack = getattr(curl, "__self__", None)  # tests/support/stack.py Stack.curl, bound
    url = getattr(stack, "telegram_url", None)
    if not url:
        raise AssertionError("fixture: the stack runs no fake Bot API (tests/support/stack.py starts one for dialogs)")
    return url


def client_writes(curl, user_id, text):
    req = urllib.request.Request("%s/_fake/bot%s/message" % (_fake_url(curl), DEMO_TOKEN),
                                 data=json.dumps({"user_id": user_id, "text": text}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def use_polling(curl, as_):
    """The demo bot is a webhook bot; the gateway's public webhook route (G3) is not there yet: poll."""
    r = curl("PATCH", "/v1/dialogs/bots/" + DEMO_BOT,
             {"bot": {"id": DEMO_BOT, "intakeMode": "INTAKE_MODE_POLLING"}, "updateMask": "intakeMode"},
             headers=as_("administrator"))
    if r.status != 200:
        raise AssertionError("fixture: switching the demo bot to polling: %s %s" % (r.status, r.body))


def wait_dialog(curl, as_, user_id, timeout=60):
    """The dialog of the client `user_id` once the processor opened it, as the supervisor lists it."""
    deadline = time.monotonic() + timeout
    while True:
        r = curl("GET", "/v1/dialogs?openOnly=true&botId=%s&pageSize=200" % DEMO_BOT,
                 headers=as_("telegram_supervisor"))
        if r.status != 200:
            raise AssertionError("fixture: listing dialogs: %s %s" % (r.status, r.body))
        for d in r.json().get("dialogs", []):
            if int(d.get("telegramUserId", 0)) == user_id:
                return d
        if time.monotonic() > deadline:
            raise AssertionError("fixture: no dialog of Telegram user %d appeared" % user_id)
        time.sleep(0.2)


def fixtures(curl, as_):
    use_polling(curl, as_)
    user_id = random.randint(10 ** 8, 2 * 10 ** 9)
    client_writes(curl, user_id, "/start")
    return {"dialog": wait_dialog(curl, as_, user_id)["id"]}


CASES = [
    {"rpc": "crm.dialogs.v1.DialogService.SendMessage", "role": "telegram_supervisor",
     "path": "/v1/dialogs/{dialog}/messages", "body": {"text": "Ответ оператора (идемпотентность)"},
     "other_body": {"text": "Другой ответ"}},
    {"rpc": "crm.dialogs.v1.DialogService.TakeDialog",
     "exempt": "a state transition guarded by the state: one conditional UPDATE of a QUEUED dialog; the winner's "
               "repeat returns the dialog unchanged, anyone else's is refused"},
    {"rpc": "crm.dialogs.v1.DialogService.PickClient",
     "exempt": "a state transition: links one of the dialog's candidates (version-guarded); a repeat links the "
               "same client again and creates nothing"},
    {"rpc": "crm.dialogs.v1.DialogService.SetDialogStatus",
     "exempt": "a state transition guarded by version and by the state (a closed dialog never changes)"},
    {"rpc": "crm.dialogs.v1.DialogService.MarkRead",
     "exempt": "sets the responsible's unread count to 0: a repeat finds it 0 and creates nothing"},
]
