"""What every end-to-end test file shares: its command line (BUILD_DIR SOURCE_DIR), one Stack of services
for the whole test class, sign-in headers by role, and reading a topic's events of one key.

    from e2e import StackTest, main

    class Deals(StackTest):
        services = ["deals"]

        def test_something(self):
            r = self.curl("POST", "/v1/deals", {...}, headers=self.as_("manager"))
            self.assertEqual(self.events("crm.deals.deal.v1", r.json()["id"], "crm.deals.deal.created.v1")[-1][0], ...)

    if __name__ == "__main__":
        main()
"""
import os
import sys
import time
import unittest
import uuid

from confluent_kafka import Consumer

# tests/e2e/<file>.py BUILD_DIR SOURCE_DIR [unittest arguments]
BUILD, SOURCE = sys.argv[1], sys.argv[2]
del sys.argv[1:3]

from stack import BROKERS, Stack  # noqa: E402  (tests/support is on sys.path already)


class StackTest(unittest.TestCase):
    """A test class over one Stack of identity, the gateway and `services`, started once for its tests."""
    services = ()
    # Extra environment per service ({"robots": {"CRM_ROBOTS_SMTP_URL": ...}}); see setUpStack().
    service_env = {}
    # Extra environment of the gateway ({"CRM_GATEWAY_HTTP_ADDRESS": "127.0.0.1:18080"}).
    gateway_env = {}

    @classmethod
    def setUpStack(cls):
        """Runs before the stack starts (e.g. to start a fake the services will talk to)."""

    @classmethod
    def setUpClass(cls):
        cls.setUpStack()
        cls.stack = Stack(BUILD, services=list(cls.services), service_env=cls.service_env,
                          gateway_env=cls.gateway_env)
        cls.curl = cls.stack.curl

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def as_(self, role, *extra_headers):
        """Headers signing the request in as the demo user of `role`, plus `extra_headers`."""
        return [self.stack.bearer(role)] + list(extra_headers)

    def user_id(self, role):
        return self.stack.session(role)["user"]["id"]

    def events(self, topic, key, until_type, timeout=60):
        """(type, value) of the events of `key` on `topic` from the beginning, in order, until one of type
        `until_type` (or `timeout` seconds: the topic may hold many other events)."""
        c = Consumer({"bootstrap.servers": BROKERS, "group.id": "e2e-" + uuid.uuid4().hex,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe([topic])
        out = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None or m.error() or m.key() is None or m.key().decode() != key:
                    continue
                out.append((dict(m.headers())["ce_type"].decode(), m.value()))
                if out[-1][0] == until_type:
                    break
        finally:
            c.close()
        return out

    def event_types(self, topic, key, until_type, timeout=60):
        return [t for t, _ in self.events(topic, key, until_type, timeout)]


def wait_until(fn, what, timeout=60):
    """Polls fn() until it returns something true and returns that (bounded: the system converging, not
    time passing); AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def main():
    unittest.main(verbosity=2)
