#!/usr/bin/python3
"""Dialogs' outreach end to end (issue 18: T7's templates and QR codes, T9's mailings): identity, deals, dialogs
and the gateway as processes, dialogs talking to the fake Bot API the stack starts, the demo bot on long
polling; driven with curl as the staff do and through the fake as clients do:

  - a personal QR code: made by the Telegram operator, its PNG fetched through the gateway as raw bytes
    (google.api.HttpBody answered raw: Content-Type image/png, Content-Length, nosniff, no-store; the PNG's
    signature and IHDR) and decoded back to the deep link by zbarimg (zbar-tools, a second client nobody here
    wrote); a client's /start with the code's payload gives the dialog the code's project;
  - a template with a project-dependent parameter rendered over python3-grpcio and sent to a dialog through
    the gateway: the fake Bot API received the rendered text and its keyboard; a missing parameter is
    refused naming it;
  - a mailing to two linked clients and one unknown: statuses SENT, SENT, NO_CHAT, the mailing DONE, its
    events (created, finished) on crm.dialogs.mailing.v1;
  - robots' client message (crm.robots.notification.v1, produced to Kafka twice with one event id) reaches
    the client's chat once; the registers (the client's message history, the bot's chats);
  - every POST's idempotency case (tests/e2e/idempotency_cases/dialogs_outreach.py).

Usage: dialogs_outreach_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN, CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
import zlib

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from confluent_kafka import Producer  # noqa: E402
from dialogs_e2e import DialogsStackTest  # noqa: E402
from e2e import BUILD, main, wait_until  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402
from idempotency import check_cases, load_cases  # noqa: E402
from stack import BROKERS  # noqa: E402

CASES = load_cases("dialogs_outreach")
DEMO_BOT = CASES.DEMO_BOT


class DialogsOutreach(DialogsStackTest):
    role = "telegram_supervisor"

    def test_a_personal_qr_code_refers_a_client(self):
        project = "Проект QR " + uuid.uuid4().hex[:6]
        qr = self.call("POST", "/v1/dialogs/qr-codes", {"botId": DEMO_BOT, "project": project},
                       role="telegram_operator", headers=("Idempotency-Key: " + str(uuid.uuid4()),))
        self.assertEqual(qr["operatorId"], self.user_id("telegram_operator"))
        self.assertRegex(qr["payload"], r"^[A-Za-z0-9_-]{1,64}$")
        self.assertEqual(qr["deepLink"], "https://t.me/%s?start=%s" % (qr["botUsername"], qr["payload"]))
        self.assertRegex(qr["code"], r"^[A-Z2-9]{6}$")
        # The image (issue 18): google.api.HttpBody answered raw by the gateway — the PNG's bytes, not JSON.
        r = self.curl("GET", "/v1/dialogs/qr-codes/%s/image" % qr["id"], headers=self.as_("telegram_operator"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers.get("content-type"), "image/png")
        self.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        self.assertEqual(r.headers.get("cache-control"), "no-store")  # a personal code: nobody keeps it
        png = r.raw
        self.assertEqual(int(r.headers["content-length"]), len(png))
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        # IHDR (qr_png.h): a 1-bit grayscale square of (modules + 2·4 quiet) · 8 px, modules = 17 + 4·version.
        length, kind, width, height, depth, color = struct.unpack(">I4sIIBB", png[8:26])
        self.assertEqual((length, kind, depth, color), (13, b"IHDR", 1, 0))
        self.assertEqual(struct.unpack(">I", png[29:33])[0], zlib.crc32(png[12:29]))
        self.assertEqual((width, width % 8), (height, 0))
        modules = width // 8 - 8
        self.assertTrue(modules >= 21 and (modules - 17) % 4 == 0, modules)
        self.assertEqual(png[-12:], b"\0\0\0\0IEND\xaeB`\x82")
        # A second client nobody here wrote reads it back to the deep link.
        self.assertTrue(shutil.which("zbarimg"), "zbarimg is missing: tools/crm install (zbar-tools)")
        with tempfile.NamedTemporaryFile(suffix=".png") as f:
            f.write(png)
            f.flush()
            out = subprocess.run(["zbarimg", "--raw", "-q", f.name], capture_output=True, text=True, check=True)
        self.assertEqual(out.stdout.strip(), qr["deepLink"])
        # Its errors stay the JSON error body.
        missing = self.curl("GET", "/v1/dialogs/qr-codes/%s/image" % uuid.uuid4(), headers=self.as_("telegram_operator"))
        self.assertEqual((missing.status, missing.headers.get("content-type")), (404, "application/json"), missing.body)
        self.assertEqual(missing.error()["status"], "NOT_FOUND")
        # Another operator's code is the supervisor's to make; someone else's code is not the operator's to read.
        self.call("POST", "/v1/dialogs/qr-codes",
                  {"botId": DEMO_BOT, "project": project, "operatorId": self.user_id("telegram_supervisor")},
                  role="telegram_operator", status=403)
        # A client scans it: the dialog takes the project.
        user = random.randint(10 ** 8, 2 * 10 ** 9)
        self.control("message", {"user_id": user, "text": "/start " + qr["payload"]})
        dialog = CASES.wait_dialog(self.curl, self.as_, user, lambda d: d.get("project") == project)
        self.assertEqual(dialog["project"], project)

    def test_a_template_sent_to_a_dialog(self):
        uniq = uuid.uuid4().hex[:8]
        t = self.call("POST", "/v1/dialogs/templates", CASES.template("Шаблон " + uniq), role="administrator")
        self.assertEqual(t["botId"], DEMO_BOT)
        # A Telegram operator may not edit templates.
        self.call("POST", "/v1/dialogs/templates", CASES.template("Оператор " + uniq), role="telegram_operator",
                  status=403)
        # python3-grpcio straight to dialogs: the template rendered for a project (its value table).
        api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        Principal = api.message("crm.common.v1.Principal")
        me = Principal(kind=Principal.KIND_USER, id=self.user_id("telegram_operator"),
                       permissions=["dialogs.read.own", "dialogs.operate"])
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["dialogs"])
        render, RenderTemplateRequest = api.method(channel, "crm.dialogs.v1.TemplateService/RenderTemplate")
        rendered = render(RenderTemplateRequest(id=t["id"], project="north", parameters=["Анна"]),
                          metadata=list(self.stack.signed(me)), timeout=10)
        channel.close()
        self.assertEqual(rendered.text, "Здравствуйте, Анна! Ваш проект: ЖК «Северный».")
        listed = self.call("GET", "/v1/dialogs/templates?botId=%s&pageSize=200" % DEMO_BOT, role="telegram_operator")
        self.assertIn(t["id"], [x["id"] for x in listed["templates"]])
        user = random.randint(10 ** 8, 2 * 10 ** 9)
        self.control("message", {"user_id": user, "text": "/start"})
        dialog = CASES.wait_dialog(self.curl, self.as_, user)
        missing = self.curl("POST", "/v1/dialogs/%s:sendTemplate" % dialog["id"], {"templateId": t["id"]},
                            headers=self.as_("telegram_supervisor"))
        self.assertEqual(missing.status, 400, missing.body)
        self.assertEqual([d.get("field") for d in missing.error().get("details", [])], ["parameters[0]"])
        sent = self.call("POST", "/v1/dialogs/%s:sendTemplate" % dialog["id"],
                         {"templateId": t["id"], "parameters": ["Иван"]},
                         headers=("Idempotency-Key: " + str(uuid.uuid4()),))
        self.assertEqual(sent["text"], "Здравствуйте, Иван! Ваш проект: наш дом.")
        got = wait_until(lambda: self.sent_to(user, "Здравствуйте, Иван!"), "the template at the fake Bot API")
        markup = got[0]["params"].get("reply_markup")
        self.assertEqual(json.loads(markup) if isinstance(markup, str) else markup,
                         {"inline_keyboard": [[{"text": "Записаться", "callback_data": "visit"}]]})

    def test_a_mailing_with_per_recipient_status(self):
        uniq = uuid.uuid4().hex[:8]
        t = self.call("POST", "/v1/dialogs/templates", CASES.template("Рассылка " + uniq), role="administrator")
        first, user1, _ = CASES.linked_client(self.curl, self.as_)
        second, user2, _ = CASES.linked_client(self.curl, self.as_)
        unknown = str(uuid.uuid4())
        m = self.call("POST", "/v1/dialogs/mailings",
                      {"botId": DEMO_BOT, "templateId": t["id"], "name": "Рассылка " + uniq,
                       "clientIds": [first, second, unknown], "parameters": ["клиент"]},
                      headers=("Idempotency-Key: " + str(uuid.uuid4()),))
        self.assertEqual(m["progress"]["total"], "3")
        # A Telegram operator does not run mailings.
        self.call("GET", "/v1/dialogs/mailings/" + m["id"], role="telegram_operator", status=403)
        done = wait_until(lambda: (lambda x: x if x["state"] == "MAILING_STATE_DONE" else None)(
            self.call("GET", "/v1/dialogs/mailings/" + m["id"])), "the mailing DONE")
        self.assertEqual(done["progress"]["sent"], "2")
        self.assertEqual(done["progress"]["noChat"], "1")
        recipients = self.call("GET", "/v1/dialogs/mailings/%s/recipients?pageSize=10" % m["id"])["recipients"]
        self.assertEqual([(r["clientId"], r["state"]) for r in recipients],
                         [(first, "RECIPIENT_STATE_SENT"), (second, "RECIPIENT_STATE_SENT"),
                          (unknown, "RECIPIENT_STATE_NO_CHAT")])
        for user in (user1, user2):
            self.assertTrue(self.sent_to(user, "Здравствуйте, клиент!"), user)
        types = [ty for ty, _ in self.events("crm.dialogs.mailing.v1", m["id"], "crm.dialogs.mailing.finished.v1")]
        self.assertEqual(types, ["crm.dialogs.mailing.created.v1", "crm.dialogs.mailing.finished.v1"])
        cancelled = self.call("POST", "/v1/dialogs/mailings/%s:cancel" % m["id"], {})
        self.assertEqual(cancelled["state"], "MAILING_STATE_DONE")  # finished: nothing left to cancel

    def test_robots_client_message_delivered_once_and_the_registers(self):
        client, user, dialog = CASES.linked_client(self.curl, self.as_)
        api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        Envelope = api.message("crm.events.v1.Envelope")
        Notification = api.message("crm.robots.v1.Notification")

        def envelope(text):
            n = Notification(client_id=client, subject="Заявка", text=text)
            e = Envelope(id=str(uuid.uuid4()), type="crm.robots.notification.telegram.v1", source="robots",
                         aggregate_type="notification")
            e.payload.type_url = "type.googleapis.com/crm.robots.v1.Notification"
            e.payload.value = n.SerializeToString()
            return e
        producer = Producer({"bootstrap.servers": BROKERS})
        first = envelope("Ваша заявка взята в обработку")
        marker = envelope("Менеджер свяжется с вами")
        # The same event twice (a redelivery), then another: robots' key is the client, so they stay in order.
        for e in (first, first, marker):
            producer.produce("crm.robots.notification.v1", key=client.encode(), value=e.SerializeToString())
        producer.flush(10)
        wait_until(lambda: self.sent_to(user, "Менеджер свяжется с вами"), "robots' second message at the fake")
        self.assertEqual(len(self.sent_to(user, "Ваша заявка взята в обработку")), 1)

        # The registers: the client's messages across dialogs, the bot's chats.
        history = self.call("GET", "/v1/dialogs/registers/messages?clientId=%s&pageSize=50" % client)
        self.assertTrue(history["messages"])
        self.assertTrue(all(m["clientId"] == client for m in history["messages"]))
        self.assertIn(dialog["id"], {m["message"]["dialogId"] for m in history["messages"]})
        self.call("GET", "/v1/dialogs/registers/messages?pageSize=-1", status=400)
        chats = self.call("GET", "/v1/dialogs/registers/bots/%s/chats?pageSize=200&pageToken=%d" % (DEMO_BOT, user - 1))
        self.assertEqual(chats["chats"][0]["chatId"], str(user))
        self.assertEqual(chats["chats"][0]["clientId"], client)
        self.call("GET", "/v1/dialogs/registers/bots/%s/chats" % DEMO_BOT, role="telegram_operator", status=403)

    def test_bad_requests_name_every_field(self):
        r = self.curl("POST", "/v1/dialogs/mailings", {"botId": "x", "clientIds": ["y"]},
                      headers=self.as_("telegram_supervisor"))
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual([d.get("field") for d in r.error().get("details", [])],
                         ["bot_id", "template_id", "client_ids[0]"])

    def test_every_post_case_honours_the_idempotency_key(self):
        check_cases(self, CASES)


if __name__ == "__main__":
    main()
