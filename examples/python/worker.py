#!/usr/bin/env python3
"""A tq worker in Python behind the HTTP relay: the standard library's http.server, no framework.

    SMTP_URL=smtp://127.0.0.1:1025 python3 worker.py 8001
    TQ_TASK=send_email RELAY_URL=http://127.0.0.1:8001/tasks node apps/http-relay/dist/main.js

The relay POSTs each task (the envelope as JSON; X-Tq-Task, X-Tq-Task-Id, X-Tq-Attempt headers)
and settles it by the answer: 2xx done, 4xx dead-lettered with the body as the reason, 5xx or
429/503 (with Retry-After: after exactly that) retried. The task was validated before it came.
"""
import json
import os
import smtplib
import sys
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse


def send_email(payload):
    """Sends the mail through SMTP_URL; returns (status, answer)."""
    url = urlparse(os.environ.get("SMTP_URL", "smtp://127.0.0.1:25"))
    message = EmailMessage()
    message["From"] = payload.get("from", "tq <no-reply@tq.local>")
    message["To"] = ", ".join(payload["to"])
    message["Subject"] = payload["subject"]
    message.set_content(payload.get("text", ""))
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
    try:
        with smtplib.SMTP(url.hostname, url.port or 25, timeout=30) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        # Refused for good: 422, so the relay dead-letters the task with this reason.
        return 422, json.dumps({"refused": {k: v[1].decode() for k, v in error.recipients.items()}})
    except (OSError, smtplib.SMTPException) as error:
        return 503, f"SMTP: {error}"
    return 200, json.dumps({"sent": True, "to": payload["to"]})


HANDLERS = {"send_email": send_email}


class Worker(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        envelope = json.loads(self.rfile.read(length) or b"{}")
        handler = HANDLERS.get(envelope.get("task"))
        if handler is None:
            status, answer = 400, f"this worker does not handle {envelope.get('task')}"
        else:
            status, answer = handler(envelope["payload"])
        body = answer.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if answer.startswith("{") else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write(f"worker.py {self.headers.get('X-Tq-Task-Id', '-')} {format % args}\n")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8001
    server = ThreadingHTTPServer(("127.0.0.1", port), Worker)
    print(f"worker.py listening on http://127.0.0.1:{server.server_port}/", flush=True)
    server.serve_forever()
