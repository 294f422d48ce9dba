#!/usr/bin/python3
"""The dialogs inbox end to end (issue 18, T2, T5, T7): identity, deals, dialogs and the gateway as processes,
dialogs talking to the fake Bot API the stack starts (tests/fakes/telegram_bot_api.py), the demo bot with the
seed's scenario (`crm-dialogs demo`) switched to long polling (the gateway's public webhook route, G3, is not
there yet). The seed's flow, driven as a client drives it through the fake and as operators do through the
gateway with curl:

  - a client of deals exists (made through the gateway) with a phone;
  - the client's /start → greeting and the phone request; the client shares their own contact → the topic
    menu; the client chooses «Ипотека» → the dialog is QUEUED «В очереди» with the topic;
  - the Telegram operator (an operator of the demo bot) lists it and takes it; the supervisor's take loses
    (400 naming the dialog's number); the operator's repeat is harmless;
  - the dialog shows its responsible's name (identity's users, consumed from Kafka);
  - the operator replies: the fake Bot API received the text; the dialog is linked to the deals client;
  - deals has the interactions (the client's three messages and the reply: GET /v1/interactions);
  - MessageExchanged (received and sent) is on crm.dialogs.dialog.v1 keyed by the dialog;
  - a duplicate update has one effect (the update stored twice under its id: one message);
  - every POST's idempotency case (tests/e2e/idempotency_cases/dialogs_inbox.py).

Usage: dialogs_inbox_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN, CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import json
import os
import random
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from dialogs_e2e import DialogsStackTest  # noqa: E402
from e2e import main, wait_until  # noqa: E402
from idempotency import check_cases, load_cases  # noqa: E402

CASES = load_cases("dialogs_inbox")
DEMO_BOT = CASES.DEMO_BOT


class DialogsInbox(DialogsStackTest):

    def sql(self, query):
        dsn = self.stack.envs["dialogs"]["CRM_DIALOGS_PG_DSN"]
        out = subprocess.run(["psql", dsn, "-Atqc", query], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def test_the_seeds_flow_through_the_inbox(self):
        user = random.randint(10 ** 8, 2 * 10 ** 9)
        phone = "+7916%07d" % random.randint(0, 9999999)
        client = self.call("POST", "/v1/clients?allowDuplicate=true",
                           {"kind": "KIND_PERSON", "name": "Иван Телеграмов", "phones": [phone]}, role="manager")
        operator = self.user_id("telegram_operator")
        self.sql("INSERT INTO bot_operators (bot_id, user_id) VALUES ('%s', '%s') ON CONFLICT DO NOTHING"
                 % (DEMO_BOT, operator))

        self.control("message", {"user_id": user, "text": "/start"})
        wait_until(lambda: self.sent_to(user, "номером телефона"), "the phone request")
        self.control("contact", {"user_id": user, "phone_number": phone.lstrip("+")})
        wait_until(lambda: self.sent_to(user, "тему обращения"), "the topic menu")
        self.control("message", {"user_id": user, "text": "Ипотека"})

        def queued():
            r = self.call("GET", "/v1/dialogs?openOnly=true&status=DIALOG_STATUS_QUEUED&pageSize=200")
            return [d for d in r.get("dialogs", []) if int(d["telegramUserId"]) == user]
        dialog = wait_until(queued, "the dialog in the operator's queue")[0]
        self.assertEqual(dialog["statusName"], "В очереди")
        self.assertEqual(dialog["topic"], "Ипотека")
        self.assertEqual(dialog["botName"], self.call("GET", "/v1/dialogs/bots/" + DEMO_BOT, role="administrator")["name"])
        self.assertRegex(dialog["number"], r"^\d{9}$")
        self.assertEqual(dialog["phone"], phone)
        # A manager holds no dialogs.read.*: refused.
        self.call("GET", "/v1/dialogs/" + dialog["id"], role="manager", status=403)

        # «Взять в работу»: the operator wins, the supervisor's take loses naming the dialog, a repeat is harmless.
        taken = self.call("POST", "/v1/dialogs/%s:take" % dialog["id"], {})
        self.assertEqual(taken["status"], "DIALOG_STATUS_IN_WORK")
        self.assertEqual(taken["responsibleId"], operator)
        lost = self.curl("POST", "/v1/dialogs/%s:take" % dialog["id"], {}, headers=self.as_("telegram_supervisor"))
        self.assertEqual(lost.status, 400, lost.body)
        self.assertIn(dialog["number"], lost.body)
        self.assertEqual(self.call("POST", "/v1/dialogs/%s:take" % dialog["id"], {})["id"], dialog["id"])
        # Names beside ids: the responsible's, from identity's users (crm.identity.user.v1).
        name = self.stack.session("telegram_operator")["user"]["fullName"]
        wait_until(lambda: self.call("GET", "/v1/dialogs/" + dialog["id"]).get("responsibleName") == name,
                   "the responsible's name")

        # The reply reaches Telegram.
        reply = "Здравствуйте! Подберём ипотеку под ваш бюджет."
        sent = self.call("POST", "/v1/dialogs/%s/messages" % dialog["id"], {"text": reply},
                         headers=("Idempotency-Key: " + str(uuid.uuid4()),))
        self.assertEqual(sent["author"], "MESSAGE_AUTHOR_OPERATOR")
        wait_until(lambda: self.sent_to(user, reply), "the reply at the fake Bot API")
        state = wait_until(lambda: [m for m in self.call("GET", "/v1/dialogs/%s/messages" % dialog["id"])["messages"]
                                    if m["id"] == sent["id"] and m.get("outgoingState") == "sent"],
                           "the reply's outgoing state «sent»")
        self.assertGreater(int(state[0]["telegramMessageId"]), 0)

        # Linked to the deals client by the phone; the messages are interactions in deals.
        linked = wait_until(lambda: (lambda d: d if d.get("clientId") == client["id"] else None)(
            self.call("GET", "/v1/dialogs/" + dialog["id"])), "the client linked")
        self.assertEqual(linked["clientLinkState"], "CLIENT_LINK_STATE_LINKED")

        def interactions():
            r = self.call("GET", "/v1/interactions?clientId=%s&kind=DIALOG&pageSize=200" % client["id"],
                          role="head_of_sales")
            got = [i for i in r.get("interactions", []) if i.get("source") == "telegram"]
            return got if len(got) >= 4 else None
        got = wait_until(interactions, "4 interactions in deals")
        self.assertEqual(len(got), 4)
        self.assertEqual(sorted(i["direction"] for i in got), ["INBOUND"] * 3 + ["OUTBOUND"])
        self.assertTrue(all(i["responsibleId"] == operator for i in got))

        # MessageExchanged on crm.dialogs.dialog.v1, keyed by the dialog.
        types = [t for t, _ in self.events("crm.dialogs.dialog.v1", dialog["id"], "never", timeout=15)]
        self.assertIn("crm.dialogs.dialog.message_received.v1", types)
        self.assertIn("crm.dialogs.dialog.message_sent.v1", types)
        self.assertEqual(types.count("crm.dialogs.dialog.message_received.v1"), 3)

    def test_a_duplicate_update_has_one_effect(self):
        user = random.randint(10 ** 8, 2 * 10 ** 9)
        update = self.control("message", {"user_id": user, "text": "/start"})
        wait_until(lambda: self.sent_to(user, "номером телефона"), "the phone request")
        # Telegram delivers the same update again (a lost 200): stored once under (bot, update_id).
        self.sql("INSERT INTO tg_updates (bot_id, update_id, chat_id, payload, received_at) VALUES ('%s', %d, %d, "
                 "'%s'::jsonb, now()) ON CONFLICT DO NOTHING"
                 % (DEMO_BOT, update["update_id"], user, json.dumps(update).replace("'", "''")))
        self.assertEqual(self.sql("SELECT count(*) FROM dialog_messages m JOIN dialogs d ON d.id = m.dialog_id "
                                  "WHERE d.tg_user_id = %d AND m.author_kind = 'CLIENT'" % user), "1")
        self.assertEqual(len(self.sent_to(user, "номером телефона")), 1)

    def test_bad_requests_name_every_field(self):
        r = self.curl("GET", "/v1/dialogs?pageSize=-1&botId=x", headers=self.as_("telegram_operator"))
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual([d.get("field") for d in r.error().get("details", [])], ["page_size", "bot_id"])

    def test_every_post_case_honours_the_idempotency_key(self):
        check_cases(self, CASES)


if __name__ == "__main__":
    main()
