#!/usr/bin/python3
"""Every topic a service publishes is in proto/crm/events/v1/topics.txt (issue 16), and every topic the
file gives a publishing service is one it publishes.

The dev broker creates the topics of that file (tools/crm, tools/devbroker), production creates them from
it, and the gateway's live stream reads them (services/gateway/CMakeLists.txt): a topic missing there is
an event nobody receives (crm.deals.product.v1 once was).

How a service's topics are found, from its sources (tests, test fixtures and fuzz targets left out), the
way libs/events names them: an OutboxWriter of service S (`outbox_("deals", ...)`,
`OutboxWriter>("robots", ...)`) writes an event of aggregate type A to "crm.S.A.v1"
(OutboxWriter::TopicFor). The aggregate types are the `aggregate_type = "A"` of S's sources (or a
constant they name), and every event type S defines, "crm.S.A.<event>.v1" (in S's sources and in
proto/crm/S/v1/event_types.h), names its aggregate A the same way.

Usage: topics_test.py SOURCE_DIR
"""
import glob
import os
import re
import sys
import unittest

SOURCE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
TOPICS_FILE = os.path.join(SOURCE, "proto/crm/events/v1/topics.txt")

TOPIC = re.compile(r"^crm\.([a-z][a-z0-9_-]*)\.([a-z][a-z0-9_]*)\.v1$")
# A service's OutboxWriter: its own, or the one libs/parts/parts.h WireService makes under `.service`.
WRITER = re.compile(r'(?:\boutbox_|OutboxWriter>?)\s*\(\s*"([a-z][a-z0-9_-]*)"'
                    r'|WireService\(\s*\w+\s*,\s*\w+\s*,\s*\{\s*\.service\s*=\s*"([a-z][a-z0-9_-]*)"')
AGGREGATE_LITERAL = re.compile(r'aggregate_type\s*=\s*"([a-z][a-z0-9_]*)"')
AGGREGATE_CONSTANT = re.compile(r"aggregate_type\s*=\s*(k[A-Za-z0-9_]+)\b")
CONSTANT = re.compile(r'\b(k[A-Za-z0-9_]+)\[\]\s*=\s*"([^"]*)"')
EVENT_TYPE = re.compile(r'"crm\.([a-z][a-z0-9_-]*)\.([a-z][a-z0-9_]*)\.[a-z][a-z0-9_.]*\.v1"')


def read_topics():
    """topics.txt as {topic: partitions}; fails on a malformed or repeated line."""
    topics = {}
    with open(TOPICS_FILE, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 2 or not TOPIC.match(parts[0]) or not parts[1].isdigit() or int(parts[1]) < 1:
                raise AssertionError("topics.txt:%d: want \"crm.<service>.<aggregate>.v1 <partitions>\": %r" % (n, line))
            if parts[0] in topics:
                raise AssertionError("topics.txt:%d: %s listed twice" % (n, parts[0]))
            topics[parts[0]] = int(parts[1])
    return topics


def is_test_source(path):
    name = os.path.basename(path)
    return (name.endswith("_test.cc") or name.endswith("_testing.h") or name.endswith("_testing.cc")
            or "/fuzz/" in path or "/testdata/" in path)


def sources(directory):
    out = []
    for ext in ("cc", "h"):
        out += [p for p in glob.glob(os.path.join(directory, "**", "*." + ext), recursive=True) if not is_test_source(p)]
    return sorted(out)


def published_topics():
    """{service: {topic: [where it was seen, ...]}} for every service with an OutboxWriter."""
    out = {}
    for directory in sorted(glob.glob(os.path.join(SOURCE, "services", "*", ""))):
        files = {p: open(p, encoding="utf-8").read() for p in sources(directory)}
        writers = {a or b for text in files.values() for a, b in WRITER.findall(text)}
        if not writers:
            continue
        constants = {name: value for text in files.values() for name, value in CONSTANT.findall(text)}
        service_dir = os.path.basename(os.path.dirname(directory))
        for header in glob.glob(os.path.join(SOURCE, "proto/crm", service_dir, "v1", "*event_types.h")):
            files[header] = open(header, encoding="utf-8").read()
        for service in writers:
            seen = out.setdefault(service, {})
            for path, text in files.items():
                where = os.path.relpath(path, SOURCE)
                aggregates = set(AGGREGATE_LITERAL.findall(text))
                for name in AGGREGATE_CONSTANT.findall(text):
                    if name not in constants:
                        raise AssertionError("%s: aggregate_type = %s, a constant this test cannot find" % (where, name))
                    aggregates.add(constants[name])
                for a in aggregates:
                    seen.setdefault("crm.%s.%s.v1" % (service, a), []).append(where + " (aggregate_type)")
                for s, a in EVENT_TYPE.findall(text):
                    if s == service:
                        seen.setdefault("crm.%s.%s.v1" % (s, a), []).append(where + " (event type)")
    return out


class Topics(unittest.TestCase):
    def test_every_published_topic_is_listed_and_every_listed_one_published(self):
        listed = read_topics()
        published = published_topics()
        # The services that publish today, each found with its writer: a scan that finds nothing proves
        # nothing.
        self.assertLessEqual({"identity", "deals", "robots", "mortgage", "dialogs", "telephony"}, set(published), published.keys())
        for service, topics in published.items():
            self.assertTrue(topics, "no topic found for %s's OutboxWriter" % service)
        missing = {t: w for topics in published.values() for t, w in topics.items() if t not in listed}
        self.assertEqual(missing, {}, "published but not in proto/crm/events/v1/topics.txt")
        every = {t for topics in published.values() for t in topics}
        stale = [t for t in listed if TOPIC.match(t).group(1) in published and t not in every]
        self.assertEqual(stale, [], "in topics.txt for a publishing service that publishes no such topic")

    def test_the_deals_products_topic_is_listed(self):
        # Issue 16: the catalogue's ProductUpserted events (crm.deals.product.created.v1 / updated.v1).
        self.assertIn("crm.deals.product.v1", published_topics()["deals"])
        self.assertIn("crm.deals.product.v1", read_topics())

    def test_the_dialogs_topics_are_found_and_listed(self):
        # Issue 18: dialogs' five topics, named in proto/crm/dialogs/v1/*event_types.h (the dialog's
        # messages, raw updates, outgoing messages' states, scenario changes, mailings).
        want = {"crm.dialogs.dialog.v1", "crm.dialogs.update.v1", "crm.dialogs.outgoing.v1", "crm.dialogs.scenario.v1",
                "crm.dialogs.mailing.v1"}
        self.assertEqual(set(published_topics()["dialogs"]), want)
        self.assertLessEqual(want, set(read_topics()))

    def test_the_telephony_request_topic_is_found_and_listed(self):
        # Issue 19, P4: the call-request queue's events, named in proto/crm/telephony/v1/request_event_types.h.
        self.assertIn("crm.telephony.request.v1", published_topics()["telephony"])
        self.assertIn("crm.telephony.request.v1", read_topics())

    def test_the_telephony_call_topic_is_found_and_listed(self):
        # Issue 19 (P1, P2): the calls part's events on crm.telephony.call.v1, named in
        # proto/crm/telephony/v1/event_types.h (started, answered, identified, finished — robots' trigger —,
        # recording). Other parts of telephony may add topics of their own.
        self.assertIn("crm.telephony.call.v1", published_topics()["telephony"])
        self.assertIn("crm.telephony.call.v1", read_topics())


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
