#!/usr/bin/python3
"""ami_server: a fake Asterisk speaking the Asterisk Manager Interface, for tests and `tools/crm up`
(python3 stdlib only).

AMI over TCP as Asterisk 18+ speaks it: the greeting line "Asterisk Call Manager/5.0.2", then messages of
"Key: Value\\r\\n" lines ended by an empty line. Actions:
    Login (Username, Secret checked; Events: on|off) -> Success "Authentication accepted", then the event
          FullyBooted; a wrong secret -> Error "Authentication failed" and the connection is closed
    Ping, Events, Logoff (-> Goodbye, closed)
    CoreShowChannels -> Success + EventList: start, one CoreShowChannel per channel (ActionID echoed), then
          CoreShowChannelsComplete (EventList: Complete, ListItems)
    Originate (Channel PJSIP/<ext>, Context, Exten, Async) -> Success "Originate successfully queued"; then
          the employee's channel rings and answers, the number's channel is dialled and answers, both enter
          a bridge, and OriginateResponse (ActionID echoed) reports the first channel's Uniqueid
    Redirect (Channel, Exten) -> its bridged peers hang up and it is bridged with a new channel for Exten
    Bridge (Channel1, Channel2) -> both enter a new bridge
    Hangup (Channel) -> the channel and its bridged peers hang up (Cause 16 Normal Clearing)
Any other action -> Error "Invalid/unknown command". Before Login every action but Login -> Error
"Permission denied". Every action's ActionID is echoed. Events: Newchannel, DialBegin, DialEnd,
BridgeEnter, Hangup (Cause, Cause-txt), VarSet (MIXMONITOR_FILENAME for recorded calls), Cdr (with a
RecordingFile field as a cdr_manager.conf mapping adds), with Uniqueid / Linkedid / Channel /
CallerIDNum / Exten as Asterisk writes them (Uniqueid "<epoch>.<n>", Linkedid = the call's first Uniqueid).

Test control over HTTP, JSON in and out, under /_fake/ (a stable interface: tests depend on it):
    POST call     {"from", "extension", "did"?, "answer_after"?: 0.5, "answered"?: true, "ring"?: 1,
                   "talk"?: 2 (null: stays up until hung up), "record"?: false}
                  an inbound call from `from` on the company's number `did` to `extension`; its two
                  channels exist when the answer comes: {"linkedid", "legs": [caller, employee]}
    POST hangup   {"linkedid"}, {"uniqueid"} or {"all": true}   hang up a call, one channel (its bridged
                  peers too) or every channel
    POST burst    {"count", "extension"?, "from_prefix"?, "interval"?: 0, "talk"?: 0}   `count` inbound
                  calls (ring, answer, hang up after `talk` s; null: they stay up), one after another in the
                  background -> {"started", "first_linkedid"}; GET calls lists them
    POST drop     {"refuse"?: false}   close every AMI connection; with refuse, connections are closed
                  at once (before the greeting) until POST accept
    POST accept   take connections again
    POST mute     the open AMI connections go silent (no answers, no events) but stay open: a hung Asterisk
                  or a half-open link; new connections are served
    GET  actions  every action received: [{"action", "fields": {...}, "time"}] (Secret as "***")
    GET  channels the channels up now: [{"channel", "uniqueid", "linkedid", "state", "bridge"}]
    GET  calls    every call made: [{"linkedid", "legs", "ended"}]
    GET  state    {"connections", "sessions", "logged_in", "logins_ok", "logins_failed", "refusing"}
    POST reset    forget channels, calls and actions (sessions stay)
When ready it prints exactly one line on stdout (flushed):
    ami_server listening on 127.0.0.1:<ami port> http 127.0.0.1:<http port>
Usage: /usr/bin/python3 tests/fakes/ami_server.py [--port P] [--http-port P] [--username U] [--secret S]
(ports 0, the default, pick free ones; username "crm", secret "crm-secret" by default)
"""

import argparse
import http.server
import json
import socket
import socketserver
import sys
import threading
import time

GREETING = b"Asterisk Call Manager/5.0.2\r\n"
STATE_CODES = {"Down": 0, "Ring": 4, "Ringing": 5, "Up": 6}
CAUSES = {16: "Normal Clearing", 17: "User busy", 19: "User alerting, no answer"}


def encode(fields):
    return "".join("%s: %s\r\n" % (k, v) for k, v in fields).encode() + b"\r\n"


