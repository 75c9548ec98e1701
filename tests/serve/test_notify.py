"""Notifications through real peers: an SMTP server (aiosmtpd) receives
the mail of a new incident, a local HTTP receiver stands in for a
generic webhook, Slack and PagerDuty and records their calls, a receiver
that fails is retried and lands in the dead letter, and an alert storm on
one incident sends one message per channel."""
import email
import http.server
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from aiosmtpd.controller import Controller

from conftest import Server, wait_for
from test_triage import TRIAGE, call, send_scenario


class Mailbox:
    def __init__(self):
        self.messages = []
        self.timed = []

    async def handle_DATA(self, server, session, envelope):
        message = (envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content))
        self.messages.append(message)
        self.timed.append((time.monotonic(), message))
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
                outer.calls.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(body) if body else None))
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


def smtp_server():
    """An aiosmtpd server on a free loopback port, and its mailbox."""
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    return box, smtp, port


def form(server, path, fields):
    """POSTs a form without a session, as a browser opening a mailed link does."""
    req = urllib.request.Request(server.http + path, data=urllib.parse.urlencode(fields).encode(), method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_on_call_pages_escalate_until_the_mailed_link_is_used(tmp_path):
    """The critical demo incident pages the person on call by mail; with
    no acknowledgement the next person is paged after the configured
    delay; the link in the mail stops the chain before the lead."""
    box, smtp, smtp_port = smtp_server()
    delay = 6
    today = time.strftime("%Y-%m-%d", time.gmtime())
    config = f"""
[notify]
console_url = "https://soc.example"
[[notify.channels]]
name = "mail"
kind = "email"
server = "127.0.0.1:{smtp_port}"
from = "hinomi@soc.example"
to = ["soc@soc.example"]
starttls = "never"
[[notify.rotas]]
name = "tier1"
tenant = "demo"
time_zone = "UTC"
handover = "00:00"
shift_days = 1
start = "{today}"
people = [{{ name = "aiko", email = "aiko@soc.example" }}, {{ name = "ben", email = "ben@soc.example" }}]
lead = {{ name = "dana", email = "dana@soc.example" }}
escalate_after = "{delay}s"
channel = "mail"
min_severity = "critical"
"""
    server = Server(tmp_path / "data", config, args=["--demo"]).start()
    try:
        read = server.token("read", tenant="demo")
        incidents = wait_for(lambda: [i for i in call(server, "GET", "/api/v1/incidents", read)[1]["incidents"]
                                      if i["severity"] == "critical"], 60, "the critical demo incident")
        assert len(incidents) == 1, incidents
        critical = incidents[0]

        def to(person):
            return [(when, m) for when, (_, rcpts, m) in box.timed if rcpts == [f"{person}@soc.example"]]

        # Today's shift is aiko's: she is paged first, alone.
        first = wait_for(lambda: to("aiko"), 60, "aiko's page")
        paged_at, mail = first[0]
        assert mail["Subject"].startswith(f"[PAGE] [Hinomi] CRITICAL New incident #{critical['id']}:"), mail["Subject"]
        body = mail.get_payload(decode=True).decode()
        assert "aiko, you are paged as on call for tier1 (1 of 3)" in body, body
        link = re.search(r"Acknowledge: https://soc\.example(/ui/ack\?t=(\S+)) ", body)
        assert link, body
        path, token = link.group(1), link.group(2)
        # Nobody acknowledges: ben is paged after the delay, not before.
        second = wait_for(lambda: to("ben"), delay + 30, "ben's page")
        assert second[0][0] - paged_at >= delay - 1, (second[0][0], paged_at)
        # Opening the link only asks (mail scanners open links too).
        with urllib.request.urlopen(server.http + path, timeout=10) as resp:
            assert resp.status == 200 and 'name="t"' in resp.read().decode()
        pages = call(server, "GET", f"/api/v1/pages?incident={critical['id']}", read)[1]["pages"]
        assert {p["person"]: p["status"] for p in pages}["dana"] == "pending", pages
        # The link's button: acknowledged, the chain stops before dana.
        status, answer = form(server, "/ui/ack", {"t": token})
        assert status == 200 and 'id="ack-outcome"' in answer, answer
        time.sleep(delay + 3)
        assert not to("dana"), "the lead was paged after the acknowledgement"
        pages = call(server, "GET", f"/api/v1/pages?incident={critical['id']}", read)[1]["pages"]
        assert {p["person"]: p["status"] for p in pages} == {"aiko": "sent", "ben": "sent", "dana": "stopped"}, pages
        # The incident is taken up in aiko's name; its timeline tells it.
        now = call(server, "GET", f"/api/v1/incidents/{critical['id']}", read)[1]["incident"]
        assert now["status"] == "acknowledged", now
        timeline = call(server, "GET", f"/api/v1/incidents/{critical['id']}/timeline", read)[1]
        said = [(e["what"], e["actor"]) for e in timeline if e["kind"] == "action"]
        assert ("page_acknowledged", "aiko") in said and ("status", "aiko (on call)") in said, said
        assert [w for w, _ in said].count("paged") == 2, said
        # Single use; a forged token does nothing.
        status, answer = form(server, "/ui/ack", {"t": token})
        assert status == 409 and "aiko" in answer, answer
        page_id, until, mac = token.split(".")
        forged = f"{page_id}.{int(until) + 3600}.{mac}"
        assert form(server, "/ui/ack", {"t": forged})[0] == 404
        # Nothing in the team's mailbox: the rota's pages go to people only.
        assert all(rcpts != ["soc@soc.example"] for _, rcpts, _ in box.messages)
    finally:
        server.kill()
        smtp.stop()


def test_an_alert_storm_on_one_incident_sends_one_message(tmp_path):
    """10,000 failed logons of one account on one host: one incident, one
    mail, however many alerts pile onto it."""
    from elasticsearch import Elasticsearch, helpers

    box, smtp, smtp_port = smtp_server()
    try:
        # The engine's own cap on one rule's alerts is raised past the
        # storm: every detection reaches triage and the outbox.
        config = f"""
[engine]
rule_alerts = 20000
[notify]
[[notify.channels]]
name = "mail"
kind = "email"
server = "127.0.0.1:{smtp_port}"
from = "hinomi@soc.example"
to = ["soc@soc.example"]
starttls = "never"
[[notify.routes]]
channels = ["mail"]
"""
        server = Server(tmp_path / "data", config, rules=TRIAGE / "rules").start()
        try:
            es = Elasticsearch(server.http, api_key=server.ingest_token, request_timeout=60)
            base = {"Channel": "Security", "Computer": "WS-042.corp.example",
                    "Provider_Name": "Microsoft-Windows-Security-Auditing", "EventID": 4625, "LogonType": 3,
                    "TargetUserName": "alice", "IpAddress": "203.0.113.7", "Status": "0xc000006d"}
            docs = ({"_index": "winlogbeat", "_source": dict(base, EventTime=f"2026-11-20T01:{i // 600 % 60:02d}:{i // 10 % 60:02d}.{i % 10}00Z")}
                    for i in range(10_000))
            ok, _ = helpers.bulk(es, docs, chunk_size=2000)
            assert ok == 10_000

            def storm():
                incidents = call(server, "GET", "/api/v1/incidents", server.read_token)[1]["incidents"]
                counted = sum(a["count"] for i in incidents
                              for a in call(server, "GET", f"/api/v1/incidents/{i['id']}", server.read_token)[1]["alerts"])
                return counted >= 10_000 and incidents
            incidents = wait_for(storm, 120, "10,000 detections triaged")
            assert len(incidents) == 1, [(i["id"], i["title"]) for i in incidents]
            wait_for(lambda: box.messages, 30, "the mail")
            time.sleep(3)
            subjects = [m["Subject"] for _, _, m in box.messages]
            assert len(subjects) == 1, subjects
        finally:
            server.kill()
    finally:
        smtp.stop()


def test_a_lead_routes_the_tenants_notifications_in_the_console(tmp_path):
    """No route in the configuration: a lead adds one on the settings page
    (new incidents to the mail channel), and the next incident is mailed;
    a channel the operator did not configure is refused."""
    from test_console import Browser, add_user

    box, smtp, smtp_port = smtp_server()
    try:
        config = f"""
[notify]
[[notify.channels]]
name = "mail"
kind = "email"
server = "127.0.0.1:{smtp_port}"
from = "hinomi@soc.example"
to = ["soc@soc.example"]
starttls = "never"
"""
        server = Server(tmp_path / "data", config, rules=TRIAGE / "rules").start()
        try:
            add_user(server, "lena", "default", "lead")
            b = Browser(server)
            assert b.login("lena")[0] == 303
            token = b.csrf("default")
            form = {"csrf": token, "action": "route_add", "trigger": ["incident_opened"], "channel": ["elsewhere"],
                    "min_severity": "low", "quiet_below": ""}
            status, _, body = b.post("/ui/default/settings/config", form)
            assert status == 400 and "not configured" in body, (status, body[:200])
            status, _, _ = b.post("/ui/default/settings/config", dict(form, channel=["mail"]))
            assert status == 303
            page = b.get("/ui/default/settings")[2]
            assert "incident_opened" in page and "<td>mail</td>" in page, page
            # The bell reads tenants' routes every few seconds.
            time.sleep(6)
            send_scenario(server)
            mails = wait_for(lambda: box.messages, 30, "the mail the route asked for")
            assert mails[0][2]["Subject"].startswith("[Hinomi] "), mails[0][2]["Subject"]
            audit = [e["action"] for e in call(server, "GET", "/api/v1/audit", server.token("lead"))[1]["entries"]]
            assert "notify.route_add" in audit, audit
        finally:
            server.kill()
    finally:
        smtp.stop()


def test_a_channel_keeps_its_pace(tmp_path):
    """`max_per_minute = 60`: twelve new incidents at once go out as a
    burst of six, then one a second; none is lost."""
    from elasticsearch import Elasticsearch, helpers

    box, smtp, smtp_port = smtp_server()
    try:
        config = f"""
[notify]
[[notify.channels]]
name = "mail"
kind = "email"
server = "127.0.0.1:{smtp_port}"
from = "hinomi@soc.example"
to = ["soc@soc.example"]
starttls = "never"
max_per_minute = 60
[[notify.routes]]
channels = ["mail"]
triggers = ["incident_opened"]
"""
        server = Server(tmp_path / "data", config, rules=TRIAGE / "rules").start()
        try:
            es = Elasticsearch(server.http, api_key=server.ingest_token, request_timeout=60)
            docs = ({"_index": "winlogbeat", "_source": {
                "EventTime": "2026-11-20T01:00:00Z", "Channel": "Security", "Computer": f"ws-{i}.corp.example",
                "Provider_Name": "Microsoft-Windows-Security-Auditing", "EventID": 4625, "LogonType": 3,
                "TargetUserName": f"user{i}", "IpAddress": f"10.9.0.{i}", "Status": "0xc000006d"}} for i in range(12))
            assert helpers.bulk(es, docs)[0] == 12
            wait_for(lambda: len(box.timed) == 12, 60, "twelve mails")
            times = sorted(t for t, _ in box.timed)
            assert times[5] - times[0] < 2, times
            assert times[-1] - times[0] >= 4.5, [round(t - times[0], 2) for t in times]
            time.sleep(2)
            assert len(box.timed) == 12
        finally:
            server.kill()
    finally:
        smtp.stop()
