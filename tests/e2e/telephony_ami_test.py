"""Telephony over Asterisk's AMI (issue 19, P1) end to end: identity + deals + telephony + gateway, telephony's
AMI link to the fake Asterisk (tests/fakes/ami_server.py, AMI over TCP) that tests/support/stack.py starts.

  0. bad AMI settings are named, every one at once, and crm-telephony exits 2;
  1. an inbound call from a client's phone: in the call log through the gateway (curl) — inbound, answered,
     ended, its two legs, the recording's URL, the client identified by deals — and on crm.telephony.call.v1
     (kcat): started, answered, finished once;
  2. the AMI link dropped mid-call, the call hung up while it was down (its Hangup lost): once the link is
     back, the resynchronisation ends the call's legs (reason LINK_LOST);
  3. kill -9 of crm-telephony mid-burst of calls, then a restart: every call is stored once, ended once
     (one finished event per call) — the calls that began while it was down included (they are still up:
     the resynchronisation learns them from CoreShowChannels).
"""
import collections
import os
import subprocess
import sys
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from e2e import StackTest, main, wait_until  # noqa: E402
from stack import BROKERS  # noqa: E402

CALLS = "/v1/telephony/calls"
TOPIC = "crm.telephony.call.v1"
BURST = 40


class TelephonyAmi(StackTest):
    services = ["deals", "telephony"]
    # The recordings' URL template (the rest of the AMI settings come from stack.py's fake).
    service_env = {"telephony": {"CRM_TELEPHONY_AMI_RECORDING_URL_TEMPLATE": "https://pbx.example.com/rec/{file}"}}

    # --- helpers --------------------------------------------------------------------------------------
    def ami(self, method, action, body=None):
        return self.stack.ami_control(method, action, body)

    def wait_link(self):
        wait_until(lambda: self.ami("GET", "state")["logged_in"] >= 1, "telephony's AMI login")

    def all_calls(self):
        """Every call in the log (administrator: telephony.read.all), following the pages."""
        out, token = [], ""
        while True:
            q = "?pageSize=200" + ("&pageToken=" + urllib.parse.quote(token) if token else "")
            r = self.curl("GET", CALLS + q, headers=self.as_("administrator"))
            self.assertEqual(r.status, 200, r.body)
            out += r.json().get("calls", [])
            token = r.json().get("nextPageToken", "")
            if not token:
                return out

    def call_by_key(self, linkedid, state=None):
        for c in self.all_calls():
            if c.get("callKey") == linkedid and (state is None or c.get("state") == state):
                return c
        return None

    def topic_types(self):
        """call id → the ce_type of every event on crm.telephony.call.v1, in order (kcat, beginning to end)."""
        out = subprocess.run(["kcat", "-b", BROKERS, "-C", "-t", TOPIC, "-o", "beginning", "-e", "-q",
                              "-f", "%k\t%h\n"], capture_output=True, text=True, check=True, timeout=60).stdout
        types = collections.defaultdict(list)
        for line in out.splitlines():
            key, _, headers = line.partition("\t")
            for h in headers.split(","):
                name, _, value = h.partition("=")
                if name == "ce_type":
                    types[key].append(value)
        return types

    # --- tests ----------------------------------------------------------------------------------------
    def test_0_bad_settings_named_and_exit_2(self):
        env = dict(self.stack.envs["telephony"], CRM_TELEPHONY_AMI_ADDRESS="asterisk-without-port",
                   CRM_TELEPHONY_AMI_EXTENSION_PATTERN="([", CRM_TELEPHONY_AMI_ORIGINATE_CHANNEL="PJSIP/101",
                   CRM_TELEPHONY_AMI_SECRET="")
        r = subprocess.run([os.path.join(self.stack.build, "services/telephony/crm-telephony")], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 2, r.stderr[-2000:])
        for var in ("CRM_TELEPHONY_AMI_ADDRESS", "CRM_TELEPHONY_AMI_EXTENSION_PATTERN",
                    "CRM_TELEPHONY_AMI_ORIGINATE_CHANNEL", "CRM_TELEPHONY_AMI_SECRET"):
            self.assertIn(var, r.stderr)

    def test_1_inbound_call_from_a_client(self):
        phone = "7916%07d" % (uuid.uuid4().int % 10000000)
        client = self.curl("POST", "/v1/clients", {"kind": "KIND_PERSON", "name": "Звонков Иван",
                                                   "phones": ["+" + phone]}, headers=self.as_("manager"))
        self.assertEqual(client.status, 200, client.body)
        self.wait_link()
        call = self.ami("POST", "call", {"from": phone, "extension": "101", "did": "74951234567",
                                         "answer_after": 0.2, "talk": 0.3, "record": True})
        linkedid, legs = call["linkedid"], call["legs"]
        logged = wait_until(lambda: self.call_by_key(linkedid, "CALL_STATE_ENDED"), "the call ended in the log")
        self.assertEqual(logged["provider"], "asterisk")
        self.assertEqual(logged["direction"], "CALL_DIRECTION_INBOUND")
        self.assertTrue(logged.get("answered"), logged)
        self.assertFalse(logged.get("missed", False), logged)
        self.assertEqual(logged["outsideNumber"], "+" + phone)
        full = self.curl("GET", "%s/%s" % (CALLS, logged["id"]), headers=self.as_("administrator"))
        self.assertEqual(full.status, 200, full.body)
        leg_keys = sorted(l["legKey"] for l in full.json()["legs"])
        self.assertEqual(leg_keys, sorted(legs))
        employee = [l for l in full.json()["legs"] if l.get("extension") == "101"]
        self.assertEqual(len(employee), 1, full.body)
        self.assertEqual(employee[0]["endReason"], "Normal Clearing")
        wait_until(lambda: (self.curl("GET", "%s/%s" % (CALLS, logged["id"]), headers=self.as_("administrator"))
                            .json().get("recordingUrl") == "https://pbx.example.com/rec/%s.wav" % linkedid),
                   "the recording's URL")
        # Caller identification (P2): deals knows the number.
        wait_until(lambda: self.curl("GET", "%s/%s" % (CALLS, logged["id"]), headers=self.as_("administrator"))
                   .json().get("clientId") == client.json()["id"], "the client identified")
        types = wait_until(lambda: (lambda t: t if "crm.telephony.call.finished.v1" in t else None)(
            self.topic_types().get(logged["id"], [])), "CallFinished on Kafka")
        self.assertEqual(types[0], "crm.telephony.call.started.v1", types)
        self.assertIn("crm.telephony.call.answered.v1", types)
        self.assertEqual(types.count("crm.telephony.call.finished.v1"), 1, types)

    def test_2_link_dropped_mid_call_is_resynchronised(self):
        self.wait_link()
        call = self.ami("POST", "call", {"from": "79035550001", "extension": "102", "answer_after": 0.1,
                                         "talk": None})
        linkedid = call["linkedid"]
        wait_until(lambda: self.call_by_key(linkedid, "CALL_STATE_ANSWERED"), "the call answered in the log")
        self.ami("POST", "drop", {"refuse": True})
        wait_until(lambda: self.ami("GET", "state")["sessions"] == 0, "the link down")
        self.ami("POST", "hangup", {"linkedid": linkedid})  # its Hangup events reach nobody
        self.assertEqual(self.call_by_key(linkedid)["state"], "CALL_STATE_ANSWERED")
        self.ami("POST", "accept")
        logged = wait_until(lambda: self.call_by_key(linkedid, "CALL_STATE_ENDED"), "the call ended by the resync")
        full = self.curl("GET", "%s/%s" % (CALLS, logged["id"]), headers=self.as_("administrator")).json()
        self.assertEqual(sorted(l["endReason"] for l in full["legs"]), ["LINK_LOST", "LINK_LOST"], full)

    def test_3_kill_9_mid_burst_every_call_stored_once(self):
        self.wait_link()
        self.ami("POST", "reset")
        victim = [p for p in self.stack.procs if p.name == "telephony"][-1]
        port = self.stack.grpc_ports["telephony"]
        self.ami("POST", "burst", {"count": BURST, "extension": "103", "interval": 0.05, "talk": None,
                                   "from_prefix": "7926%03d" % (uuid.uuid4().int % 1000)})
        wait_until(lambda: len(self.ami("GET", "calls")) >= BURST // 4, "a quarter of the burst made")
        victim.proc.kill()  # SIGKILL mid-burst: the facts in flight are cut off
        victim.proc.wait()
        made_at_kill = len(self.ami("GET", "calls"))
        # The restart serves on the same gRPC port (the gateway's address of telephony).
        self.stack.envs["telephony"] = dict(self.stack.envs["telephony"],
                                            CRM_TELEPHONY_GRPC_ADDRESS="127.0.0.1:%d" % port)
        self.stack.start("telephony").wait_for("serving")
        wait_until(lambda: len(self.ami("GET", "calls")) == BURST, "the whole burst made")
        self.assertLess(made_at_kill, BURST, "the burst was over before the kill")
        keys = [c["linkedid"] for c in self.ami("GET", "calls")]
        # Every call of the burst is in the log and answered (those made while telephony was down too).
        wait_until(lambda: sum(1 for c in self.all_calls() if c.get("callKey") in keys and
                               c.get("state") == "CALL_STATE_ANSWERED") == BURST, "every burst call answered")
        self.ami("POST", "hangup", {"all": True})
        wait_until(lambda: sum(1 for c in self.all_calls() if c.get("callKey") in keys and
                               c.get("state") == "CALL_STATE_ENDED") == BURST, "every burst call ended")
        logged = [c for c in self.all_calls() if c.get("callKey") in keys]
        self.assertEqual(len(logged), BURST, "a call stored twice (or lost)")
        self.assertEqual(len({c["callKey"] for c in logged}), BURST)
        ids = {c["id"] for c in logged}
        finished = wait_until(lambda: (lambda t: t if all("crm.telephony.call.finished.v1" in t.get(i, [])
                                                          for i in ids) else None)(self.topic_types()),
                              "CallFinished of every burst call")
        for i in ids:
            self.assertEqual(finished[i].count("crm.telephony.call.finished.v1"), 1, (i, finished[i]))
            self.assertEqual(finished[i].count("crm.telephony.call.started.v1"), 1, (i, finished[i]))


if __name__ == "__main__":
    main()
