#!/usr/bin/python3
"""Receive the events of a STREAM connection over EventService.Subscribe and ack them.

    ./gen.sh                                     # once: generate the message classes
    export EVB_ADDR=127.0.0.1:50051 EVB_API_KEY=evb_...   # a subscriber key of the org
    ./subscribe.py --connection 01J... --count 10

Prints each event as one JSON line, {"delivery_id", "attempt", "event"} with the event in
the CloudEvents JSON format, then acks it. An event that is not acked within the ack
deadline (or whose subscriber goes away) is delivered again with the same delivery_id, so
a consumer that crashes before acking loses nothing. Runs until --count events (or
Ctrl-C, or --timeout seconds); then it sends the last ack and half-closes the stream.
"""

import argparse
import base64
import json
import os
import queue
import sys
from pathlib import Path

import grpc  # Debian: python3-grpcio (run with /usr/bin/python3)

sys.path.insert(0, os.environ.get("EVB_PY_GEN") or str(Path(__file__).resolve().parent / "gen"))
from evbpb.evbridge.v1 import events_pb2  # noqa: E402


def cloudevent_json(ce):
    """io.cloudevents.v1.CloudEvent (protobuf) -> a dict in the CloudEvents JSON format."""
    out = {"specversion": ce.spec_version, "id": ce.id, "source": ce.source, "type": ce.type}
    for name, value in ce.attributes.items():
        kind = value.WhichOneof("attr")
        if kind == "ce_timestamp":
            out[name] = value.ce_timestamp.ToJsonString()
        elif kind == "ce_bytes":
            out[name] = base64.b64encode(value.ce_bytes).decode()
        else:
            out[name] = getattr(value, kind)
    data = ce.WhichOneof("data")
    if data == "text_data":
        ctype = out.get("datacontenttype", "application/json")
        is_json = ctype.startswith("application/json") or "+json" in ctype
        out["data"] = json.loads(ce.text_data) if is_json else ce.text_data
    elif data == "binary_data":
        out["data_base64"] = base64.b64encode(ce.binary_data).decode()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-c", "--connection", required=True, help="connection id (a STREAM action)")
    ap.add_argument("-n", "--count", type=int, default=0, help="exit after N events (0: never)")
    ap.add_argument("--max-in-flight", type=int, default=16, help="unacked deliveries at most")
    ap.add_argument("--ack-deadline-ms", type=int, default=30000)
    ap.add_argument("--timeout", type=float, default=None, help="give up after S seconds")
    ap.add_argument("--addr", default=os.environ.get("EVB_ADDR", "127.0.0.1:50051"))
    ap.add_argument("--key", default=os.environ.get("EVB_API_KEY"),
                    help="API key (default: $EVB_API_KEY)")
    args = ap.parse_args()
    if not args.key:
        ap.error("no API key: give --key or set EVB_API_KEY")

    channel = grpc.insecure_channel(args.addr)
    subscribe = channel.stream_stream(
        "/evbridge.v1.EventService/Subscribe",
        request_serializer=events_pb2.SubscribeRequest.SerializeToString,
        response_deserializer=events_pb2.SubscribeResponse.FromString)

    # What we send: first a start message, then acks. grpcio reads requests from an
    # iterator in its own thread; a queue feeds it, None half-closes the stream.
    outbox = queue.Queue()
    outbox.put(events_pb2.SubscribeRequest(start=events_pb2.SubscribeStart(
        connection_id=args.connection, max_in_flight=args.max_in_flight,
        ack_deadline_ms=args.ack_deadline_ms)))

    def requests():
        while (msg := outbox.get()) is not None:
            yield msg

    call = subscribe(requests(), metadata=[("authorization", "Bearer " + args.key)],
                     timeout=args.timeout)
    received = 0
    try:
        for delivery in call:
            if args.count and received >= args.count:
                continue  # after half-close: not acked, so it will be delivered again
            print(json.dumps({"delivery_id": delivery.delivery_id, "attempt": delivery.attempt,
                              "event": cloudevent_json(delivery.event)}, ensure_ascii=False),
                  flush=True)
            # Process the event, then ack it (one id per ack here; acks may carry many).
            outbox.put(events_pb2.SubscribeRequest(
                ack=events_pb2.SubscribeAck(delivery_ids=[delivery.delivery_id])))
            received += 1
            if args.count and received >= args.count:
                outbox.put(None)  # half-close after the last ack; the server then ends the stream
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.CANCELLED:
            print("subscribe failed: %s: %s" % (err.code().name, err.details()), file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        outbox.put(None)
        call.cancel()
    finally:
        channel.close()
    print("received and acked %d events" % received, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
