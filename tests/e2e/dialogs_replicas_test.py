#!/usr/bin/python3
"""Two crm-dialogs replicas on one PostgreSQL database and one Kafka consumer group behave as one (issue 18,
"Proof"; T1, T3, T6's timers): identity, dialogs (twice: the second replica started with the first one's
environment on ports of its own) and the gateway as processes, the fake Bot API
(tests/fakes/telegram_bot_api.py) as Telegram.

- A bot on long polling is polled by one replica only: the fake, which ends an overtaken getUpdates with
  409 as Telegram does, sees no two polls of the bot at once.
- 1 000 webhook updates in 200 chats, delivered as Telegram would (concurrently, each retried until a
  replica answers) to the two replicas' TelegramIntake over python3-grpcio, alternating; one replica is
  killed (SIGKILL) mid-burst and started again. Every update is stored once, processed once (one client
  message per update, a chat's messages in update order), its UpdateReceived event on Kafka (read with
  kcat) once in effect (one event id per update_id); the bot's scenario waits 3 s for a reply (T3), and each
  dialog's waiting timeout fires once: one reply per chat at the fake, sent by two senders together within
  the bot's and the chats' limits.

Usage: dialogs_replicas_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN and CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import collections
import concurrent.futures
import json
import os
import random
import struct
import subprocess
import sys
import threading
import time
import uuid

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from dialogs_e2e import fake_control  # noqa: E402
from e2e import BUILD, StackTest, main, wait_until  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402
from stack import BROKERS  # noqa: E402

CHATS = 200
UPDATES = 1000
TIMEOUT_TEXT = "Вы ещё здесь? Напишите, пожалуйста, ваш вопрос — оператор ответит."


def new_token():
    return "%d:AAe2e%s" % (random.randint(10 ** 8, 10 ** 9), uuid.uuid4().hex[:16])


class DialogsReplicas(StackTest):
    services = ["dialogs"]
    service_env = {"dialogs": {
        "CRM_DIALOGS_TELEGRAM_POLL_TIMEOUT": "1s",  # short long polls: several rounds within the test
        "CRM_DIALOGS_TIMER_POLL_INTERVAL": "200ms",  # the scenario's 3 s timeouts fire promptly
        "CRM_DIALOGS_INBOX_POLL_INTERVAL": "100ms",
        # Network jitter between the sender's clock and the fake's: the windows the fake measures hold.
        "CRM_DIALOGS_SEND_MARGIN": "100ms"}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        # The second replica: the first one's environment (database, brokers, consumer group, keys), ports
        # of its own.
        cls.replicas = [cls.stack.grpc_ports["dialogs"], cls.stack.start("dialogs").wait_for("serving")["grpc_port"]]

    # --- helpers --------------------------------------------------------------------------------------
    def sql(self, query):
        dsn = self.stack.envs["dialogs"]["CRM_DIALOGS_PG_DSN"]
        return subprocess.run(["psql", dsn, "-Atqc", query], capture_output=True, text=True, check=True).stdout.strip()

    def control(self, token, action, body=None):
        return fake_control(self.stack.telegram_url, token, action, body)

    def admin(self):
        p = self.api.message("crm.common.v1.Principal")(kind=1, id=str(uuid.uuid4()), permissions=["dialogs.admin"])
        return self.stack.signed(p)

    def rpc(self, port, method, request):
        channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        try:
            call, Request = self.api.method(channel, method)
            return call(Request(**request), metadata=self.admin(), timeout=20)
        finally:
            channel.close()

    def create_bot(self, token, mode):
        Bot = self.api.message("crm.dialogs.v1.Bot")
        return self.rpc(self.replicas[0], "crm.dialogs.v1.BotService/CreateBot",
                        {"bot": Bot(name="Бот реплик " + token[:4], intake_mode=mode), "token": token})

    # --- tests ----------------------------------------------------------------------------------------
    def test_1_a_polling_bot_is_polled_by_one_replica(self):
        token = new_token()
        bot = self.create_bot(token, 2)  # INTAKE_MODE_POLLING
        for i in range(20):
            self.control(token, "message", {"user_id": 6100001 + i % 4, "text": "вопрос %d" % i})
        count = "SELECT count(*) FROM tg_updates WHERE bot_id = '%s'" % bot.id
        wait_until(lambda: self.sql(count) == "20", "the polled updates to be stored")
        # Both replicas' supervisors keep a poll thread for the bot; give them several 1 s long polls.
        calls = self.control(token, "state")["poll_calls"]
        wait_until(lambda: self.control(token, "state")["poll_calls"] >= calls + 5, "five more long polls", 30)
        state = self.control(token, "state")
        self.assertEqual(state["poll_conflicts"], 0, "two replicas polled the bot at once")
        self.assertEqual(self.sql("SELECT count(DISTINCT update_id) FROM tg_updates WHERE bot_id = '%s'" % bot.id), "20")

    def test_2_a_burst_to_two_replicas_with_one_killed_loses_and_doubles_nothing(self):
        token = new_token()
        bot = self.create_bot(token, 1)  # INTAKE_MODE_WEBHOOK
        hook = bot.webhook_url.rsplit("/", 1)[1]
        secret = wait_until(lambda: self.control(token, "state")["webhook_secret"], "the webhook registered")
        # T3: the bot's scenario waits 3 s for a reply, then writes once and hands the dialog to operators.
        Scenario = self.api.message("crm.dialogs.v1.Scenario")
        scenario = Scenario()
        scenario.bot_id, scenario.name, scenario.active = bot.id, "Ожидание ответа", True
        stage = scenario.stages.add(code="1", name="Ожидание вопроса", first=True, wait_for_reply=True)
        stage.reply_timeout.period_seconds = 3
        stage.reply_timeout.actions.add(kind=1, text=TIMEOUT_TEXT, finish=True)  # ACTION_KIND_SEND_TEXT
        self.rpc(self.replicas[1], "crm.dialogs.v1.ScenarioService/CreateScenario", {"scenario": scenario})

        # 1 000 updates, 5 per chat, in update_id order per chat; delivered by 8 "Telegram" connections to
        # the replicas alternately, each retried on the other replica until one answers OK.
        first_user, first_update = 7200001, 500000001
        updates = []
        for i in range(UPDATES):
            uid = first_user + i % CHATS
            updates.append({"update_id": first_update + i, "message": {
                "message_id": i + 1, "date": int(time.time()), "text": "сообщение %d" % i,
                "from": {"id": uid, "is_bot": False, "first_name": "Клиент"},
                "chat": {"id": uid, "type": "private", "first_name": "Клиент"}}})
        Request = self.api.message("crm.dialogs.v1.ReceiveUpdateRequest")
        HttpBody = self.api.message("google.api.HttpBody")
        Empty = self.api.message("google.protobuf.Empty")
        lock = threading.Lock()
        channels = [grpc.insecure_channel("127.0.0.1:%d" % p) for p in self.replicas]
        acked = [0]
        killed = threading.Event()
        half_acked = threading.Event()

        def deliver(i):
            body = Request(hook=hook, body=HttpBody(content_type="application/json",
                                                    data=json.dumps(updates[i]).encode()))
            for attempt in range(400):
                with lock:
                    channel = channels[(i + attempt) % 2]
                try:
                    channel.unary_unary("/crm.dialogs.v1.TelegramIntake/ReceiveUpdate",
                                        request_serializer=Request.SerializeToString,
                                        response_deserializer=Empty.FromString)(
                        body, metadata=[("x-telegram-bot-api-secret-token", secret)], timeout=10)
                    break
                except grpc.RpcError as e:
                    if e.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT):
                        raise
                    time.sleep(0.05)  # Telegram retries a failed delivery
            else:
                raise AssertionError("update %d never acknowledged" % i)
            with lock:
                acked[0] += 1
                if acked[0] == UPDATES * 2 // 5:
                    half_acked.set()
            if acked[0] % 50 == 0 and not killed.is_set():
                time.sleep(0.02)  # a steady stream, not one instant

        pool = concurrent.futures.ThreadPoolExecutor(8)
        futures = [pool.submit(deliver, i) for i in range(UPDATES)]
        self.assertTrue(half_acked.wait(60), "400 updates were never acknowledged")
        victim = [p for p in self.stack.procs if p.name == "dialogs"][-1]
        victim.proc.kill()  # SIGKILL mid-burst: its stores, claims and passes in flight are cut off
        victim.proc.wait()
        killed.set()
        with lock:
            acked_at_kill = acked[0]
        restarted = self.stack.start("dialogs")
        port = restarted.wait_for("serving")["grpc_port"]
        with lock:
            channels[1].close()
            channels[1] = grpc.insecure_channel("127.0.0.1:%d" % port)
        for f in futures:
            f.result()
        pool.shutdown()
        for c in channels:
            c.close()
        self.assertLess(acked_at_kill, UPDATES, "the burst was over before the kill")

        # Stored once and processed once, in each chat's order.
        where = "bot_id = '%s'" % bot.id
        self.assertEqual(self.sql("SELECT count(*), count(DISTINCT update_id), min(update_id), max(update_id) "
                                  "FROM tg_updates WHERE " + where),
                         "%d|%d|%d|%d" % (UPDATES, UPDATES, first_update, first_update + UPDATES - 1))
        wait_until(lambda: self.sql("SELECT count(*) FROM tg_updates WHERE processed_at IS NULL AND " + where) == "0",
                   "every update processed")
        messages = ("FROM dialog_messages m JOIN dialogs d ON d.id = m.dialog_id "
                    "WHERE d.bot_id = '%s' AND m.direction = 'IN'" % bot.id)
        self.assertEqual(self.sql("SELECT count(*), count(DISTINCT m.update_id) " + messages), "%d|%d" % (UPDATES, UPDATES))
        self.assertEqual(self.sql("SELECT count(DISTINCT d.chat_id), count(DISTINCT d.id) " + messages),
                         "%d|%d" % (CHATS, CHATS))
        by_chat = collections.defaultdict(list)
        for line in self.sql("SELECT d.chat_id, m.update_id %s ORDER BY m.id" % messages).splitlines():
            chat, update_id = map(int, line.split("|"))
            by_chat[chat].append(update_id)
        for chat, ids in by_chat.items():
            self.assertEqual(ids, sorted(ids), "chat %d's messages out of order" % chat)

        # T3: each dialog's waiting timeout fired once: one reply per chat, sent once at the fake.
        def replies():
            return [s for s in self.control(token, "sent") if s["ok"] and s["text"] == TIMEOUT_TEXT]
        wait_until(lambda: len(replies()) >= CHATS, "a timeout reply in every chat", 60)
        per_chat = collections.Counter(s["chat_id"] for s in replies())
        self.assertEqual(len(per_chat), CHATS)
        self.assertEqual(set(per_chat.values()), {1}, [c for c, n in per_chat.items() if n > 1][:5])
        self.assertEqual(self.sql("SELECT count(*) FROM dialogs WHERE status = 'QUEUED' AND " + where), str(CHATS))
        # Two senders together kept the bot's pace (30 a second) and the chats' (1 a second).
        rates = self.control(token, "rates")
        self.assertLessEqual(rates["max_per_bot_1s"], 30, rates)
        self.assertLessEqual(rates["max_per_chat_1s"], 1, rates)

        # Kafka: one UpdateReceived per update_id, by event id (the relay may publish an event twice; a
        # consumer deduplicates by its id).
        events = wait_until(lambda: self.update_events(bot.id), "every UpdateReceived on Kafka", 60)
        self.assertEqual(sorted(events), list(range(first_update, first_update + UPDATES)))
        self.assertTrue(all(len(ids) == 1 for ids in events.values()),
                        {u: ids for u, ids in events.items() if len(ids) > 1})
        sys.stderr.write("killed a replica with %d of %d updates acknowledged; all stored and processed once\n"
                         % (acked_at_kill, UPDATES))

    def update_events(self, bot_id):
        """update_id → the event ids of its UpdateReceived on crm.dialogs.update.v1 (kcat from the topic's
        beginning to its end); None until all UPDATES are there."""
        out = subprocess.run(["kcat", "-b", BROKERS, "-C", "-t", "crm.dialogs.update.v1", "-o", "beginning",
                              "-e", "-q", "-f", "%R%s%k\n"], capture_output=True, check=True, timeout=60).stdout
        Envelope = self.api.message("crm.events.v1.Envelope")
        Received = self.api.message("crm.dialogs.v1.UpdateReceived")
        events = collections.defaultdict(set)
        pos = 0
        while pos < len(out):
            (n,) = struct.unpack(">i", out[pos:pos + 4])
            payload = out[pos + 4:pos + 4 + max(n, 0)]
            end = out.index(b"\n", pos + 4 + max(n, 0))
            key = out[pos + 4 + max(n, 0):end].decode()
            pos = end + 1
            if not key.startswith(bot_id + ":"):
                continue
            env = Envelope.FromString(payload)
            events[Received.FromString(env.payload.value).update_id].add(env.id)
        return events if len(events) >= UPDATES else None


if __name__ == "__main__":
    main()
