#!/usr/bin/python3
"""The call-request queue end to end (issue 19, P4): identity, deals, telephony and the gateway as processes,
the demo call-centre operator (role call_center_operator: calls.operate) through the gateway with curl, the
head of sales (telephony.read.all) on the control panel, python3-grpcio straight to telephony, kcat on
crm.telephony.request.v1:

  - the operator is ready («Готов»); a request is created (Idempotency-Key: a repeat is the same request) and
    offered to them at once with a 35-second deadline (their state shows the countdown; CallRequestOffered on
    Kafka names them and the deadline);
  - accept → in work; finish PROCESSED → done with its attempt; «Готов» takes one request: not ready after;
    the events created, offered, accepted, finished in order on the request's key (kcat);
  - errors name the fields (request.phone, request.source, …; planned_time for BACK_TO_QUEUE);
  - a role without calls.operate (manager) gets 403 on creating, on readiness and on the list;
  - the control panel counts the day's request; the operators' states list the operator;
  - python3-grpcio: GetCallRequest as the operator's signed principal returns the attempts;
  - every POST's idempotency case (tests/e2e/idempotency_cases/telephony_requests.py).

The 35 s timer's expiry needs time to pass: the e2e stack has no clock hook for telephony, so expiry → the
next operator is proven by services/telephony/requests/requests_test.cc on PostgreSQL with a ManualClock.

Usage: telephony_requests_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN, CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import datetime
import os
import subprocess
import sys
import uuid

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import StackTest, main, wait_until  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402
from idempotency import check_cases, load_cases  # noqa: E402
from stack import BROKERS  # noqa: E402

TOPIC = "crm.telephony.request.v1"
CASES = load_cases("telephony_requests")


def ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class TelephonyRequests(StackTest):
    services = ["deals", "telephony"]

    def call(self, method, path, body=None, role="call_center_operator", status=200, headers=()):
        r = self.curl(method, path, body, headers=self.as_(role, *headers))
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def kcat_types(self, key):
        """The ce_type of each event of `key` on the topic, in order (kcat from the beginning to the end)."""
        out = subprocess.run(["kcat", "-b", BROKERS, "-C", "-t", TOPIC, "-o", "beginning", "-e", "-q",
                              "-f", "%k\t%h\n"], capture_output=True, check=True, timeout=60).stdout.decode()
        types = []
        for line in out.splitlines():
            k, _, headers = line.partition("\t")
            if k != key:
                continue
            for h in headers.split(","):
                name, _, value = h.partition("=")
                if name == "ce_type":
                    types.append(value)
        return types

    def test_create_ready_offer_accept_finish(self):
        operator = self.user_id("call_center_operator")
        state = self.call("POST", "/v1/telephony/operators/me:readiness", {"readiness": "READINESS_READY"})
        self.assertEqual(state["readiness"], "READINESS_READY")

        key = "Idempotency-Key: " + str(uuid.uuid4())
        body = {"source": "REQUEST_SOURCE_SITE", "type": "REQUEST_TYPE_CALLBACK", "phone": "8 (916) 555-01-02",
                "comment": "Перезвонить по ипотеке"}
        made = self.call("POST", "/v1/telephony/requests", body, headers=(key,))
        again = self.call("POST", "/v1/telephony/requests", body, headers=(key,))
        self.assertEqual(again["id"], made["id"])
        self.assertEqual(made["phone"], "+79165550102")
        rid = made["id"]
        # Offered at once to the ready operator, with the 35-second deadline the screen counts down.
        self.assertEqual(made["state"], "REQUEST_STATE_OFFERED", made)
        self.assertEqual(made["operatorId"], operator)
        me = self.call("GET", "/v1/telephony/operators/me")
        self.assertEqual(me["requestId"], rid)
        self.assertEqual(me["requestState"], "REQUEST_STATE_OFFERED")
        self.assertEqual(me["request"]["phone"], "+79165550102")
        deadline = ts(me["offerDeadline"])
        offered_at = ts(me["request"]["attempts"][0]["offerTime"])
        self.assertEqual(deadline - offered_at, datetime.timedelta(seconds=35))

        # CallRequestOffered on Kafka: the operator and the deadline.
        api = GrpcApi(os.path.join(self.stack.build, "proto/crm_api.pb"))
        Envelope = api.message("crm.events.v1.Envelope")
        Offered = api.message("crm.telephony.v1.CallRequestOffered")
        events = self.events(TOPIC, rid, "crm.telephony.request.offered.v1")
        self.assertEqual([t for t, _ in events], ["crm.telephony.request.created.v1", "crm.telephony.request.offered.v1"])
        envelope = Envelope.FromString(events[-1][1])
        offered = Offered()
        self.assertTrue(envelope.payload.Unpack(offered))
        self.assertEqual(offered.operator_id, operator)
        self.assertEqual(offered.deadline.seconds - offered.offer_time.seconds, 35)

        accepted = self.call("POST", "/v1/telephony/requests/%s:accept" % rid, {})
        self.assertEqual(accepted["state"], "REQUEST_STATE_IN_WORK")
        # Back to the queue without a planned time: 400 naming planned_time.
        r = self.curl("POST", "/v1/telephony/requests/%s:finish" % rid, {"outcome": "REQUEST_OUTCOME_BACK_TO_QUEUE"},
                      headers=self.as_("call_center_operator"))
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("planned_time", r.body)
        done = self.call("POST", "/v1/telephony/requests/%s:finish" % rid,
                         {"outcome": "REQUEST_OUTCOME_PROCESSED", "comment": "Записан на встречу"})
        self.assertEqual(done["state"], "REQUEST_STATE_DONE")
        self.assertEqual(done["outcome"], "REQUEST_OUTCOME_PROCESSED")
        # «Готов» takes one request: not ready afterwards.
        me = self.call("GET", "/v1/telephony/operators/me")
        self.assertEqual(me["readiness"], "READINESS_NOT_READY")
        self.assertEqual(me.get("requestId", ""), "")

        got = self.call("GET", "/v1/telephony/requests/" + rid)
        self.assertEqual(len(got["attempts"]), 1)
        self.assertEqual(got["attempts"][0]["result"], "ATTEMPT_RESULT_ACCEPTED")
        self.assertEqual(got["attempts"][0]["outcome"], "REQUEST_OUTCOME_PROCESSED")
        self.assertEqual(got["attempts"][0]["comment"], "Записан на встречу")
        own = self.call("GET", "/v1/telephony/requests?state=REQUEST_STATE_DONE")
        self.assertIn(rid, [x["id"] for x in own.get("requests", [])])

        wait_until(lambda: self.kcat_types(rid) == ["crm.telephony.request.created.v1",
                                                    "crm.telephony.request.offered.v1",
                                                    "crm.telephony.request.accepted.v1",
                                                    "crm.telephony.request.finished.v1"],
                   "the request's four events on %s (kcat)" % TOPIC)

        # The control panel (telephony.read.all): today's request, the operator's attempt; the states now.
        stats = self.call("GET", "/v1/telephony/requests:statistics", role="head_of_sales")
        self.assertGreaterEqual(stats["created"], 1)
        self.assertGreaterEqual(stats["processed"], 1)
        mine = [o for o in stats.get("operators", []) if o["operatorId"] == operator]
        self.assertEqual(mine[0]["accepted"], 1, stats)
        ops = self.call("GET", "/v1/telephony/operators", role="head_of_sales")["operators"]
        self.assertEqual([o["readiness"] for o in ops if o["userId"] == operator], ["READINESS_NOT_READY"])
        self.call("GET", "/v1/telephony/requests:statistics", status=403)

        # python3-grpcio straight to telephony, as the operator's signed principal.
        Principal = api.message("crm.common.v1.Principal")
        principal = Principal(kind=Principal.KIND_USER, id=operator, permissions=["calls.operate"])
        channel = grpc.insecure_channel("127.0.0.1:%d" % self.stack.grpc_ports["telephony"])
        get, Request = api.method(channel, "crm.telephony.v1.CallRequestService/GetCallRequest")
        reply = get(Request(id=rid), metadata=self.stack.signed(principal), timeout=10)
        self.assertEqual(reply.id, rid)
        self.assertEqual(len(reply.attempts), 1)
        other = Principal(kind=Principal.KIND_USER, id=str(uuid.uuid4()), permissions=["calls.operate"])
        with self.assertRaises(grpc.RpcError) as e:
            get(Request(id=rid), metadata=self.stack.signed(other), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_errors_name_fields_and_403_without_calls_operate(self):
        r = self.curl("POST", "/v1/telephony/requests", {"phone": "12", "clientId": "nope", "priority": 9},
                      headers=self.as_("call_center_operator", "Idempotency-Key: " + str(uuid.uuid4())))
        self.assertEqual(r.status, 400, r.body)
        for field in ("request.source", "request.type", "request.phone", "request.client_id", "request.priority"):
            self.assertIn(field, r.body)
        r = self.curl("POST", "/v1/telephony/operators/me:readiness", {"readiness": "READINESS_NOT_READY"},
                      headers=self.as_("call_center_operator"))
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("reason", r.body)
        # manager: no calls.operate, no telephony.read.all.
        body = {"source": "REQUEST_SOURCE_MANUAL", "type": "REQUEST_TYPE_CALLBACK", "phone": "+79165550103"}
        self.call("POST", "/v1/telephony/requests", body, role="manager", status=403,
                  headers=("Idempotency-Key: " + str(uuid.uuid4()),))
        self.call("POST", "/v1/telephony/operators/me:readiness", {"readiness": "READINESS_READY"}, role="manager",
                  status=403)
        self.call("GET", "/v1/telephony/requests", role="manager", status=403)
        self.call("GET", "/v1/telephony/requests?scope=SCOPE_ALL", status=403)

    def test_idempotency_cases(self):
        # tests/e2e/idempotency_cases/telephony_requests.py, as the suite's walk of every POST runs them.
        check_cases(self, CASES)


if __name__ == "__main__":
    main()