class Session:
    def __init__(self, sock):
        self.sock = sock
        self.logged_in = False
        self.events = True
        self.wlock = threading.Lock()
        self.closed = False
        self.muted = False  # a hung Asterisk: the connection stays open, nothing comes back

    def send(self, fields):
        with self.wlock:
            if self.closed or self.muted:
                return
            try:
                self.sock.sendall(encode(fields))
            except OSError:
                self.closed = True

    def close(self):
        with self.wlock:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


class Pbx:
    def __init__(self, username, secret):
        self.username = username
        self.secret = secret
        self.lock = threading.RLock()   # one lock: events reach every session in one order
        self.sessions = []
        self.refusing = False
        self.connections = 0
        self.logins_ok = 0
        self.logins_failed = 0
        self.base = int(time.time())
        self.seq = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.channels = {}   # uniqueid -> channel dict, in creation order
            self.calls = []      # {"linkedid", "legs", "ended"}
            self.actions = []
            self.bridges = 0

    # --- events ---
    def emit(self, name, fields):
        with self.lock:
            msg = [("Event", name), ("Privilege", "call,all")] + fields
            for s in list(self.sessions):
                if s.logged_in and s.events:
                    s.send(msg)

    @staticmethod
    def chan_fields(c, prefix=""):
        return [(prefix + "Channel", c["channel"]), (prefix + "ChannelState", STATE_CODES.get(c["state"], 0)),
                (prefix + "ChannelStateDesc", c["state"]), (prefix + "CallerIDNum", c["callerid"] or "<unknown>"),
                (prefix + "CallerIDName", "<unknown>"), (prefix + "ConnectedLineNum", "<unknown>"),
                (prefix + "ConnectedLineName", "<unknown>"), (prefix + "Language", "en"),
                (prefix + "AccountCode", ""), (prefix + "Context", c["context"]), (prefix + "Exten", c["exten"]),
                (prefix + "Priority", "1"), (prefix + "Uniqueid", c["uniqueid"]),
                (prefix + "Linkedid", c["linkedid"])]

    def new_channel(self, name, callerid, exten, context, linkedid=None, state="Ring"):
        with self.lock:
            self.seq += 1
            uid = "%d.%d" % (self.base, self.seq)
            c = {"channel": "%s-%08x" % (name, self.seq), "uniqueid": uid, "linkedid": linkedid or uid,
                 "callerid": callerid, "exten": exten, "context": context, "state": state, "bridge": ""}
            self.channels[uid] = c
            if linkedid is None:
                self.calls.append({"linkedid": uid, "legs": [uid], "ended": False})
            else:
                for call in self.calls:
                    if call["linkedid"] == linkedid:
                        call["legs"].append(uid)
            self.emit("Newchannel", self.chan_fields(c))
            return c

    def dial(self, a, b, status=None):
        with self.lock:
            fields = self.chan_fields(a) + self.chan_fields(b, "Dest")
            if status is None:
                self.emit("DialBegin", fields + [("DialString", b["channel"].rsplit("-", 1)[0])])
            else:
                self.emit("DialEnd", fields + [("DialStatus", status)])

    def bridge(self, chans):
        with self.lock:
            self.bridges += 1
            bid = "bridge-%d-%d" % (self.base, self.bridges)
            for c in chans:
                if c["uniqueid"] not in self.channels:
                    continue
                c["state"] = "Up"
                c["bridge"] = bid
                self.emit("BridgeEnter", [("BridgeUniqueid", bid), ("BridgeType", "basic"),
                                          ("BridgeTechnology", "simple_bridge"), ("BridgeCreator", "<unknown>"),
                                          ("BridgeName", "<unknown>"), ("BridgeNumChannels", "2"),
                                          ("BridgeVideoSourceMode", "none")] + self.chan_fields(c))
            return bid

    def hangup(self, c, cause=16, peers=True):
        with self.lock:
            if c["uniqueid"] not in self.channels:
                return
            del self.channels[c["uniqueid"]]
            self.emit("Hangup", self.chan_fields(c) + [("Cause", str(cause)), ("Cause-txt", CAUSES.get(cause, ""))])
            if peers and c["bridge"]:
                for other in [o for o in self.channels.values() if o["bridge"] == c["bridge"]]:
                    self.hangup(other, cause, peers=False)
            self.finish_calls()

    def finish_calls(self):
        for call in self.calls:
            if not call["ended"] and not any(u in self.channels for u in call["legs"]):
                call["ended"] = True
                first = call["legs"][0]
                self.emit("Cdr", [("AccountCode", ""), ("Source", call.get("from", "")),
                                  ("Destination", call.get("to", "")), ("DestinationContext", "from-trunk"),
                                  ("Channel", call.get("channel", "")), ("UniqueID", first),
                                  ("Disposition", "ANSWERED" if call.get("answered") else "NO ANSWER"),
                                  ("UserField", ""), ("RecordingFile", call.get("recording", ""))])

    def call_of(self, linkedid):
        for call in self.calls:
            if call["linkedid"] == linkedid:
                return call
        return None

    # --- scripts ---
    def inbound(self, p):
        a = self.new_channel("PJSIP/trunk", p["from"], p.get("did", "74950000000"), "from-trunk")
        b = self.new_channel("PJSIP/%s" % p["extension"], p["extension"], "s", "from-internal", a["linkedid"])
        call = self.call_of(a["linkedid"])
        call.update({"from": p["from"], "to": p["extension"], "channel": a["channel"]})
        self.dial(a, b)
        if p.get("background", True):
            threading.Thread(target=self.inbound_rest, args=(a, b, call, p), daemon=True).start()
        else:
            self.inbound_rest(a, b, call, p)
        return {"linkedid": a["linkedid"], "legs": [a["uniqueid"], b["uniqueid"]]}

    def inbound_rest(self, a, b, call, p):
        if not p.get("answered", True):
            time.sleep(float(p.get("ring", 1)))
            with self.lock:
                if b["uniqueid"] in self.channels:
                    self.dial(a, b, "NOANSWER")
                    self.hangup(b, 19)
                self.hangup(a, 16)
            return
        time.sleep(float(p.get("answer_after", 0.5)))
        with self.lock:
            if b["uniqueid"] not in self.channels or a["uniqueid"] not in self.channels:
                return
            self.dial(a, b, "ANSWER")
            self.bridge([a, b])
            call["answered"] = True
            if p.get("record"):
                path = "/var/spool/asterisk/monitor/%s.wav" % a["uniqueid"]
                call["recording"] = path.rsplit("/", 1)[1]
                self.emit("VarSet", self.chan_fields(a) + [("Variable", "MIXMONITOR_FILENAME"), ("Value", path)])
        talk = p.get("talk", 2)
        if talk is None:
            return
        time.sleep(float(talk))
        with self.lock:
            self.hangup(b, 16)
            self.hangup(a, 16)

    def originate(self, fields, action_id):
        ext = fields.get("Channel", "").split("/", 1)[-1]
        number = fields.get("Exten", "")
        a = self.new_channel("PJSIP/%s" % ext, ext, number, fields.get("Context", "from-internal"), state="Down")
        time.sleep(0.2)
        with self.lock:
            if a["uniqueid"] not in self.channels:
                return
            a["state"] = "Up"
            b = self.new_channel("PJSIP/trunk", fields.get("CallerID", ext), number, "from-internal", a["linkedid"])
            call = self.call_of(a["linkedid"])
            call.update({"from": ext, "to": number, "channel": a["channel"]})
            self.dial(a, b)
        time.sleep(0.2)
        with self.lock:
            if b["uniqueid"] not in self.channels:
                return
            self.dial(a, b, "ANSWER")
            self.bridge([a, b])
            call["answered"] = True
            self.emit("OriginateResponse", [("ActionID", action_id), ("Response", "Success"),
                                            ("Channel", a["channel"]), ("Context", fields.get("Context", "")),
                                            ("Exten", number), ("Reason", "4"), ("Uniqueid", a["uniqueid"]),
                                            ("CallerIDNum", ext), ("CallerIDName", "<unknown>")])

    def find(self, name):
        for c in self.channels.values():
            if c["channel"] == name:
                return c
        return None

    # --- actions ---
    def action(self, s, m):
        name = m.get("action", "")
        aid = m.get("actionid")
        rec = {k: ("***" if k == "secret" else v) for k, v in m.items()}
        with self.lock:
            self.actions.append({"action": name, "fields": rec, "time": time.time()})

        def reply(status, message=None, extra=()):
            fields = [("Response", status)]
            if aid is not None:
                fields.append(("ActionID", aid))
            fields += list(extra)
            if message is not None:
                fields.append(("Message", message))
            s.send(fields)

        lname = name.lower()
        if lname == "login":
            if m.get("username") == self.username and m.get("secret") == self.secret:
                with self.lock:
                    self.logins_ok += 1
                    s.events = m.get("events", "on").lower() not in ("off", "no")
                    reply("Success", "Authentication accepted")
                    s.logged_in = True
                    if s.events:
                        s.send([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "100"),
                                ("LastReload", "100"), ("Status", "Fully Booted")])
            else:
                with self.lock:
                    self.logins_failed += 1
                reply("Error", "Authentication failed")
                return False
            return True
        if not s.logged_in:
            reply("Error", "Permission denied")
            return True
        if lname == "ping":
            reply("Success", None, [("Ping", "Pong"), ("Timestamp", "%.6f" % time.time())])
        elif lname == "events":
            s.events = m.get("eventmask", "on").lower() not in ("off", "no")
            reply("Success", None, [("Events", "On" if s.events else "Off")])
        elif lname == "logoff":
            reply("Goodbye", "Thanks for all the fish.")
            return False
        elif lname == "coreshowchannels":
            with self.lock:
                reply("Success", "Channels will follow", [("EventList", "start")])
                chans = list(self.channels.values())
                for c in chans:
                    f = [("Event", "CoreShowChannel")]
                    if aid is not None:
                        f.append(("ActionID", aid))
                    s.send(f + self.chan_fields(c) + [("BridgeId", c["bridge"]), ("Application", "Dial"),
                                                      ("ApplicationData", ""), ("Duration", "00:00:01")])
                f = [("Event", "CoreShowChannelsComplete")]
                if aid is not None:
                    f.append(("ActionID", aid))
                s.send(f + [("EventList", "Complete"), ("ListItems", str(len(chans)))])
        elif lname == "originate":
            if not m.get("channel") or not m.get("exten"):
                reply("Error", "Channel not specified" if not m.get("channel") else "Exten not specified")
            else:
                reply("Success", "Originate successfully queued")
                fields = {"Channel": m.get("channel"), "Exten": m.get("exten"), "Context": m.get("context", ""),
                          "CallerID": m.get("callerid")}
                threading.Thread(target=self.originate, args=(fields, aid or ""), daemon=True).start()
        elif lname == "redirect":
            with self.lock:
                c = self.find(m.get("channel", ""))
                if c is None:
                    reply("Error", "Channel specified does not exist")
                else:
                    reply("Success", "Redirect successful")
                    for other in [o for o in self.channels.values() if c["bridge"] and o["bridge"] == c["bridge"]
                                  and o is not c]:
                        self.hangup(other, 16, peers=False)
                    c["bridge"] = ""
                    c["exten"] = m.get("exten", "")
                    t = self.new_channel("PJSIP/%s" % m.get("exten", ""), m.get("exten", ""), "s",
                                         "from-internal", c["linkedid"])
                    self.dial(c, t)
                    self.dial(c, t, "ANSWER")
                    self.bridge([c, t])
        elif lname == "bridge":
            with self.lock:
                c1, c2 = self.find(m.get("channel1", "")), self.find(m.get("channel2", ""))
                if c1 is None or c2 is None:
                    reply("Error", "Channel%d does not exist: %s" % ((1, m.get("channel1")) if c1 is None
                                                                    else (2, m.get("channel2"))))
                else:
                    reply("Success", "Channels have been bridged")
                    self.bridge([c1, c2])
        elif lname == "hangup":
            with self.lock:
                c = self.find(m.get("channel", ""))
                if c is None:
                    reply("Error", "No such channel")
                else:
                    reply("Success", "Channel Hungup")
                    self.hangup(c, 16)
        else:
            reply("Error", "Invalid/unknown command")
        return True


