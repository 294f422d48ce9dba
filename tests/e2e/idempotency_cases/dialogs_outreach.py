"""Idempotency cases of the POST routes of dialogs' outreach (issue 18: T7's templates and QR codes, T9's
mailings; issue 16's contract): read by the suite's walk of every POST route
(tests/e2e/api_conventions_test.py) and by tests/e2e/dialogs_outreach_test.py, which runs them itself.

CreateTemplate, SendTemplate, StartDialog, CreateQrCode and CreateMailing honour Idempotency-Key (the record
in the transaction of the effect): twice with one key they answer 200 with the same body (one template, one
message to Telegram, one dialog, one QR code, one mailing); the same key with another request is 400 naming
idempotency-key. The fixtures make what they need as a client and the staff do: the demo bot switched to
long polling, a deals client with a phone whose Telegram user shares that contact through the fake Bot API
(the dialog is linked to the client by deals), a template of the demo bot. RenderTemplate is a read sent as
POST; CancelMailing a state transition.
"""
import json
import random
import time
import urllib.request
import uuid

DEMO_BOT = "00000000-0000-7000-8000-00000000b075"
DEMO_TOKEN = "7000000:crm-demo-bot"  # services/dialogs/telegram/wire.cc


def _fake(curl, action, body):
    stack = getattr(curl, "__self__", None)  # tests/support/stack.py Stack.curl, bound
    url = getattr(stack, "telegram_url", None)
    if not url:
        raise AssertionError("fixture: the stack runs no fake Bot API (tests/support/stack.py starts one for dialogs)")
    req = urllib.request.Request("%s/_fake/bot%s/%s" % (url, DEMO_TOKEN, action), data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def _ok(r, what):
    if r.status != 200:
        raise AssertionError("fixture: %s: %s %s" % (what, r.status, r.body))
    return r.json()


def use_polling(curl, as_):
    _ok(curl("PATCH", "/v1/dialogs/bots/" + DEMO_BOT,
             {"bot": {"id": DEMO_BOT, "intakeMode": "INTAKE_MODE_POLLING"}, "updateMask": "intakeMode"},
             headers=as_("administrator")), "switching the demo bot to polling")


def wait_dialog(curl, as_, user_id, ready=lambda d: True, timeout=60):
    """The open dialog of Telegram user `user_id` once `ready(dialog)`, as the supervisor lists it."""
    deadline = time.monotonic() + timeout
    while True:
        r = _ok(curl("GET", "/v1/dialogs?openOnly=true&botId=%s&pageSize=200" % DEMO_BOT,
                     headers=as_("telegram_supervisor")), "listing dialogs")
        for d in r.get("dialogs", []):
            if int(d.get("telegramUserId", 0)) == user_id and ready(d):
                return d
        if time.monotonic() > deadline:
            raise AssertionError("fixture: no (ready) dialog of Telegram user %d appeared" % user_id)
        time.sleep(0.2)


def linked_client(curl, as_):
    """A deals client whose Telegram user wrote to the demo bot and shared their contact: (client id, user id,
    dialog) once deals linked the dialog to the client."""
    phone = "+7916%07d" % random.randint(0, 9999999)
    client = _ok(curl("POST", "/v1/clients?allowDuplicate=true",
                      {"kind": "KIND_PERSON", "name": "Клиент рассылки", "phones": [phone]}, headers=as_("manager")),
                 "a deals client")
    user_id = random.randint(10 ** 8, 2 * 10 ** 9)
    _fake(curl, "message", {"user_id": user_id, "text": "/start"})
    wait_dialog(curl, as_, user_id)
    _fake(curl, "contact", {"user_id": user_id, "phone_number": phone.lstrip("+")})
    dialog = wait_dialog(curl, as_, user_id, lambda d: d.get("clientId") == client["id"])
    return client["id"], user_id, dialog


def template(name, text="Здравствуйте, {{1}}! Ваш проект: {{2}}."):
    return {"botId": DEMO_BOT, "name": name, "text": text,
            "parameters": [{"index": 2, "defaultValue": "наш дом", "projectValues": {"north": "ЖК «Северный»"}}],
            "inlineKeyboard": [{"buttons": [{"text": "Записаться", "callbackData": "visit"}]}]}


def fixtures(curl, as_):
    use_polling(curl, as_)
    uniq = uuid.uuid4().hex[:8]
    made = _ok(curl("POST", "/v1/dialogs/templates", template("Фикстура " + uniq), headers=as_("administrator")),
               "a template")
    client, _, dialog = linked_client(curl, as_)
    return {"uniq": uniq, "template": made["id"], "client": client, "dialog": dialog["id"], "bot": DEMO_BOT}


CASES = [
    {"rpc": "crm.dialogs.v1.TemplateService.CreateTemplate", "role": "administrator",
     "path": "/v1/dialogs/templates", "body": template("Идемпотентность {uniq}"),
     "other_body": template("Идемпотентность {uniq}", "Другой текст {{1}}")},
    {"rpc": "crm.dialogs.v1.TemplateService.SendTemplate", "role": "telegram_supervisor",
     "path": "/v1/dialogs/{dialog}:sendTemplate", "body": {"templateId": "{template}", "parameters": ["Иван"]},
     "other_body": {"templateId": "{template}", "parameters": ["Пётр"]}},
    {"rpc": "crm.dialogs.v1.TemplateService.StartDialog", "role": "telegram_supervisor",
     "path": "/v1/dialogs:start",
     "body": {"botId": "{bot}", "clientId": "{client}", "templateId": "{template}", "parameters": ["Иван"]},
     "other_body": {"botId": "{bot}", "clientId": "{client}", "templateId": "{template}", "parameters": ["Олег"]}},
    {"rpc": "crm.dialogs.v1.QrCodeService.CreateQrCode", "role": "telegram_operator",
     "path": "/v1/dialogs/qr-codes", "body": {"botId": "{bot}", "project": "Проект {uniq}"},
     "other_body": {"botId": "{bot}", "project": "Другой проект {uniq}"}},
    {"rpc": "crm.dialogs.v1.MailingService.CreateMailing", "role": "telegram_supervisor",
     "path": "/v1/dialogs/mailings",
     "body": {"botId": "{bot}", "templateId": "{template}", "name": "Рассылка {uniq}", "clientIds": ["{client}"],
              "parameters": ["клиент"]}},
    {"rpc": "crm.dialogs.v1.TemplateService.RenderTemplate",
     "exempt": "a read sent as POST for its body: renders the template and writes nothing"},
    {"rpc": "crm.dialogs.v1.MailingService.CancelMailing",
     "exempt": "a state transition guarded by the state: a RUNNING mailing's pending recipients are cancelled once; "
               "a repeat finds it CANCELLED and changes nothing"},
]
