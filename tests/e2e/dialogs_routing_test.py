#!/usr/bin/python3
"""Dialogs' routing end to end (issue 18, T6, T8): identity, deals, dialogs and the gateway as processes, dialogs
talking to the fake Bot API the stack starts (tests/fakes/telegram_bot_api.py), the demo bot with the seed's
scenario switched to long polling. Operators as the demo Telegram operator and the Telegram supervisor (both
hold dialogs.operate; the supervisor also dialogs.supervise), the administrator (dialogs.admin) gives them rights
on the demo bot; all through the gateway with curl:

  - operators online; a client's dialog (/start → phone → «Ипотека») is distributed to the least-loaded online
    operator (the supervisor already has one: the operator gets it), IN_WORK at once, DialogAssigned on
    crm.dialogs.dialog.v1;
  - with everyone away a client's dialog is QUEUED; the operator's take wins, the supervisor's loses (400 naming
    the dialog's number);
  - a redirect to a user without rights on the bot is 400 naming user_id; to the supervisor it moves;
  - the timeline shows the chat-bot's stages with their causes (T9), then the history (DISTRIBUTED, REDIRECTED),
    paged, and the first reply's working seconds; the
    report counts per operator and bot; release puts the dialog back into the queue;
  - every POST's idempotency case (tests/e2e/idempotency_cases/dialogs_routing.py).

The answer timeout needs time to pass: the e2e stack has no clock hook for dialogs (no CRM_DIALOGS_*_CLOCK), so
the timeout's redistribution (two sweepers, one fire, working time) is proven by the unit tests on PostgreSQL
(services/dialogs/routing/routing_test.cc) only.

Usage: dialogs_routing_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN, CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import datetime
import os
import random
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from dialogs_e2e import DialogsStackTest  # noqa: E402
from e2e import main, wait_until  # noqa: E402
from idempotency import check_cases, load_cases  # noqa: E402

CASES = load_cases("dialogs_routing")
DEMO_BOT = CASES.DEMO_BOT


class DialogsRouting(DialogsStackTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Always working hours: distribution does not wait for the demo bot's next working period whenever the
        # test runs (out of hours a dialog is queued until then: routing_test.cc covers it).
        r = cls.curl("PATCH", "/v1/dialogs/bots/" + DEMO_BOT,
                     {"bot": {"id": DEMO_BOT, "workingHours": []}, "updateMask": "workingHours"},
                     headers=[cls.stack.bearer("administrator")])
        if r.status != 200:
            raise AssertionError("always working hours for the demo bot: %s %s" % (r.status, r.body))

    def presence(self, role, presence):
        return self.call("POST", "/v1/dialogs/routing/presence", {"presence": presence}, role=role)

    def client_dialog(self):
        """A client goes through the seed's flow up to «Ипотека»; returns their dialog once it left the bot."""
        user = random.randint(10 ** 8, 2 * 10 ** 9)
        phone = "+7916%07d" % random.randint(0, 9999999)
        self.control("message", {"user_id": user, "text": "/start"})
        wait_until(lambda: self.sent_to(user, "номером телефона"), "the phone request")
        self.control("contact", {"user_id": user, "phone_number": phone.lstrip("+")})
        wait_until(lambda: self.sent_to(user, "тему обращения"), "the topic menu")
        self.control("message", {"user_id": user, "text": "Ипотека"})

        def handed_over():
            r = self.call("GET", "/v1/dialogs?openOnly=true&botId=%s&pageSize=200" % DEMO_BOT, role="telegram_supervisor")
            return [d for d in r.get("dialogs", []) if int(d["telegramUserId"]) == user
                    and d["status"] in ("DIALOG_STATUS_QUEUED", "DIALOG_STATUS_IN_WORK")]
        return wait_until(handed_over, "the dialog handed to operators")[0]

    def test_distribution_take_redirect_timeline_report_release(self):
        operator = self.user_id("telegram_operator")
        supervisor = self.user_id("telegram_supervisor")
        for user in (operator, supervisor):
            got = CASES.give_rights(self.curl, self.as_, user)
            self.assertEqual(got["botIds"], [DEMO_BOT])
        # Reading the operators takes dialogs.supervise; editing dialogs.admin.
        self.call("GET", "/v1/dialogs/routing/operators?botId=" + DEMO_BOT, status=403)
        self.call("PATCH", "/v1/dialogs/routing/operators/" + operator, {"userId": operator, "capacity": 1},
                  role="telegram_supervisor", status=403)

        # Only the supervisor online: the first dialog is theirs.
        self.presence("telegram_operator", "PRESENCE_OFFLINE")
        self.assertEqual(self.presence("telegram_supervisor", "PRESENCE_ONLINE")["presence"], "PRESENCE_ONLINE")
        first = self.client_dialog()
        self.assertEqual(first["status"], "DIALOG_STATUS_IN_WORK", first)
        self.assertEqual(first["responsibleId"], supervisor)
        # The operator comes online: the least-loaded now, the next dialog is theirs.
        self.presence("telegram_operator", "PRESENCE_ONLINE")
        second = self.client_dialog()
        self.assertEqual(second["status"], "DIALOG_STATUS_IN_WORK", second)
        self.assertEqual(second["responsibleId"], operator)
        self.assertEqual(self.call("GET", "/v1/dialogs/" + second["id"])["statusName"], "В работе")
        ops = {o["userId"]: o for o in self.call("GET", "/v1/dialogs/routing/operators?botId=" + DEMO_BOT,
                                                 role="telegram_supervisor")["operators"]}
        self.assertEqual(ops[operator].get("openDialogs"), 1)
        self.assertEqual(ops[supervisor].get("openDialogs"), 1)

        # Everyone away: queued; the operator's take wins, the supervisor's loses naming the number.
        self.presence("telegram_operator", "PRESENCE_AWAY")
        self.presence("telegram_supervisor", "PRESENCE_AWAY")
        third = self.client_dialog()
        self.assertEqual(third["status"], "DIALOG_STATUS_QUEUED", third)
        taken = self.call("POST", "/v1/dialogs/%s:take" % third["id"], {})
        self.assertEqual(taken["responsibleId"], operator)
        lost = self.curl("POST", "/v1/dialogs/%s:take" % third["id"], {}, headers=self.as_("telegram_supervisor"))
        self.assertEqual(lost.status, 400, lost.body)
        self.assertIn(third["number"], lost.body)

        # Redirect: a user without rights on the bot is refused naming user_id; the supervisor gets it.
        manager = self.user_id("manager")
        refused = self.curl("POST", "/v1/dialogs/%s:redirect" % second["id"], {"userId": manager},
                            headers=self.as_("telegram_operator"))
        self.assertEqual(refused.status, 400, refused.body)
        self.assertIn("user_id", refused.body)
        moved = self.call("POST", "/v1/dialogs/%s:redirect" % second["id"], {"userId": supervisor})
        self.assertEqual(moved["responsibleId"], supervisor)

        # The supervisor answers: the first reply after their assignment is measured.
        self.call("POST", "/v1/dialogs/%s/messages" % second["id"], {"text": "Здравствуйте! Подберём ипотеку."},
                  role="telegram_supervisor", headers=("Idempotency-Key: " + str(uuid.uuid4()),))
        timeline = self.call("GET", "/v1/dialogs/%s/timeline" % second["id"], role="telegram_supervisor")
        entries = timeline["entries"]
        # T9: the chat-bot's stages of the demo flow first (/start, the contact, «Ипотека», the end of its
        # part), each with its cause, then routing's history; oldest first.
        self.assertEqual(["botTransition" in e for e in entries], [True] * 4 + [False] * 2, entries)
        bot = [e["botTransition"] for e in entries[:4]]
        self.assertEqual([(b["cause"], b.get("fromStage", ""), b.get("toStage", "")) for b in bot],
                         [("BOT_TRANSITION_CAUSE_START", "", "000000001"),
                          ("BOT_TRANSITION_CAUSE_KEY", "000000001", "000000008"),
                          ("BOT_TRANSITION_CAUSE_KEY", "000000008", "000000009"),
                          ("BOT_TRANSITION_CAUSE_FINISH", "000000009", "")])
        self.assertEqual(bot[1]["keyKind"], "KEY_KIND_CONTACT")
        self.assertEqual(bot[2]["input"], "Ипотека")
        self.assertEqual(bot[1]["toStageName"], "Выбор темы обращения")
        assignments = [e["assignment"] for e in entries[4:]]
        self.assertEqual([a["kind"] for a in assignments], ["ASSIGNMENT_KIND_DISTRIBUTED", "ASSIGNMENT_KIND_REDIRECTED"])
        self.assertEqual(assignments[1]["fromUserId"], operator)
        self.assertEqual(assignments[1]["toUserId"], supervisor)
        self.assertEqual(timeline.get("nextPageToken", ""), "")
        # Paged: two entries a page, the next page after the token.
        page = self.call("GET", "/v1/dialogs/%s/timeline?pageSize=2" % second["id"], role="telegram_supervisor")
        self.assertEqual(page["entries"], entries[:2])
        page = self.call("GET", "/v1/dialogs/%s/timeline?pageSize=2&pageToken=%s" % (second["id"], page["nextPageToken"]),
                         role="telegram_supervisor")
        self.assertEqual(page["entries"], entries[2:4])
        self.assertIn("firstReplyTime", timeline)
        self.assertGreaterEqual(int(timeline["firstReplyWorkingSeconds"]), 0)
        # The operator no longer sees it (not theirs, not queued).
        self.call("GET", "/v1/dialogs/%s/timeline" % second["id"], status=404)

        # The report: per operator and bot, today.
        now = datetime.datetime.now(datetime.timezone.utc)
        frm = (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        to = (now + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        report = self.call("GET", "/v1/dialogs/routing/report?fromTime=%s&toTime=%s&botId=%s" % (frm, to, DEMO_BOT),
                           role="telegram_supervisor")
        rows = {r["userId"]: r for r in report["rows"]}
        self.assertEqual(rows[operator]["dialogsTaken"], 2)  # distributed + taken
        self.assertEqual(rows[supervisor]["dialogsTaken"], 2)  # the first + the redirect
        self.assertEqual(rows[supervisor]["dialogsAnswered"], 1)
        self.call("GET", "/v1/dialogs/routing/report?fromTime=%s&toTime=%s" % (to, frm), role="telegram_supervisor",
                  status=400)

        # Release: back to the queue.
        released = self.call("POST", "/v1/dialogs/%s:release" % third["id"], {})
        self.assertEqual(released["status"], "DIALOG_STATUS_QUEUED")

        # DialogAssigned on the dialog's topic.
        types = [t for t, _ in self.events("crm.dialogs.dialog.v1", second["id"], "never", timeout=15)]
        self.assertEqual(types.count("crm.dialogs.dialog.assigned.v1"), 2)

    def test_bad_requests_name_every_field(self):
        r = self.curl("POST", "/v1/dialogs/routing/rules", {"userId": "x", "groupId": "y"},
                      headers=self.as_("administrator"))
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual([d.get("field") for d in r.error().get("details", [])],
                         ["rule.bot_id", "rule.user_id", "rule.group_id", "rule.user_id"])

    def test_every_post_case_honours_the_idempotency_key(self):
        check_cases(self, CASES)


if __name__ == "__main__":
    main()
