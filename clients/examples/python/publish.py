#!/usr/bin/python3
"""Publish events to an evbridge connector and print the result of every entry.

    ./gen.sh                                     # once: generate the message classes
    export EVB_ADDR=127.0.0.1:50051 EVB_API_KEY=evb_...   # an isv key of the connector's ISV
    ./publish.py -c xbongbong-crm events.jsonl
    echo '{"org":"acme","type":"com.xbongbong.crm.customer.changed","data":{"id":"c1","name":"ACME"}}' \
        | ./publish.py -c xbongbong-crm

Input: JSON lines (a file, or stdin). Each line is one PutEventsEntry -- id, org, type,
subject, time, datacontenttype, extensions -- with the payload under "data" (any JSON
value) or "data_base64". Empty lines and lines starting with '#' are skipped. --org and
--type fill lines that have none.

Output: one line per entry, in order -- "PUBLISHED <event id>", "DEDUPLICATED <event id>"
or "REJECTED <error code>: <message>" followed by the schema violations. Exit 0 when every
entry was accepted, 2 when any was rejected, 1 when the call itself failed.
"""

import argparse
import base64
import json
import os
import sys
from pathlib import Path

import grpc  # Debian: python3-grpcio (run with /usr/bin/python3)

# The generated modules (./gen.sh) live in the private package "evbpb"; see gen.sh.
sys.path.insert(0, os.environ.get("EVB_PY_GEN") or str(Path(__file__).resolve().parent / "gen"))
from evbpb.evbridge.v1 import events_pb2  # noqa: E402

MAX_ENTRIES = 100  # PutEvents takes 1..100 entries per call


def read_entries(lines, org, type_):
    """JSON lines -> [(line number, PutEventsEntry)]."""
    entries = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        obj = json.loads(line)
        e = events_pb2.PutEventsEntry(
            id=obj.get("id", ""),
            org=obj.get("org") or org,
            type=obj.get("type") or type_,
            subject=obj.get("subject", ""),
            time=obj.get("time", ""),
            datacontenttype=obj.get("datacontenttype", ""))
        if "data_base64" in obj:
            e.data = base64.b64decode(obj["data_base64"])
        elif "data" in obj:
            e.data = json.dumps(obj["data"], ensure_ascii=False, separators=(",", ":")).encode()
        for k, v in (obj.get("extensions") or {}).items():
            e.extensions[k] = str(v)
        entries.append((n, e))
    return entries


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default="-", help="JSON lines (default: stdin)")
    ap.add_argument("-c", "--connector", required=True, help="connector name")
    ap.add_argument("--org", default="", help="org for lines that name none")
    ap.add_argument("--type", default="", help="event type for lines that name none")
    ap.add_argument("--addr", default=os.environ.get("EVB_ADDR", "127.0.0.1:50051"))
    ap.add_argument("--key", default=os.environ.get("EVB_API_KEY"),
                    help="API key (default: $EVB_API_KEY)")
    args = ap.parse_args()
    if not args.key:
        ap.error("no API key: give --key or set EVB_API_KEY")

    src = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    with src:
        entries = read_entries(src, args.org, args.type)
    if not entries:
        ap.error("no events to publish")

    channel = grpc.insecure_channel(args.addr)  # grpc.secure_channel(...) for TLS
    put_events = channel.unary_unary(
        "/evbridge.v1.EventService/PutEvents",
        request_serializer=events_pb2.PutEventsRequest.SerializeToString,
        response_deserializer=events_pb2.PutEventsResponse.FromString)
    metadata = [("authorization", "Bearer " + args.key)]

    rejected = 0
    for i in range(0, len(entries), MAX_ENTRIES):
        batch = entries[i:i + MAX_ENTRIES]
        request = events_pb2.PutEventsRequest(connector=args.connector,
                                              entries=[e for _, e in batch])
        try:
            response = put_events(request, metadata=metadata, timeout=30)
        except grpc.RpcError as err:  # the whole call failed: nothing of it was stored
            print("publish failed: %s: %s" % (err.code().name, err.details()), file=sys.stderr)
            return 1
        # one result per entry, in request order; a rejected entry never blocks the others
        for (line, _), result in zip(batch, response.results):
            status = events_pb2.ResultStatus.Name(result.status)
            if result.status == events_pb2.REJECTED:
                rejected += 1
                print("line %d: REJECTED %s: %s" % (line, result.error_code, result.error_message))
                for v in result.violations:
                    print("  %s: %s (%s)" % (v.instance_path or "/", v.message, v.keyword_location))
            else:
                print("line %d: %s %s" % (line, status, result.event_id))
    print("%d published or deduplicated, %d rejected" % (len(entries) - rejected, rejected))
    channel.close()
    return 2 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
