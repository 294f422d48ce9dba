#!/usr/bin/python3
"""smtp_sink: a fake SMTP server for tests (python3 standard library only).

It speaks a subset of RFC 5321 over plain TCP on 127.0.0.1 and stores every accepted message instead of
delivering it, so tests can send real SMTP with a real client (libcurl) and then look at what arrived.

Usage:
    /usr/bin/python3 tests/fakes/smtp_sink.py --dir DIR [--port PORT] [--fail-rcpt ADDR=CODE ...]
                                              [--fail-next-data N] [--max-size BYTES]

Options (a stable interface: unit and end-to-end tests depend on it):
    --dir DIR            where messages go; created if missing. Required.
    --port PORT          TCP port on 127.0.0.1; 0 (the default) picks a free one.
    --fail-rcpt ADDR=CODE
                         reply CODE (e.g. 550 = permanent, 451 = transient) to "RCPT TO:<ADDR>" (address
                         compared case-insensitively). Repeatable.
    --fail-next-data N   reply "451" to the next N DATA commands (over all connections), then accept
                         again: a staged transient failure.
    --max-size BYTES     refuse (552) a message larger than this after dot-unstuffing; default 10 MiB.

When ready it prints exactly one line on stdout (flushed):
    smtp_sink listening on 127.0.0.1:<port>
and then serves until killed (SIGTERM / SIGINT / SIGKILL; nothing needs cleaning up).

Output, for each accepted message (numbered 1, 2, ... in acceptance order):
    DIR/<n>.eml          the message content byte for byte as sent after dot-unstuffing (CRLF line ends as
                         the client sent them), without the terminating "." line.
    DIR/index.jsonl      one JSON object per line, appended after the .eml is complete:
                         {"n": 1, "mail_from": "a@x", "rcpt_to": ["b@y"], "size": 123, "file": "DIR/1.eml"}
                         ("file" is the absolute path). A reader may poll this file: a line appears only
                         after the message is fully written.

Protocol subset: a 220 greeting; EHLO (advertises 8BITMIME, SMTPUTF8, SIZE) and HELO; MAIL FROM:<..>
[params]; RCPT TO:<..> [params]; DATA (354, dot-unstuffing, 250 when stored); RSET; NOOP; QUIT (221).
Replies 503 to a command out of sequence (MAIL before HELO/EHLO, RCPT before MAIL, DATA before an
accepted RCPT, a second MAIL in one transaction), 501 to bad arguments and 500 to unknown commands or
over-long lines. A 451 on DATA ends the transaction (the client starts over with MAIL). STARTTLS and AUTH
are not offered.
"""

import argparse
import json
import os
import socketserver
import sys
import threading

MAX_LINE = 4096  # longer than RFC 5321's 1000 octets, to be lenient; longer lines get 500


class SinkState:
    """What all connections share: the counter, the failure plan and the output files."""

    def __init__(self, directory, fail_rcpt, fail_next_data, max_size):
        self.directory = os.path.abspath(directory)
        self.fail_rcpt = fail_rcpt  # lower-cased address -> int code
        self.fail_next_data = fail_next_data
        self.max_size = max_size
        self.lock = threading.Lock()
        self.count = 0

    def take_data_failure(self):
        with self.lock:
            if self.fail_next_data > 0:
                self.fail_next_data -= 1
                return True
            return False

    def store(self, mail_from, rcpt_to, content):
        with self.lock:
            self.count += 1
            n = self.count
            path = os.path.join(self.directory, "%d.eml" % n)
            with open(path, "wb") as f:
                f.write(content)
            line = json.dumps({"n": n, "mail_from": mail_from, "rcpt_to": rcpt_to,
                               "size": len(content), "file": path}, ensure_ascii=False)
            with open(os.path.join(self.directory, "index.jsonl"), "a", encoding="utf-8") as f:
                f.write(line + "\n")
            return n


def parse_path(arg, keyword):
    """Returns the address in 'FROM:<addr> params' (keyword 'FROM'), or None if malformed."""
    if not arg.upper().startswith(keyword + ":"):
        return None
    rest = arg[len(keyword) + 1:].strip()
    if not rest.startswith("<"):
        return None
    end = rest.find(">")
    if end < 0:
        return None
    return rest[1:end]


class SmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write((text + "\r\n").encode("utf-8"))
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return None
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            # Swallow the rest of the over-long line.
            while line and not line.endswith(b"\n"):
                line = self.rfile.readline(MAX_LINE + 1)
            return b""  # reported as an error by the caller
        return line

    def reset(self):
        self.mail_from = None
        self.rcpt_to = []

    def handle(self):
        state = self.server.sink
        self.greeted = False
        self.reset()
        self.reply("220 smtp_sink ESMTP ready")
        while True:
            raw = self.readline()
            if raw is None:
                return
            if raw == b"":
                self.reply("500 5.5.2 line too long")
                continue
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            arg = arg.strip()
            if verb == "EHLO" or verb == "HELO":
                if not arg:
                    self.reply("501 5.5.4 %s needs a domain" % verb)
                    continue
                self.greeted = True
                self.reset()
                if verb == "EHLO":
                    self.reply("250-smtp_sink greets %s" % arg)
                    self.reply("250-8BITMIME")
                    self.reply("250-SMTPUTF8")
                    self.reply("250 SIZE %d" % state.max_size)
                else:
                    self.reply("250 smtp_sink greets %s" % arg)
            elif verb == "MAIL":
                if not self.greeted:
                    self.reply("503 5.5.1 send HELO/EHLO first")
                elif self.mail_from is not None:
                    self.reply("503 5.5.1 nested MAIL command")
                else:
                    addr = parse_path(arg, "FROM")
                    if addr is None:
                        self.reply("501 5.5.4 syntax: MAIL FROM:<address>")
                    else:
                        self.mail_from = addr
                        self.reply("250 2.1.0 sender <%s> ok" % addr)
            elif verb == "RCPT":
                if self.mail_from is None:
                    self.reply("503 5.5.1 need MAIL before RCPT")
                    continue
                addr = parse_path(arg, "TO")
                if addr is None or not addr:
                    self.reply("501 5.5.4 syntax: RCPT TO:<address>")
                    continue
                code = state.fail_rcpt.get(addr.lower())
                if code is not None:
                    if 400 <= code < 500:
                        self.reply("%d 4.2.0 <%s>: mailbox busy, try again later (smtp_sink --fail-rcpt)"
                                   % (code, addr))
                    else:
                        self.reply("%d 5.1.1 <%s>: mailbox unavailable (smtp_sink --fail-rcpt)"
                                   % (code, addr))
                    continue
                self.rcpt_to.append(addr)
                self.reply("250 2.1.5 recipient <%s> ok" % addr)
            elif verb == "DATA":
                if arg:
                    self.reply("501 5.5.4 DATA takes no arguments")
                    continue
                if self.mail_from is None or not self.rcpt_to:
                    self.reply("503 5.5.1 need MAIL and RCPT before DATA")
                    continue
                if state.take_data_failure():
                    self.reset()
                    self.reply("451 4.3.0 temporary failure, try again later (smtp_sink --fail-next-data)")
                    continue
                self.reply("354 end data with <CR><LF>.<CR><LF>")
                content = self.read_data(state.max_size)
                if content is None:
                    return  # the client went away mid-message: nothing is stored
                if content is False:
                    self.reset()
                    self.reply("552 5.3.4 message too big")
                    continue
                n = state.store(self.mail_from, self.rcpt_to, content)
                self.reset()
                self.reply("250 2.0.0 ok: queued as %d" % n)
            elif verb == "RSET":
                self.reset()
                self.reply("250 2.0.0 reset")
            elif verb == "NOOP":
                self.reply("250 2.0.0 ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            elif verb == "VRFY":
                self.reply("252 2.1.5 cannot verify")
            else:
                self.reply("500 5.5.2 command not recognized")

    def read_data(self, max_size):
        """Reads the message up to the lone '.' line; bytes, False if too big, None on EOF."""
        parts = []
        size = 0
        too_big = False
        while True:
            line = self.rfile.readline(1 << 20)
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size > max_size:
                too_big = True
                parts = []
            if not too_big:
                parts.append(line)
        if too_big:
            return False
        return b"".join(parts)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def parse_fail_rcpt(values):
    out = {}
    for v in values:
        addr, sep, code = v.rpartition("=")
        if not sep or not addr or not code.isdigit() or not 400 <= int(code) <= 599:
            raise SystemExit("smtp_sink: --fail-rcpt wants ADDR=CODE with CODE 400..599, got %r" % v)
        out[addr.lower()] = int(code)
    return out


def main():
    p = argparse.ArgumentParser(description="A fake SMTP server that stores messages (see the docstring).")
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fail-rcpt", action="append", default=[])
    p.add_argument("--fail-next-data", type=int, default=0)
    p.add_argument("--max-size", type=int, default=10 * 1024 * 1024)
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    server = Server(("127.0.0.1", args.port), SmtpHandler)
    server.sink = SinkState(args.dir, parse_fail_rcpt(args.fail_rcpt), args.fail_next_data, args.max_size)
    print("smtp_sink listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
