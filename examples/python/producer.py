#!/usr/bin/env python3
"""Send a tq task from Python: validated against tq's committed JSON Schema, sent with boto3.

    python3 producer.py send_email '{"to":["john@example.com"],"subject":"Hi","text":"Hello"}'
    python3 producer.py send_email @payload.json --flat      # the seed article's flat form, to the queue

The envelope ({id, task, version, createdAt, payload}) is validated with `jsonschema` against
packages/contracts/schemas/<task>.v<version>.json, the same rules the TypeScript producer and the
workers apply; an invalid task prints every violation and sends nothing (exit 1). By default the
task is published to the SNS topic <prefix>-tasks with the `task` message attribute the
subscriptions filter on; --queue (or --flat) sends it straight to the task's SQS queue.
Configuration: TQ_ENDPOINT (unset: AWS), AWS_REGION, TQ_PREFIX, as for every tq component.
"""
import argparse
import json
import os
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import boto3
from jsonschema import Draft202012Validator, FormatChecker

SCHEMAS = Path(__file__).resolve().parents[2] / "packages" / "contracts" / "schemas"


def envelope_for(task, payload, version=1):
    return {
        "id": str(uuid.uuid4()),
        "task": task,
        "version": version,
        "createdAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "payload": payload,
    }


def violations(envelope):
    """Every violation of the task's schema, as 'path: message' lines (empty when valid)."""
    path = SCHEMAS / f"{envelope['task']}.v{envelope['version']}.json"
    if not path.exists():
        return [f"/task: no schema {path.name} (known: {', '.join(sorted(p.stem for p in SCHEMAS.glob('*.json')))})"]
    validator = Draft202012Validator(json.loads(path.read_text()), format_checker=FormatChecker())
    found = []
    for error in sorted(validator.iter_errors(envelope), key=lambda e: list(e.absolute_path)):
        pointer = "/" + "/".join(str(part) for part in error.absolute_path)
        found.append(f"{pointer}: {error.message}")
    return found


def flat_form(envelope):
    """The seed article's flat message: `task` beside the payload's fields (send_email: to as one string, text as body)."""
    payload = dict(envelope["payload"])
    if envelope["task"] == "send_email":
        for field in ("to", "cc", "bcc"):
            if isinstance(payload.get(field), list):
                payload[field] = ", ".join(payload[field])
        if "text" in payload:
            payload["body"] = payload.pop("text")
    return {"task": envelope["task"], **payload}


def clients():
    endpoint = os.environ.get("TQ_ENDPOINT") or None
    region = os.environ.get("AWS_REGION", "us-east-1")
    options = {"region_name": region, "endpoint_url": endpoint}
    if endpoint and not os.environ.get("AWS_ACCESS_KEY_ID"):
        options.update(aws_access_key_id="test", aws_secret_access_key="test")
    return boto3.client("sqs", **options), boto3.client("sns", **options)


def send(envelope, flat=False, queue=False):
    """Validates, then sends; returns the task id. Raises ValueError listing the violations."""
    problems = violations(envelope)
    if problems:
        raise ValueError(f"invalid {envelope['task']} v{envelope['version']} task\n  " + "\n  ".join(problems))
    prefix = os.environ.get("TQ_PREFIX", "tq")
    sqs, sns = clients()
    attributes = {
        "task": {"DataType": "String", "StringValue": envelope["task"]},
        "version": {"DataType": "Number", "StringValue": str(envelope["version"])},
    }
    if flat or queue:
        body = json.dumps(flat_form(envelope) if flat else envelope)
        url = sqs.get_queue_url(QueueName=f"{prefix}-{envelope['task']}")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    else:
        topics = sns.get_paginator("list_topics").paginate()
        arn = next((t["TopicArn"] for page in topics for t in page["Topics"] if t["TopicArn"].endswith(f":{prefix}-tasks")), None)
        if arn is None:
            raise RuntimeError(f"topic {prefix}-tasks does not exist: run `tq provision`")
        sns.publish(TopicArn=arn, Message=json.dumps(envelope), MessageAttributes=attributes)
    return envelope["id"]


def main():
    parser = argparse.ArgumentParser(description="validate and send one tq task")
    parser.add_argument("task")
    parser.add_argument("payload", help="JSON, or @file.json")
    parser.add_argument("--flat", action="store_true", help="send the seed article's flat form, straight to the queue")
    parser.add_argument("--queue", action="store_true", help="send the envelope straight to the queue")
    args = parser.parse_args()
    text = Path(args.payload[1:]).read_text() if args.payload.startswith("@") else args.payload
    try:
        print(send(envelope_for(args.task, json.loads(text)), flat=args.flat, queue=args.queue))
    except ValueError as error:
        print(f"producer.py: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
