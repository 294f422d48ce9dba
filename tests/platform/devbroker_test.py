#!/usr/bin/python3
"""The dev broker speaks real Kafka: kcat and python3-confluent-kafka (clients nobody here wrote)
produce and consume through it, and read the events our outbox relay publishes: CloudEvents binary-mode
headers, key = aggregate id, value = a crm.events.v1.Envelope decoded with protoc-generated Python.

Usage: devbroker_test.py BUILD_DIR SOURCE_DIR   (CRM_TEST_PG_DSN must point at a PostgreSQL cluster)
"""
import os
import subprocess
import sys
import tempfile
import unittest
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

BUILD, SOURCE = sys.argv[1], sys.argv[2]
del sys.argv[1:3]


class DevBroker:
    def __init__(self, *topics):
        args = [os.path.join(BUILD, "tools/devbroker/crm-devbroker")]
        for t in topics:
            args += ["--topic", t]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("BROKERS="), line
        self.brokers = line[len("BROKERS="):]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


def consume_all(brokers, topic, want, group):
    c = Consumer({"bootstrap.servers": brokers, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    for _ in range(600):  # bounded: at most 600 polls of 0.5 s
        m = c.poll(0.5)
        if m is None:
            if len(got) >= want:
                break
            continue
        if m.error():
            continue
        got.append(m)
        c.commit(message=m, asynchronous=False)
    committed = c.committed([TopicPartition(topic, p) for p in {m.partition() for m in got}], timeout=10)
    c.close()
    return got, committed


class DevBrokerTest(unittest.TestCase):
    def setUp(self):
        self.broker = DevBroker("crm.interop.v1:3", "crm.test.item.v1:4")

    def tearDown(self):
        self.broker.stop()

    def test_kcat_produces_and_consumes_with_key_and_headers(self):
        lines = "".join(f"key-{i}:value-{i}\n" for i in range(20))
        subprocess.run(["kcat", "-b", self.broker.brokers, "-P", "-t", "crm.interop.v1", "-K", ":",
                        "-H", "ce_id=abc", "-H", "ce_type=crm.test.v1"], input=lines, text=True, check=True)
        out = subprocess.run(["kcat", "-b", self.broker.brokers, "-C", "-t", "crm.interop.v1", "-e", "-q",
                              "-f", "%k|%s|%h\n"], capture_output=True, text=True, check=True, timeout=60).stdout
        rows = sorted(out.strip().splitlines())
        self.assertEqual(len(rows), 20)
        self.assertIn("key-7|value-7|ce_id=abc,ce_type=crm.test.v1", rows)
        meta = subprocess.run(["kcat", "-b", self.broker.brokers, "-L", "-t", "crm.interop.v1"],
                              capture_output=True, text=True, check=True, timeout=30).stdout
        self.assertIn("with 3 partitions", meta)

    def test_confluent_kafka_idempotent_producer_and_group_commit(self):
        p = Producer({"bootstrap.servers": self.broker.brokers, "enable.idempotence": True, "acks": "all"})
        errors = []
        for i in range(100):
            p.produce("crm.interop.v1", key=f"k{i % 7}", value=f"v{i}",
                      headers=[("ce_id", str(uuid.uuid4())), ("ce_specversion", "1.0")],
                      on_delivery=lambda err, msg: errors.append(err) if err else None)
        self.assertEqual(p.flush(30), 0)
        self.assertEqual(errors, [])
        got, committed = consume_all(self.broker.brokers, "crm.interop.v1", 100, "py-group")
        self.assertEqual(len(got), 100)
        self.assertTrue(all(dict(m.headers())["ce_specversion"] == b"1.0" for m in got))
        # Committed offsets cover everything read.
        total = sum(tp.offset for tp in committed)
        self.assertEqual(total, 100)

    def test_relay_output_is_cloudevents_binary_mode_with_an_envelope(self):
        admin = os.environ.get("CRM_TEST_PG_DSN")
        self.assertTrue(admin, "CRM_TEST_PG_DSN not set: run through tools/crm test")
        db = "interop_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", admin, "-q", "-c", f"CREATE DATABASE {db}"], check=True)
        try:
            env = dict(os.environ, CRM_PROBE_PG_DSN=f"{admin} dbname={db}",
                       CRM_PROBE_KAFKA_BROKERS=self.broker.brokers)
            out = subprocess.run([os.path.join(BUILD, "tests/platform/crm-events-probe"), "emit", "25"],
                                 env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
        finally:
            subprocess.run(["psql", admin, "-q", "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], check=True)
        envelope_pb2 = self.generated_envelope_module()
        from google.protobuf import wrappers_pb2
        got, _ = consume_all(self.broker.brokers, "crm.test.item.v1", 25, "py-integrator")
        self.assertEqual(len(got), 25)
        for m in got:
            h = {k: v.decode() for k, v in m.headers()}
            self.assertEqual(h["ce_specversion"], "1.0")
            self.assertEqual(h["ce_type"], "crm.test.item.changed.v1")
            self.assertEqual(h["ce_source"], "/crm/test")
            self.assertEqual(h["content-type"], "application/protobuf")
            self.assertEqual(h["ce_subject"], m.key().decode())
            self.assertRegex(h["ce_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
            e = envelope_pb2.Envelope()
            e.ParseFromString(m.value())
            self.assertEqual(e.id, h["ce_id"])
            self.assertEqual(str(uuid.UUID(e.id)), e.id)
            self.assertEqual(uuid.UUID(e.id).version, 7)
            self.assertEqual(e.subject, m.key().decode())
            self.assertEqual(e.type, h["ce_type"])
            v = wrappers_pb2.Int64Value()
            self.assertTrue(e.payload.Unpack(v))
            self.assertEqual(v.value, 1)
        self.assertEqual(len({m.key() for m in got}), 25)

    def generated_envelope_module(self):
        out = tempfile.mkdtemp()
        from grpc_tools import protoc
        import grpc_tools
        include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        if not os.path.isdir(include):
            include = "/usr/include"
        rc = protoc.main(["protoc", f"-I{SOURCE}/proto", f"-I{include}", f"--python_out={out}",
                          "crm/events/v1/envelope.proto", "crm/common/v1/common.proto",
                          "crm/common/v1/validation.proto"])
        self.assertEqual(rc, 0)
        sys.path.insert(0, out)
        from crm.events.v1 import envelope_pb2
        return envelope_pb2


if __name__ == "__main__":
    unittest.main(verbosity=2)
