"""Notifications through real peers: an SMTP server (aiosmtpd) receives
the mail of a new incident, a local HTTP receiver stands in for a
generic webhook, Slack and PagerDuty and records their calls, a receiver
that fails is retried and lands in the dead letter, and an alert storm on
one incident sends one message per channel."""
import email
import http.server
import json
import socket
import threading
import time

from aiosmtpd.controller import Controller

from conftest import Server, wait_for
from test_triage import TRIAGE, call, send_scenario


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content)))
        return "250 OK"


class Receiver(http.server.ThreadingHTTPServer):
    """Records every POST by path; `/fail` answers 503, `/hang` answers
    nothing until the test ends."""

    def __init__(self):
        self.calls = []
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.calls.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                if self.path == "/hang":
                    outer.release.wait(60)
                status = 503 if self.path == "/fail" else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def at(self, path):
        return [c for c in self.calls if c[0] == path]


def test_incidents_ring_every_channel_and_failures_land_in_the_dead_letter(tmp_path):
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(box, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    receiver = Receiver()
    try:
        config = f"""
[triage]
sla_check_seconds = 1
[notify]
console_url = "https://soc.example"
retry_first = "200ms"
attempts = 3
timeout = "10s"
[[notify.channels]]
name = "mail"
kind = "email"
server = "127.0.0.1:{smtp_port}"
from = "hinomi@soc.example"
to = ["oncall@soc.example"]
starttls = "never"
[[notify.channels]]
name = "hook"
kind = "webhook"
url = "{receiver.url('/hook')}"
body = {{ text = "{{{{title}}}} ({{{{severity}}}})", incident = "{{{{incident}}}}" }}
[[notify.channels]]
name = "slack"
kind = "slack"
url_env = "TEST_SLACK_URL"
[[notify.channels]]
name = "pd"
kind = "pagerduty"
url = "{receiver.url('/pd')}"
routing_key_env = "TEST_PD_KEY"
[[notify.channels]]
name = "broken"
kind = "webhook"
url = "{receiver.url('/fail')}"
[[notify.channels]]
name = "slow"
kind = "webhook"
url = "{receiver.url('/hang')}"
[[notify.routes]]
triggers = ["incident_opened", "incident_raised"]
min_severity = "high"
channels = ["slow", "mail", "hook", "slack", "pd", "broken"]
"""
        env = {"TEST_SLACK_URL": receiver.url("/slack"), "TEST_PD_KEY": "pd-secret-key"}
        server = Server(tmp_path / "data", config, rules=TRIAGE / "rules", extra_env=env).start()
        try:
            send_scenario(server)
            incidents = wait_for(
                lambda: (l := call(server, "GET", "/api/v1/incidents", server.read_token)[1]["incidents"])
                and len(l) == 2 and l, what="two incidents")
            alice = next(i for i in incidents if any(e["value"] == "alice" for e in i["entities"]))
            assert alice["severity"] == "high"
            # A receiver that hangs holds one sender; the others go on.
            wait_for(lambda: receiver.at("/hang"), 30, "the hanging receiver called")
            mails = wait_for(lambda: box.messages, 30, "a mail at the SMTP server")
            sender, rcpts, msg = mails[0]
            assert (sender, rcpts) == ("hinomi@soc.example", ["oncall@soc.example"])
            assert msg["Subject"].startswith(f"[Hinomi] HIGH New incident #{alice['id']}:"), msg["Subject"]
            body = msg.get_payload(decode=True).decode()
            assert f"Open: https://soc.example/ui/default/incidents/{alice['id']}" in body and "alice" in body

            hook = wait_for(lambda: receiver.at("/hook"), 30, "the webhook")
            assert hook[0][2] == {"text": f"{alice['title']} (high)", "incident": alice["id"]}
            assert hook[0][1]["idempotency-key"] == f"default:incident:{alice['id']}:incident_opened:high"
            slack = wait_for(lambda: receiver.at("/slack"), 30, "the Slack call")
            assert slack[0][2]["text"].startswith("[Hinomi] HIGH")
            pd = wait_for(lambda: receiver.at("/pd"), 30, "the PagerDuty call")
            assert pd[0][2]["routing_key"] == "pd-secret-key"
            assert pd[0][2]["dedup_key"] == f"hinomi:default:incident:{alice['id']}"

            # The broken receiver is tried three times, then the delivery
            # is dead, listed, and on the incident's timeline.
            admin = server.token("admin")
            dead = wait_for(lambda: call(server, "GET", "/api/v1/deliveries?status=dead", admin)[1]["deliveries"],
                            30, "a dead delivery")
            assert dead[0]["channel"] == "broken" and dead[0]["attempts"] == 3, dead
            assert "503" in dead[0]["last_error"]
            assert len(receiver.at("/fail")) == 3
            # The hanging receiver was still hanging while all that was sent.
            admin_list = call(server, "GET", "/api/v1/deliveries", admin)[1]["deliveries"]
            slow = [d for d in admin_list if d["channel"] == "slow"]
            assert slow and slow[0]["status"] == "pending", slow
            # Then its send times out and is tried again.
            timed_out = wait_for(lambda: [d for d in call(server, "GET", "/api/v1/deliveries", admin)[1]["deliveries"]
                                          if d["channel"] == "slow" and d["last_error"]], 30, "the send timing out")
            assert "posting to 127.0.0.1" in timed_out[0]["last_error"], timed_out
            timeline = call(server, "GET", f"/api/v1/incidents/{alice['id']}/timeline", server.read_token)[1]
            kinds = [e["what"] for e in timeline if e["kind"] == "action"]
            assert "notified" in kinds and "notify_failed" in kinds, kinds
            # The secret never reaches the log or the API.
            assert "pd-secret-key" not in server.log.read_text()
            assert "pd-secret-key" not in json.dumps(call(server, "GET", "/api/v1/deliveries", admin)[1])

            # An alert storm on alice's incident: no more messages.
            before = len(box.messages)
            send_scenario(server)
            time.sleep(3)
            assert len(box.messages) == before
        finally:
            server.kill()
    finally:
        receiver.release.set()
        smtp.stop()
        receiver.shutdown()