PBX = None


class AmiHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        with PBX.lock:
            PBX.connections += 1
            if PBX.refusing:
                sock.close()
                return
            s = Session(sock)
            PBX.sessions.append(s)
        try:
            with s.wlock:
                sock.sendall(GREETING)
            buf = b""
            current = {}
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    line = line.rstrip(b"\r").decode("utf-8", "replace")
                    if line == "":
                        if current and s.muted:
                            current = {}
                        if current:
                            keep = PBX.action(s, current)
                            current = {}
                            if not keep:
                                return
                        continue
                    k, _, v = line.partition(":")
                    current[k.strip().lower()] = v.strip()
        except OSError:
            return
        finally:
            with PBX.lock:
                if s in PBX.sessions:
                    PBX.sessions.remove(s)
            s.close()


class AmiServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def control(method, action, p):
    if method == "POST" and action == "call":
        return 200, PBX.inbound(p)
    if method == "POST" and action == "hangup":
        with PBX.lock:
            if p.get("all"):
                targets = list(PBX.channels.values())
            elif "uniqueid" in p:
                targets = [PBX.channels[p["uniqueid"]]] if p["uniqueid"] in PBX.channels else []
            else:
                targets = [c for c in PBX.channels.values() if c["linkedid"] == p["linkedid"]]
            for c in targets:
                PBX.hangup(c, 16)
        return 200, {"hung_up": len(targets)}
    if method == "POST" and action == "burst":
        count = int(p["count"])
        interval = float(p.get("interval", 0))
        ids = []
        done = threading.Event()

        def run():
            for i in range(count):
                q = {"from": "%s%04d" % (p.get("from_prefix", "7999100"), i), "extension": p.get("extension", "101"),
                     "answer_after": 0, "talk": p.get("talk", 0), "background": False}
                ids.append(PBX.inbound(q)["linkedid"])
                if i == 0:
                    done.set()
                if interval:
                    time.sleep(interval)
            done.set()

        threading.Thread(target=run, daemon=True).start()
        done.wait(10)
        return 200, {"started": count, "first_linkedid": ids[0] if ids else ""}
    if method == "POST" and action == "drop":
        with PBX.lock:
            PBX.refusing = bool(p.get("refuse", False))
            sessions = list(PBX.sessions)
            PBX.sessions = []
        for s in sessions:
            s.close()
        return 200, {"dropped": len(sessions)}
    if method == "POST" and action == "mute":
        with PBX.lock:
            for s in PBX.sessions:
                s.muted = True
            return 200, {"muted": len(PBX.sessions)}
    if method == "POST" and action == "accept":
        with PBX.lock:
            PBX.refusing = False
        return 200, {}
    if method == "POST" and action == "reset":
        PBX.reset()
        return 200, {}
    if method == "GET" and action == "actions":
        with PBX.lock:
            return 200, list(PBX.actions)
    if method == "GET" and action == "channels":
        with PBX.lock:
            return 200, [{k: c[k] for k in ("channel", "uniqueid", "linkedid", "state", "bridge")}
                         for c in PBX.channels.values()]
    if method == "GET" and action == "calls":
        with PBX.lock:
            return 200, [{"linkedid": c["linkedid"], "legs": list(c["legs"]), "ended": c["ended"]} for c in PBX.calls]
    if method == "GET" and action == "state":
        with PBX.lock:
            return 200, {"connections": PBX.connections, "sessions": len(PBX.sessions),
                         "logged_in": sum(1 for s in PBX.sessions if s.logged_in), "logins_ok": PBX.logins_ok,
                         "logins_failed": PBX.logins_failed, "refusing": PBX.refusing}
    return 404, {"error": "unknown control %s %s" % (method, action)}


class HttpHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests read stdout
        pass

    def reply(self, code, body):
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            p = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return self.reply(400, {"error": "the body is not JSON"})
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) != 2 or parts[0] != "_fake":
            return self.reply(404, {"error": "not found"})
        try:
            return self.reply(*control(self.command, parts[1], p))
        except (KeyError, ValueError, TypeError) as e:
            return self.reply(400, {"error": "bad control request: %s" % e})

    do_GET = handle_any
    do_POST = handle_any


def main():
    global PBX
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--username", default="crm")
    ap.add_argument("--secret", default="crm-secret")
    args = ap.parse_args()
    PBX = Pbx(args.username, args.secret)
    ami = AmiServer(("127.0.0.1", args.port), AmiHandler)
    web = http.server.ThreadingHTTPServer(("127.0.0.1", args.http_port), HttpHandler)
    web.daemon_threads = True
    threading.Thread(target=ami.serve_forever, daemon=True).start()
    print("ami_server listening on 127.0.0.1:%d http 127.0.0.1:%d" % (ami.server_address[1], web.server_address[1]),
          flush=True)
    web.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
