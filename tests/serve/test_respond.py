"""Response playbooks through real parts: an allow-listed command changes
an nftables set inside a network namespace the test creates (and its
rollback removes the address), a local HTTP receiver stands in for the EDR
and the ticket system, the authority policy holds on the API (an analyst
cannot act, a destructive action needs two different responders, nobody
approves their own run), and a request left unanswered expires and pages
the person on call at a real SMTP server."""
import json
import os
import subprocess
import time

from conftest import Server, wait_for
from test_notify import Receiver, smtp_server
from test_triage import TRIAGE, call, send_scenario

NFT = "/usr/sbin/nft"
IP = "/usr/sbin/ip"


class Netns:
    """A network namespace with an nftables set `inet hinomi blocked`."""

    def __init__(self):
        self.name = f"hinomi-test-{os.getpid()}"
        subprocess.run([IP, "netns", "add", self.name], check=True)
        self.nft("add", "table", "inet", "hinomi")
        self.nft("add", "set", "inet", "hinomi", "blocked", "{ type ipv4_addr; }")

    def nft(self, *args):
        return subprocess.run([IP, "netns", "exec", self.name, NFT, *args], check=True,
                              capture_output=True, text=True).stdout

    def blocked(self):
        return self.nft("list", "set", "inet", "hinomi", "blocked")

    def remove(self):
        subprocess.run([IP, "netns", "delete", self.name], check=False)


PLAYBOOK = """id: contain-brute-force
title: Contain a brute force
tenant: default
version: 3
trigger:
  manual: true
inputs:
  host: host
  ip: ip
steps:
  - id: ticket
    action: ticket
    with: {{ title: "Brute force on {{{{host}}}}", incident: "{{{{incident.id}}}}" }}
  - id: isolate
    action: edr-isolate
    with: {{ host: "{{{{host}}}}" }}
  - id: block
    action: nft-block
    with: {{ ip: "{{{{ip}}}}" }}
"""

AUTO = """id: auto-ticket
title: A ticket for every credential attack
tenant: default
version: 1
trigger:
  tactics: [credential-access]
  severity: low
steps:
  - id: ticket
    action: auto-ticket
    with: { incident: "{{incident.id}}" }
"""

DISABLE = """id: disable-account
title: Disable the account
tenant: default
version: 1
inputs:
  user: user
steps:
  - id: disable
    action: idp-disable
    with: { user: "{{user}}" }
"""


def config(ns, receiver, smtp_port):
    return f"""
[triage]
sla_check_seconds = 1
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
tenant = "default"
start = "2026-01-01"
people = [{{ name = "aiko", email = "aiko@soc.example" }}]
lead = {{ name = "dana", email = "dana@soc.example" }}
escalate_after = "1h"
channel = "mail"
min_severity = "low"
triggers = ["approval_expired"]
[respond]
timeout = "3s"
lease = "10s"
attempts = 2
[[respond.actions]]
name = "ticket"
kind = "ticket"
http = {{ url = "{receiver.url('/tickets')}", body = {{ title = "{{{{title}}}}", incident = "{{{{incident}}}}" }} }}
[[respond.actions]]
name = "auto-ticket"
kind = "ticket"
http = {{ url = "{receiver.url('/auto')}", body = {{ incident = "{{{{incident}}}}" }} }}
[[respond.actions]]
name = "edr-isolate"
kind = "contain"
destructive = true
http = {{ url = "{receiver.url('/edr/isolate/{{host}}')}", token_env = "TEST_EDR_TOKEN" }}
rollback_http = {{ url = "{receiver.url('/edr/release/{{host}}')}", token_env = "TEST_EDR_TOKEN" }}
[[respond.actions]]
name = "nft-block"
kind = "block"
command = ["{IP}", "netns", "exec", "{ns.name}", "{NFT}", "add", "element", "inet", "hinomi", "blocked", "{{ {{{{ip}}}} }}"]
rollback_command = ["{IP}", "netns", "exec", "{ns.name}", "{NFT}", "delete", "element", "inet", "hinomi", "blocked", "{{ {{{{ip}}}} }}"]
[[respond.actions]]
name = "idp-disable"
kind = "disable_account"
http = {{ url = "{receiver.url('/idp')}" }}
[[respond.authority]]
kinds = ["ticket"]
decide = "auto"
[[respond.authority]]
kinds = ["contain", "block"]
decide = "approve"
role = "responder"
expires = "1h"
[[respond.authority]]
kinds = ["disable_account"]
decide = "approve"
role = "lead"
expires = "3s"
"""


