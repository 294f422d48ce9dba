#!/usr/bin/python3
"""dialogs' Telegram part end to end (issue 18, T1): identity, deals, dialogs and the gateway as processes,
dialogs pointed at the fake Bot API (tests/fakes/telegram_bot_api.py, started here). BotService over
python3-grpcio (a caller holding dialogs.admin) and through the gateway with curl; long polling of a burst
of 1 000 updates in 50 chats with crm-dialogs killed (SIGKILL) in the middle: none lost, none doubled, the
offset confirmed at Telegram only after the updates are stored. G3: the fake delivers updates by webhook
through the gateway (public route, raw google.api.HttpBody, the secret header forwarded as metadata) and
a redelivered update is stored once; a curl POST without or with a wrong secret is 403 and stores nothing;
an oversized body is 413 at the gateway. The demo bot (`crm-dialogs demo`) is the scenarios' demo bot id
and owns the working hours and the out-of-hours text.

Usage: dialogs_telegram_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import BUILD, SOURCE, StackTest, main  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402
from idempotency import fill, load_cases  # noqa: E402



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_token():
    return "%d:AAe2e%s" % (random.randint(10 ** 8, 10 ** 9), uuid.uuid4().hex[:16])


class DialogsTelegram(StackTest):
    services = ["deals", "dialogs"]

    @classmethod
    def setUpStack(cls):
        cls.fake = subprocess.Popen(["/usr/bin/python3", os.path.join(SOURCE, "tests/fakes/telegram_bot_api.py"),
                                     "--port", "0"], stdout=subprocess.PIPE)
        line = cls.fake.stdout.readline().decode()
        cls.fake_url = "http://127.0.0.1:%d" % int(line.strip().rsplit(":", 1)[1])
        # G3: Telegram (the fake) delivers webhooks through the gateway, so the gateway's address is fixed
        # before dialogs registers hooks on PUBLIC_URL.
        port = free_port()
        cls.public_url = "http://127.0.0.1:%d" % port
        cls.gateway_env = {"CRM_GATEWAY_HTTP_ADDRESS": "127.0.0.1:%d" % port}
        cls.service_env = {"dialogs": {"CRM_DIALOGS_TELEGRAM_API_URL": cls.fake_url,
                                       "CRM_DIALOGS_PUBLIC_URL": cls.public_url,
                                       # Short long polls: a killed poller's batch is re-fetched quickly.
                                       "CRM_DIALOGS_TELEGRAM_POLL_TIMEOUT": "1s"}}

    @classmethod
    def setUpClass(cls):
        try:
            super().setUpClass()
        except BaseException:
            cls.fake.kill()  # else ctest waits for the fake, which holds the test's stderr
            cls.fake.wait()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.fake.kill()
        cls.fake.wait()

    def control(self, token, action, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("%s/_fake/bot%s/%s" % (self.fake_url, token, action), data=data,
                                     method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def sql(self, query):
        dsn = self.stack.envs["dialogs"]["CRM_DIALOGS_PG_DSN"]
        out = subprocess.run(["psql", dsn, "-Atqc", query], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def grpc_api(self):
        api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["dialogs"])
        return api, channel

    def principal(self, api, *permissions):
        p = api.message("crm.common.v1.Principal")(kind=1, id=str(uuid.uuid4()), permissions=list(permissions))
        return self.stack.signed(p)

    def dialogs_process(self):
        return [p for p in self.stack.procs if p.name == "dialogs"][-1]

    def create_bot(self, token, mode):
        api, channel = self.grpc_api()
        create, CreateBotRequest = api.method(channel, "crm.dialogs.v1.BotService/CreateBot")
        Bot = api.message("crm.dialogs.v1.Bot")
        return create(CreateBotRequest(bot=Bot(name="Бот ЖК " + token[:4], intake_mode=mode), token=token),
                      metadata=self.principal(api, "dialogs.admin"), timeout=20)

    def test_bot_service_over_grpc_and_the_gateway(self):
        api, channel = self.grpc_api()
        token = new_token()
        bot = self.create_bot(token, 1)  # INTAKE_MODE_WEBHOOK
        self.assertEqual(bot.username, "fake%s_bot" % token.split(":")[0])
        self.assertTrue(bot.webhook_url.startswith(self.public_url + "/v1/telegram/hooks/"), bot.webhook_url)
        self.assertNotIn(token.split(":")[1], str(bot))
        # Telegram was told the hook URL (never the token) and a secret.
        self.assertEqual(self.control(token, "state")["webhook_url"], bot.webhook_url)
        get, GetBotRequest = api.method(channel, "crm.dialogs.v1.BotService/GetBot")
        admin = self.principal(api, "dialogs.admin")
        self.assertEqual(get(GetBotRequest(id=bot.id), metadata=admin, timeout=10).name, bot.name)
        lst, ListBotsRequest = api.method(channel, "crm.dialogs.v1.BotService/ListBots")
        self.assertIn(bot.id, [b.id for b in lst(ListBotsRequest(page_size=200), metadata=admin, timeout=10).bots])
        # Switching to polling deletes the webhook at Telegram.
        update, UpdateBotRequest = api.method(channel, "crm.dialogs.v1.BotService/UpdateBot")
        FieldMask = api.message("google.protobuf.FieldMask")
        changed = update(UpdateBotRequest(bot=api.message("crm.dialogs.v1.Bot")(id=bot.id, version=bot.version,
                                                                                intake_mode=2),
                                          update_mask=FieldMask(paths=["intake_mode"])), metadata=admin, timeout=20)
        self.assertEqual(changed.intake_mode, 2)
        self.assertEqual(self.control(token, "state")["webhook_url"], "")
        # Without dialogs.admin: refused.
        with self.assertRaises(grpc.RpcError) as denied:
            get(GetBotRequest(id=bot.id), metadata=self.principal(api, "dialogs.read.own"), timeout=10)
        self.assertEqual(denied.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        # The gateway routes the REST API to dialogs: a manager is refused there too (403), bad input is
        # 400 naming the field.
        r = self.curl("GET", "/v1/dialogs/bots/%s" % bot.id, headers=self.as_("manager"))
        self.assertEqual(r.status, 403, r.body)
        r = self.curl("GET", "/v1/dialogs/bots?pageSize=-1", headers=self.as_("manager"))
        self.assertIn(r.status, (400, 403), r.body)

    def wait(self, what, check, seconds=30):
        deadline = time.monotonic() + seconds
        while not check():
            self.assertLess(time.monotonic(), deadline, what)
            time.sleep(0.05)

    def test_delivery_by_webhook_through_the_gateway_with_the_secret(self):
        # G3: the fake Bot API POSTs updates to PUBLIC_URL/v1/telegram/hooks/<hook> with the secret header;
        # the gateway routes them (public, raw HttpBody, the header as metadata) to TelegramIntake.
        token = new_token()
        bot = self.create_bot(token, 1)  # INTAKE_MODE_WEBHOOK
        hook_path = bot.webhook_url[len(self.public_url):]
        self.assertTrue(hook_path.startswith("/v1/telegram/hooks/"), bot.webhook_url)
        update = self.control(token, "message", {"user_id": 7100001, "text": "Здравствуйте, через вебхук"})
        count = "SELECT count(*) FROM tg_updates WHERE bot_id = '%s'" % bot.id
        events = ("SELECT count(*) FROM outbox WHERE type = 'crm.dialogs.update.received.v1' "
                  "AND aggregateid LIKE '%s:%%'" % bot.id)
        self.wait("the webhook update was never stored", lambda: self.sql(count) == "1")
        self.assertEqual(self.sql("SELECT update_id, payload->'message'->>'text' FROM tg_updates WHERE bot_id = '%s'"
                                  % bot.id), "%d|Здравствуйте, через вебхук" % update["update_id"])
        # Telegram redelivers it (it missed the answer): 200 again, nothing new stored or published.
        self.control(token, "redeliver", {"update": update})
        self.wait("the redelivery was not acknowledged",
                  lambda: self.control(token, "state")["delivered"] == 2 and self.control(token, "state")["pending"] == 0)
        self.assertEqual(self.sql(count), "1")
        self.assertEqual(self.sql(events), "1")
        # Anyone else POSTing there: without the secret, with a wrong one, or on an unknown hook → 403, nothing
        # stored; no bearer token is needed to get that far (a public route).
        forged = {"update_id": update["update_id"] + 1000,
                  "message": dict(update["message"], text="подделка", message_id=999999)}
        for headers in ([], ["X-Telegram-Bot-Api-Secret-Token: wrong-secret"]):
            r = self.curl("POST", hook_path, forged, headers=headers)
            self.assertEqual(r.status, 403, r.body)
            self.assertEqual(r.error()["status"], "PERMISSION_DENIED", r.body)
        r = self.curl("POST", "/v1/telegram/hooks/" + "A" * 43, forged,
                      headers=["X-Telegram-Bot-Api-Secret-Token: wrong-secret"])
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(self.sql(count), "1")
        self.assertEqual(self.sql(events), "1")
        # The body is bounded at the gateway: 413 before dialogs sees it.
        r = self.curl("POST", hook_path, raw_body=b"x" * (256 * 1024 + 1),
                      headers=["X-Telegram-Bot-Api-Secret-Token: wrong-secret"])
        self.assertEqual(r.status, 413, r.body)

    def test_demo_bot_has_the_demo_scenarios_id_and_owns_the_hours(self):
        demo = self.call_admin("GET", "/v1/dialogs/bots/00000000-0000-7000-8000-00000000b075")
        self.assertEqual(demo["username"], "fake7000000_bot")
        self.assertEqual(len(demo["workingHours"]), 6)
        self.assertTrue(demo["outOfHoursText"].startswith("Сейчас нерабочее время"))

    def call_admin(self, method, path):
        r = self.curl(method, path, headers=self.as_("administrator"))
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def test_idempotency_cases(self):
        if self.curl("GET", "/v1/dialogs/bots", headers=self.as_("administrator")).status == 403:
            self.skipTest("identity's catalogue gives no demo role dialogs.admin yet (the permissions helper's "
                          "migration adds it)")
        module = load_cases("dialogs_telegram")
        fx = module.fixtures(self.curl, self.as_)
        for case in module.CASES:
            if "exempt" in case:
                continue
            body = fill(case["body"], fx)
            key = "Idempotency-Key: " + str(uuid.uuid4())
            first = self.curl("POST", case["path"], body, headers=self.as_(case["role"], key))
            self.assertEqual(first.status, 200, first.body)
            again = self.curl("POST", case["path"], body, headers=self.as_(case["role"], key))
            self.assertEqual(again.json(), first.json())
            other = dict(body, bot=dict(body["bot"], name="Другой бот"))
            refused = self.curl("POST", case["path"], other, headers=self.as_(case["role"], key))
            self.assertEqual(refused.status, 400, refused.body)
            self.assertIn("idempotency-key", refused.body.lower())

    def test_polling_kill9_mid_burst_loses_and_doubles_nothing(self):
        # Runs after the others (unittest sorts by name): the restarted dialogs listens on new ports, which
        # the gateway does not know.
        token = new_token()
        bot = self.create_bot(token, 2)  # INTAKE_MODE_POLLING
        # A slow network: each getUpdates (100 updates at most) takes 0.3 s, so the burst takes seconds.
        self.control(token, "slow", {"seconds": 0.3})
        burst = self.control(token, "burst", {"count": 1000, "chats": 50, "first_user_id": 5000001})
        first, last = burst["first_update_id"], burst["last_update_id"]
        count = "SELECT count(*) FROM tg_updates WHERE bot_id = '%s'" % bot.id
        deadline = time.monotonic() + 60
        while int(self.sql(count)) == 0:
            self.assertLess(time.monotonic(), deadline, "the poller stored nothing")
            time.sleep(0.05)
        self.dialogs_process().proc.kill()  # SIGKILL mid-burst
        self.dialogs_process().proc.wait()
        stored_at_kill = int(self.sql(count))
        self.assertLess(stored_at_kill, 1000, "the burst was over before the kill")
        restarted = self.stack.start("dialogs")
        restarted.wait_for("serving")
        deadline = time.monotonic() + 120
        while int(self.sql(count)) < 1000:
            self.assertLess(time.monotonic(), deadline, "stored %s of 1000" % self.sql(count))
            time.sleep(0.2)
        self.assertEqual(self.sql("SELECT count(DISTINCT update_id), min(update_id), max(update_id) FROM tg_updates "
                                  "WHERE bot_id = '%s'" % bot.id), "1000|%d|%d" % (first, last))
        self.assertEqual(self.sql("SELECT count(DISTINCT chat_id) FROM tg_updates WHERE bot_id = '%s'" % bot.id), "50")
        # One event per stored update, none for a re-fetched one.
        self.assertEqual(int(self.sql("SELECT count(*) FROM outbox WHERE type = 'crm.dialogs.update.received.v1' "
                                      "AND aggregateid LIKE '%s:%%'" % bot.id)), 1000)
        self.assertEqual(int(self.sql("SELECT poll_offset FROM tg_bots WHERE id = '%s'" % bot.id)), last + 1)
        deadline = time.monotonic() + 30
        while self.control(token, "state")["confirmed_offset"] != last + 1:
            self.assertLess(time.monotonic(), deadline, "the offset was never confirmed at Telegram")
            time.sleep(0.2)
        sys.stderr.write("killed crm-dialogs with %d of 1000 updates stored; after the restart 1000 distinct\n"
                         % stored_at_kill)


if __name__ == "__main__":
    main()
