#!/usr/bin/python3
"""The telephony calls part end to end (issue 19, P1, P2): identity, deals, telephony and the gateway as
processes, no PBX configured (the AMI helper's e2e feeds calls through the fake AMI server; there is no
developer backdoor to inject calls). What is reachable without a PBX, through the gateway with curl and
directly over python3-grpcio:

  - extensions admin (telephony.manage): put, list, delete; a call-centre operator is refused (403);
  - the call log: empty lists in each scope; a role without calls.operate / telephony.read.all is refused;
  - Originate (click-to-call) answers FAILED_PRECONDITION naming the provider when no PBX adapter is
    configured, and names the bad field before that;
  - errors name every bad field (REST and gRPC);
  - a call that does not exist is NOT_FOUND;
  - `crm-telephony demo` gives extension 101 to the user telephony heard of as «cc.operator» on
    crm.identity.user.v1 (Kafka), whether the event came before or after the demo.

Usage: telephony_calls_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN, CRM_TEST_KAFKA_BROKERS: tools/crm test)
"""
import os
import subprocess
import sys
import uuid

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import BUILD, StackTest, main, wait_until  # noqa: E402
from grpc_api import GrpcApi  # noqa: E402


class TelephonyCalls(StackTest):
    services = ["deals", "telephony"]
    service_env = {"telephony": {"CRM_TELEPHONY_AMI_ADDRESS": ""}}  # no PBX: stack.py starts no fake Asterisk

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.stack.grpc_ports["telephony"])

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        super().tearDownClass()

    def call(self, method, path, body=None, role="call_center_operator", status=200, headers=()):
        r = self.curl(method, path, body, headers=self.as_(role, *headers))
        self.assertEqual(r.status, status, r.body)
        return r.json() if r.body else {}

    def test_extensions_admin(self):
        operator = self.user_id("call_center_operator")
        ext = str(300 + uuid.uuid4().int % 600)
        path = "/v1/telephony/providers/asterisk/extensions/" + ext
        put = self.call("PUT", path, {"userId": operator}, role="administrator")
        self.assertEqual(put["provider"], "asterisk")
        self.assertEqual(put["extension"], ext)
        self.assertEqual(put["userId"], operator)
        listed = self.call("GET", "/v1/telephony/extensions?userId=" + operator, role="administrator")
        self.assertIn(ext, [x["extension"] for x in listed["extensions"]])
        # Only telephony.manage administers extensions.
        self.call("PUT", path, {"userId": operator}, status=403)
        self.call("GET", "/v1/telephony/extensions", status=403)
        self.call("DELETE", path, role="administrator")
        self.call("DELETE", path, role="administrator", status=404)
        listed = self.call("GET", "/v1/telephony/extensions?userId=" + operator, role="administrator")
        self.assertNotIn(ext, [x["extension"] for x in listed.get("extensions", [])])
        bad = self.curl("PUT", "/v1/telephony/providers/BAD/extensions/" + "1" * 41, {"userId": "x"},
                        headers=self.as_("administrator"))
        self.assertEqual(bad.status, 400, bad.body)
        self.assertEqual([d.get("field") for d in bad.error().get("details", [])],
                         ["extension.provider", "extension.extension", "extension.user_id"])

    def test_the_call_log_without_calls(self):
        self.assertEqual(self.call("GET", "/v1/telephony/calls").get("calls", []), [])
        self.assertEqual(self.call("GET", "/v1/telephony/calls?missedOnly=true&direction=CALL_DIRECTION_INBOUND",
                                   role="head_of_sales").get("calls", []), [])
        self.assertEqual(self.call("GET", "/v1/telephony/calls?user=me", role="quality_controller").get("calls", []),
                         [])
        # A manager holds neither calls.operate nor telephony.read.all.
        self.call("GET", "/v1/telephony/calls", role="manager", status=403)
        missing = self.curl("GET", "/v1/telephony/calls/" + str(uuid.uuid4()), headers=self.as_("head_of_sales"))
        self.assertEqual(missing.status, 404, missing.body)

    def test_bad_requests_name_every_field(self):
        r = self.curl("GET", "/v1/telephony/calls?pageSize=-1&clientId=x&user=nobody&pageToken=%21",
                      headers=self.as_("call_center_operator"))
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual([d.get("field") for d in r.error().get("details", [])],
                         ["page_size", "page_token", "client_id", "user"])
        r = self.curl("POST", "/v1/telephony/calls/x/legs/y:hangup", {}, headers=self.as_("call_center_operator"))
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual([d.get("field") for d in r.error().get("details", [])], ["call_id", "leg_id"])
        r = self.curl("POST", "/v1/telephony/calls:originate", {"number": "call me"},
                      headers=self.as_("call_center_operator"))
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual([d.get("field") for d in r.error().get("details", [])], ["number"])

    def test_originate_without_a_pbx(self):
        # REST: no adapter for the configured provider (asterisk) — FAILED_PRECONDITION naming it.
        r = self.curl("POST", "/v1/telephony/calls:originate", {"number": "+7 916 123-45-67"},
                      headers=self.as_("call_center_operator", "Idempotency-Key: " + uuid.uuid4().hex))
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(r.error()["status"], "FAILED_PRECONDITION")
        self.assertIn('"asterisk"', r.error()["message"])
        # Without calls.operate: 403.
        r = self.curl("POST", "/v1/telephony/calls:originate", {"number": "+79161234567"},
                      headers=self.as_("manager"))
        self.assertEqual(r.status, 403, r.body)
        # gRPC straight to telephony with a signed principal: the same answer.
        originate, Req = self.api.method(self.channel, "crm.telephony.v1.CallService/Originate")
        Principal = self.api.message("crm.common.v1.Principal")
        who = Principal(kind=1, id=self.user_id("call_center_operator"), permissions=["calls.operate"])
        with self.assertRaises(grpc.RpcError) as e:
            originate(Req(number="+79161234567"), metadata=self.stack.signed(who), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn('"asterisk"', e.exception.details())
        list_calls, ListReq = self.api.method(self.channel, "crm.telephony.v1.CallService/ListCalls")
        self.assertEqual(len(list_calls(ListReq(), metadata=self.stack.signed(who), timeout=10).calls), 0)
        with self.assertRaises(grpc.RpcError) as e:
            list_calls(ListReq(page_size=-1), metadata=self.stack.signed(who), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_demo_extensions(self):
        binary = os.path.join(BUILD, "services/telephony/crm-telephony")
        for _ in range(2):  # repeatable
            subprocess.run([binary, "demo"], env=self.stack.envs["telephony"], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

        def assigned():
            listed = self.call("GET", "/v1/telephony/extensions?provider=asterisk", role="administrator")
            return [x["userId"] for x in listed.get("extensions", []) if x["extension"] == "101"]
        user = wait_until(assigned, "the demo extension 101 assigned", timeout=120)[0]
        # To the user telephony heard of as «cc.operator» on crm.identity.user.v1. (Stacks sharing one broker in
        # a test run each have a «cc.operator»: the login names several users there, so not necessarily ours.)
        dsn = self.stack.envs["telephony"]["CRM_TELEPHONY_PG_DSN"]
        login = subprocess.run(["psql", dsn, "-Atqc", "SELECT login FROM user_logins WHERE user_id = '%s'" % user],
                               capture_output=True, text=True, check=True).stdout.strip()
        self.assertEqual(login, "cc.operator")

if __name__ == "__main__":
    main()