def test_playbooks_act_within_the_authority_policy(tmp_path):
    ns = Netns()
    box, smtp, smtp_port = smtp_server()
    receiver = Receiver()
    try:
        data = tmp_path / "data"
        (data / "playbooks").mkdir(parents=True)
        (data / "playbooks" / "contain.yml").write_text(PLAYBOOK.format())
        (data / "playbooks" / "disable.yml").write_text(DISABLE)
        (data / "playbooks" / "auto.yml").write_text(AUTO)
        server = Server(data, config(ns, receiver, smtp_port), rules=TRIAGE / "rules",
                        extra_env={"TEST_EDR_TOKEN": "edr-secret"}).start()
        try:
            responder, other, lead = server.token("responder"), server.token("responder"), server.token("lead")
            analyst = server.token("analyst")
            send_scenario(server)
            incident = wait_for(lambda: [i for i in call(server, "GET", "/api/v1/incidents", server.read_token)[1]["incidents"]
                                         if any(e["kind"] == "ip" for e in i["entities"])], 30, "an incident with an address")[0]
            ip = next(e["value"] for e in incident["entities"] if e["kind"] == "ip")
            start = f"/api/v1/incidents/{incident['id']}/playbooks/contain-brute-force"

            # The trigger: the credential attack's incident starts its run by
            # itself, once, however often the incident is touched again.
            wait_for(lambda: receiver.at("/auto"), 30, "the automatic run's call")
            time.sleep(2)
            first = len(receiver.at("/auto"))
            send_scenario(server)
            time.sleep(2)
            auto = receiver.at("/auto")
            assert len(auto) == first, auto
            runs = call(server, "GET", "/api/v1/runs", responder)[1]["runs"]
            assert {(r["playbook"], r["started_by"], r["status"]) for r in runs} == {("auto-ticket", "hinomi", "done")}, runs
            # One run per incident, each called once.
            assert sorted(str(r["incident"]) for r in runs) == sorted(c[2]["incident"] for c in auto), (runs, auto)
            assert len({r["incident"] for r in runs}) == len(runs)
            # A dry run shows the exact calls and stores nothing.
            status, plan = call(server, "POST", start, responder, {"dry_run": True})
            assert status == 200, plan
            steps = {s["step"]: s for s in plan["steps"]}
            assert steps["ticket"]["decision"]["decide"] == "auto"
            assert steps["isolate"]["decision"] == {"decide": "approve", "role": "responder", "approvers": 2, "expires_secs": 3600}
            assert steps["block"]["call"]["command"][-1] == "{ " + ip + " }"
            assert {r["playbook"] for r in call(server, "GET", "/api/v1/runs", responder)[1]["runs"]} == {"auto-ticket"}
            # Hostile inputs are refused before anything runs; an analyst may not start one.
            status, why = call(server, "POST", start, responder, {"inputs": {"ip": ip + " }; flush ruleset; {"}})
            assert status == 400 and "not an IP address" in why["error"], why
            assert call(server, "POST", start, analyst, {})[0] == 403

            status, run = call(server, "POST", start, responder, {})
            assert status == 200 and run["status"] == "running", run
            # The ticket is automatic; the isolation waits for two responders.
            ticket = wait_for(lambda: receiver.at("/tickets"), 30, "the ticket call")
            assert ticket[0][2] == {"title": f"Brute force on {next(e['value'] for e in incident['entities'] if e['kind'] == 'host')}",
                                    "incident": str(incident["id"])}
            assert ticket[0][1]["idempotency-key"] == f"hinomi-run-{run['id']}-step-1"
            inbox = wait_for(lambda: call(server, "GET", "/api/v1/runs?status=waiting", responder)[1]["runs"], 30, "the inbox")
            isolate = inbox[0]["steps"][-1]
            assert (isolate["step"], isolate["status"], isolate["approval"]["approvers"]) == ("isolate", "approval", 2)
            act = f"/api/v1/runs/{run['id']}/steps/{isolate['id']}"
            # An analyst cannot approve; nobody approves their own run; one person counts once.
            assert call(server, "POST", f"{act}/approve", analyst, {"reason": "go"})[0] == 403
            status, why = call(server, "POST", f"{act}/approve", responder, {"reason": "go"})
            assert status == 400 and "started a run" in why["error"], why
            assert call(server, "POST", f"{act}/approve", other, {"reason": "host confirmed"})[1] == {"status": "approval", "approvals_needed": 1}
            assert call(server, "POST", f"{act}/approve", other, {"reason": "again"})[0] == 400
            assert not receiver.at(f"/edr/isolate/{isolate['call']['with']['host']}")
            assert call(server, "POST", f"{act}/approve", lead, {"reason": "second pair of eyes"})[1] == {"status": "ready"}
            host = isolate["call"]["with"]["host"]
            edr = wait_for(lambda: receiver.at(f"/edr/isolate/{host}"), 30, "the EDR call")
            assert edr[0][1]["authorization"] == "Bearer edr-secret"
            # The block: approved once, then the command really changes the set.
            block = wait_for(lambda: [s for s in call(server, "GET", f"/api/v1/runs/{run['id']}", responder)[1]["steps"]
                                      if s["step"] == "block"], 30, "the block step")[0]
            assert ip not in ns.blocked()
            call(server, "POST", f"/api/v1/runs/{run['id']}/steps/{block['id']}/approve", other, {"reason": "known bad"})
            wait_for(lambda: ip in ns.blocked(), 30, "the address in the nftables set")
            done = wait_for(lambda: (r := call(server, "GET", f"/api/v1/runs/{run['id']}", responder)[1])["status"] == "done" and r,
                            30, "the run done")
            assert [s["status"] for s in done["steps"]] == ["done", "done", "done"], done
            # Rollback removes it, recorded beside the action.
            status, rolled = call(server, "POST", f"/api/v1/runs/{run['id']}/steps/{block['id']}/rollback", responder, {})
            assert status == 200 and rolled["rolled_back"], rolled
            assert ip not in ns.blocked()
            after = call(server, "GET", f"/api/v1/runs/{run['id']}", responder)[1]
            assert after["steps"][2]["rolled_back"] and after["steps"][2]["rollback"]["call"]["command"][5] == "delete"
            assert call(server, "POST", f"/api/v1/runs/{run['id']}/steps/{block['id']}/rollback", responder, {})[0] == 400
            # Every step is on the incident's timeline and in the audit trail.
            timeline = call(server, "GET", f"/api/v1/incidents/{incident['id']}/timeline", responder)[1]
            said = [e["what"] for e in timeline if e["kind"] == "action"]
            for what in ["started", "executed", "approval_requested", "approved", "finished", "rolled_back"]:
                assert what in said, (what, said)
            audit = [e["action"] for e in call(server, "GET", "/api/v1/audit", lead)[1]["entries"]]
            assert "playbook.approved" in audit and "playbook.rolled_back" in audit, audit

            # An approval nobody gives expires, stops the run, and pages the person on call.
            status, run = call(server, "POST", f"/api/v1/incidents/{incident['id']}/playbooks/disable-account", responder, {})
            assert status == 200, run
            wait_for(lambda: call(server, "GET", f"/api/v1/runs/{run['id']}", responder)[1]["status"] == "stopped", 30,
                     "the request expiring")
            page = wait_for(lambda: [m for _, r, m in box.messages if r == ["aiko@soc.example"]], 30, "aiko's page")
            assert "Approval request expired" in page[0]["Subject"], page[0]["Subject"]
            assert not receiver.at("/idp")
            assert "edr-secret" not in server.log.read_text()
        finally:
            server.kill()
    finally:
        ns.remove()
        receiver.release.set()
        receiver.shutdown()
        smtp.stop()


