#!/usr/bin/env python3
"""A small IMDSv2 double for the runner-fleet instance-script tests.

Serves what the scripts read: PUT /latest/api/token (the TTL header is
required, 1-21600 s) and GET /latest/meta-data/<path> (the token header is
required, 401 otherwise). State is switched during a test through control
endpoints under /_control/ (no token needed):

  POST /_control/state   JSON merged into the state, keys:
      lifecycle_state   "InService" | "Terminated" | ... (target-lifecycle-state)
      spot_action       null or {"action": "terminate", "time": "..."}
      rebalance         null or {"noticeTime": "..."}
      delay_seconds     sleep this long before every metadata answer
      fail_next         answer the next N metadata/token requests with 503
      revoke_tokens     true: forget every session token issued so far, so
                        the next read with one gets 401 (as after IMDS
                        restarts or a token expires early)
      terminate_after_next_read
                        true: the next target-lifecycle-state read still
                        answers the current state, and the state becomes
                        "Terminated" right after it: the worst phase for a
                        poller, which just missed the transition
      instance_id, region, asg_name
  GET  /_control/stats   JSON counters (requests, failures, unauthorized,
                         tokens) and lifecycle_changed_at, the time (epoch
                         seconds, float) the lifecycle state last changed

Usage: imds_double.py --port-file FILE [--port N]. With port 0 (default) the
OS picks a free port, written to FILE once the server listens.
Standard library only.
"""

import argparse
import json
import os
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {
    "instance_id": "i-0123456789abcdef0",
    "region": "eu-west-1",
    "asg_name": "runners-test-asg",
    "lifecycle_state": "InService",
    "spot_action": None,
    "rebalance": None,
    "delay_seconds": 0,
    "fail_next": 0,
    "terminate_after_next_read": False,
}
STATS = {"requests": 0, "failures": 0, "unauthorized": 0, "tokens": 0, "lifecycle_changed_at": None}
TOKENS = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _send(self, status, body="", content_type="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _inject_fault(self):
        """Apply the configured delay and transient 5xx; True if answered."""
        with LOCK:
            delay = STATE["delay_seconds"]
            fail = STATE["fail_next"] > 0
            if fail:
                STATE["fail_next"] -= 1
                STATS["failures"] += 1
        if delay:
            time.sleep(delay)
        if fail:
            self._send(503, "Service Unavailable")
        return fail

    def do_PUT(self):
        if self.path != "/latest/api/token":
            return self._send(404, "Not Found")
        with LOCK:
            STATS["requests"] += 1
        if self._inject_fault():
            return
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self._send(400, "Bad Request")
        token = secrets.token_urlsafe(24)
        with LOCK:
            TOKENS[token] = time.time() + int(ttl)
            STATS["tokens"] += 1
        self._send(200, token)

    def do_POST(self):
        if self.path != "/_control/state":
            return self._send(404, "Not Found")
        length = int(self.headers.get("Content-Length", "0"))
        update = json.loads(self.rfile.read(length) or b"{}")
        with LOCK:
            if update.pop("revoke_tokens", False):
                TOKENS.clear()
            if update.get("lifecycle_state", STATE["lifecycle_state"]) != STATE["lifecycle_state"]:
                STATS["lifecycle_changed_at"] = time.time()
            STATE.update(update)
            body = json.dumps(STATE)
        self._send(200, body, "application/json")

    def do_GET(self):
        if self.path == "/_control/stats":
            with LOCK:
                body = json.dumps(STATS)
            return self._send(200, body, "application/json")
        if not self.path.startswith("/latest/meta-data/"):
            return self._send(404, "Not Found")
        with LOCK:
            STATS["requests"] += 1
        if self._inject_fault():
            return
        token = self.headers.get("X-aws-ec2-metadata-token", "")
        with LOCK:
            valid = TOKENS.get(token, 0) > time.time()
            if not valid:
                STATS["unauthorized"] += 1
            state = dict(STATE)
        if not valid:
            return self._send(401, "Unauthorized")
        path = self.path[len("/latest/meta-data/"):]
        values = {
            "instance-id": state["instance_id"],
            "placement/region": state["region"],
            "tags/instance/aws:autoscaling:groupName": state["asg_name"],
            "autoscaling/target-lifecycle-state": state["lifecycle_state"],
        }
        if path in values and values[path] is not None:
            self._send(200, values[path])
            if path == "autoscaling/target-lifecycle-state":
                with LOCK:
                    if STATE["terminate_after_next_read"]:
                        STATE["terminate_after_next_read"] = False
                        STATE["lifecycle_state"] = "Terminated"
                        STATS["lifecycle_changed_at"] = time.time()
            return None
        if path == "spot/instance-action" and state["spot_action"]:
            return self._send(200, json.dumps(state["spot_action"]), "application/json")
        if path == "events/recommendations/rebalance" and state["rebalance"]:
            return self._send(200, json.dumps(state["rebalance"]), "application/json")
        self._send(404, "Not Found")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that gave up (timeout test) closes the socket: not an error."""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
