#!/usr/bin/env python3
"""Prints one figures line on queue-drain's batch times, from its "batch drained" log lines.

The drain's timeout (and so the posts queue's visibility timeout, 6 x it plus the batching
window) is sized from these: every batch of the run, fault tests included (throttled and slow
DynamoDB, frozen Redis nodes). Reads the stack from the environment that
`.local/<instance>/endpoints.env` sets (AWS_ENDPOINT_URL, OUTPUT_QUEUE_DRAIN_LOG_GROUP_NAME);
`scripts/integration.sh` runs it after the integration tests.

    drain_batches: n=... p50_ms=... p99_ms=... max_ms=... largest_batch=... over_1s=...
"""
import json
import os
import sys

import boto3


def main():
    group = os.environ.get("OUTPUT_QUEUE_DRAIN_LOG_GROUP_NAME")
    if not group:
        sys.exit("drain_times: OUTPUT_QUEUE_DRAIN_LOG_GROUP_NAME is not set (source the stack's endpoints.env)")
    logs = boto3.client("logs")
    times, sizes = [], []
    kwargs = {"logGroupName": group, "filterPattern": '"batch drained"'}
    while True:
        page = logs.filter_log_events(**kwargs)
        for e in page.get("events", []):
            try:
                line = json.loads(e["message"])
            except ValueError:
                continue
            if "elapsed_ms" in line:
                times.append(int(line["elapsed_ms"]))
                sizes.append(int(line.get("persisted", 0)) + int(line.get("failed", 0)))
        token = page.get("nextToken")
        if not token or not page.get("events"):
            break
        kwargs["nextToken"] = token
    if not times:
        sys.exit("drain_times: no \"batch drained\" lines in " + group)
    times.sort()

    def pct(p):
        return times[min(len(times) - 1, int(len(times) * p))]

    print(f"drain_batches: n={len(times)} p50_ms={pct(0.5)} p99_ms={pct(0.99)} max_ms={times[-1]} "
          f"largest_batch={max(sizes)} over_1s={sum(t > 1000 for t in times)}")


if __name__ == "__main__":
    main()