def one_step(name, action):
    return f"""id: {name}
title: {name}
tenant: default
version: 1
steps:
  - id: call
    action: {action}
    with: {{ incident: "{{{{incident.id}}}}" }}
"""


def incident_of(server):
    send_scenario(server)
    return wait_for(lambda: call(server, "GET", "/api/v1/incidents", server.read_token)[1]["incidents"], 30,
                    "an incident")[0]


def test_a_hanging_or_failing_receiver_never_blocks_other_runs(tmp_path):
    """100 runs at once: 20 call a receiver that hangs, 40 one that fails,
    40 one that answers. The answered ones all finish while the hanging
    one still holds its calls; the failing and hanging ones are tried
    again, time out, and land in the dead letter (failed runs)."""
    ok, bad, hang = Receiver(), Receiver(), Receiver()
    try:
        data = tmp_path / "data"
        (data / "playbooks").mkdir(parents=True)
        for name in ("ok", "bad", "hang"):
            (data / "playbooks" / f"{name}.yml").write_text(one_step(f"call-{name}", name))
        actions = "".join(f"""
[[respond.actions]]
name = "{name}"
kind = "ticket"
http = {{ url = "{r.url(path)}", body = {{ incident = "{{{{incident}}}}" }} }}
""" for name, r, path in (("ok", ok, "/ok"), ("bad", bad, "/fail"), ("hang", hang, "/hang")))
        config = f"""
[respond]
timeout = "2s"
lease = "10s"
attempts = 2
{actions}
[[respond.authority]]
decide = "auto"
"""
        server = Server(data, config, rules=TRIAGE / "rules").start()
        try:
            responder = server.token("responder")
            incident = incident_of(server)
            plan = ["hang"] * 20 + ["bad"] * 40 + ["ok"] * 40
            import concurrent.futures
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                started = list(pool.map(lambda name: call(
                    server, "POST", f"/api/v1/incidents/{incident['id']}/playbooks/call-{name}", responder, {}), plan))
            assert all(status == 200 for status, _ in started), [s for s in started if s[0] != 200][:3]
            began = time.monotonic()

            def runs(status):
                return call(server, "GET", f"/api/v1/runs?status={status}&limit=200", responder)[1]["runs"]

            done = wait_for(lambda: len(d := runs("done")) == 40 and d, 60, "every answered run done")
            took = time.monotonic() - began
            assert {r["playbook"] for r in done} == {"call-ok"}
            # The hanging receiver still holds calls: it did not hold the others up.
            assert len(hang.at("/hang")) < 20 * 2 and took < 30, (len(hang.at("/hang")), took)
            keys = {c[1]["idempotency-key"] for c in ok.at("/ok")}
            assert len(ok.at("/ok")) == 40 and len(keys) == 40
            # Failing ones: tried twice, then dead, with the receiver's answer.
            failed = wait_for(lambda: len(f := [r for r in runs("failed") if r["playbook"] == "call-bad"]) == 40 and f,
                              60, "the failing runs dead")
            assert all("answered 503" in r["reason"] for r in failed), failed[0]
            assert len(bad.at("/fail")) == 80
            # Hanging ones: each call times out; tried twice, then dead.
            hung = wait_for(lambda: len(h := [r for r in runs("failed") if r["playbook"] == "call-hang"]) == 20 and h,
                            120, "the hanging runs dead")
            assert all("calling 127.0.0.1" in r["reason"] for r in hung), hung[0]
        finally:
            server.kill()
    finally:
        for r in (ok, bad, hang):
            r.release.set()
            r.shutdown()


def test_a_run_killed_midway_resumes_without_repeating_a_step(tmp_path):
    """SIGKILL while a run waits between two actions: after the restart it
    goes on from where it was; the first action and the message it sent
    are not repeated. SIGKILL during a call: the call is made again with
    the same idempotency key, for the receiver to drop the repeat."""
    box, smtp, smtp_port = smtp_server()
    receiver = Receiver()
    try:
        data = tmp_path / "data"
        (data / "playbooks").mkdir(parents=True)
        (data / "playbooks" / "steps.yml").write_text("""id: steps
title: two calls around a wait
tenant: default
version: 1
steps:
  - id: first
    action: first
    with: { incident: "{{incident.id}}" }
  - id: tell
    notify: mail
    text: "first call made for {{incident.id}}"
  - id: pause
    wait: 4s
  - id: second
    action: slow
    with: { incident: "{{incident.id}}" }
""")
        config = f"""
[notify]
[[notify.channels]]
name = "mail"
kind = "email"
server = "127.0.0.1:{smtp_port}"
from = "hinomi@soc.example"
to = ["soc@soc.example"]
starttls = "never"
[respond]
timeout = "20s"
lease = "40s"
attempts = 3
[[respond.actions]]
name = "first"
kind = "ticket"
http = {{ url = "{receiver.url('/first')}" }}
[[respond.actions]]
name = "slow"
kind = "ticket"
http = {{ url = "{receiver.url('/hang')}" }}
[[respond.authority]]
decide = "auto"
"""
        server = Server(data, config, rules=TRIAGE / "rules").start()
        try:
            responder = server.token("responder")
            incident = incident_of(server)
            status, run = call(server, "POST", f"/api/v1/incidents/{incident['id']}/playbooks/steps", responder, {})
            assert status == 200, run
            wait_for(lambda: receiver.at("/first") and box.messages, 30, "the first call and the message")
            wait_for(lambda: call(server, "GET", f"/api/v1/runs/{run['id']}", responder)[1]["steps"][-1]["status"] == "waiting",
                     30, "the run waiting")
            server.kill()
            server.start()
            # Resumed: the second call comes; the first is not made again.
            second = wait_for(lambda: receiver.at("/hang"), 60, "the second call after the restart")
            key = second[0][1]["idempotency-key"]
            # Killed again while the second call hangs: the lease runs out and
            # the call is made again, with the same key.
            server.kill()
            receiver.release.set()
            server.start()
            again = wait_for(lambda: len(receiver.at("/hang")) >= 2 and receiver.at("/hang"), 90, "the call made again")
            assert again[1][1]["idempotency-key"] == key
            done = wait_for(lambda: (r := call(server, "GET", f"/api/v1/runs/{run['id']}", responder)[1])["status"] == "done" and r,
                            60, "the run done")
            assert [s["step"] for s in done["steps"]] == ["first", "tell", "pause", "second"]
            assert len(receiver.at("/first")) == 1, receiver.at("/first")
            time.sleep(2)
            told = [m for _, _, m in box.messages if "first call made" in m["Subject"]]
            assert len(told) == 1, [m["Subject"] for _, _, m in box.messages]
        finally:
            server.kill()
    finally:
        receiver.release.set()
        receiver.shutdown()
        smtp.stop()
