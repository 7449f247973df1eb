#!/usr/bin/env python3
"""evbridge fuzz seeds: writes the checked-in seed corpora under corpus/<target>/.

Run from anywhere: python3 tests/fuzz/seeds.py. The seeds are small, hand-written inputs
that reach each target's main paths (see the fuzz_<target>.c comments for the input
layout; "\\n%%\\n" separates the parts). PutEvents seeds are protobuf wire bytes, encoded
here by hand so no generated Python code is needed. Regression inputs found by fuzzing are
added to corpus/<target>/ as files named regress-*; this script never removes them.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = b"\n%%\n"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def join(*parts):
    return SEP.join(p.encode() if isinstance(p, str) else p for p in parts)


# ---- schema: <selector byte><schema> %% <instance> %% <resolved document> ----------------
# selector: dialect = b % 5 (0 default, 1 draft4, 2 draft6, 3 draft7, 4 2020-12),
# bit 3 FORMAT_ASSERT, bit 4 small depth limits, bits 5-7 violation limit.
SCHEMA = [
    ("object-required", 0x00, '{"type":"object","required":["id","name"],"properties":{"id":{"type":"integer","minimum":1},"name":{"type":"string","minLength":1,"maxLength":64}},"additionalProperties":false}', '{"id":7,"name":"Alice","x":1}'),
    ("draft4", 0x01, '{"$schema":"http://json-schema.org/draft-04/schema#","properties":{"n":{"type":"number","maximum":10,"exclusiveMaximum":true}},"dependencies":{"a":["b"]}}', '{"n":10,"a":1}'),
    ("draft6", 0x02, '{"$schema":"http://json-schema.org/draft-06/schema#","const":{"a":[1,2.0]},"contains":{"type":"null"},"propertyNames":{"pattern":"^[a-z]+$"}}', '[null,1]'),
    ("draft7-if", 0x03, '{"if":{"properties":{"k":{"const":"a"}}},"then":{"required":["a"]},"else":{"required":["b"]},"definitions":{"x":{"$id":"#x","type":"string"}},"properties":{"r":{"$ref":"#x"}}}', '{"k":"a","r":5}'),
    ("2020-12", 0x04, '{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"pos":{"type":"integer","exclusiveMinimum":0}},"prefixItems":[{"$ref":"#/$defs/pos"},{"type":"string"}],"items":false,"unevaluatedItems":false,"dependentRequired":{"a":["b"]}}', '[1,"x",3]'),
    ("dynamic-ref", 0x04, '{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://ex.com/tree","$dynamicAnchor":"node","type":"object","properties":{"children":{"type":"array","items":{"$dynamicRef":"#node"}}},"unevaluatedProperties":{"type":"string"}}', '{"children":[{"children":[]}],"z":1}'),
    ("format-assert", 0x08 | 0x03, '{"type":"object","properties":{"e":{"format":"email"},"d":{"format":"date-time"},"u":{"format":"uri"},"i":{"format":"ipv6"},"h":{"format":"hostname"},"r":{"format":"regex"}}}', '{"e":"a@b","d":"2024-02-30T25:00:00Z","u":"x","i":"::1","h":"-a","r":"(["}'),
    ("pattern-regex", 0x00, '{"patternProperties":{"^x-\\\\p{L}+$":{"type":"boolean"}},"properties":{"p":{"pattern":"^\\\\d{3}-[A-Z]{2,}$"}}}', '{"x-\u00e9":1,"p":"12-AB"}'),
    ("combinators", 0xe0, '{"allOf":[{"type":"object"}],"anyOf":[{"required":["a"]},{"required":["b"]}],"oneOf":[{"minProperties":1},{"maxProperties":0}],"not":{"required":["z"]}}', '{"z":1}'),
    ("multiple-of", 0x00, '{"multipleOf":0.01,"minimum":-1e308,"maximum":1e308,"enum":[1.5,"a",null,[1],{"a":1}]}', '1.50'),
    ("deep-limit", 0x10, '{"items":{"items":{"items":{"items":{"items":{"items":{"items":{"items":{"items":{}}}}}}}}}}', '[[[[[[[[[[1]]]]]]]]]]'),
    ("remote-ref", 0x04, '{"$id":"https://fuzz.example/schemas/root.json","properties":{"a":{"$ref":"other.json#/$defs/s"}}}', '{"a":1}', '{"$defs":{"s":{"type":"string"}}}'),
    ("recursive-ref", 0x00, '{"$ref":"#"}', '{}'),
    ("bool-schema", 0x00, 'false', '1'),
    ("string-unicode", 0x00, '{"type":"string","minLength":2,"maxLength":2}', '"\\ud83d\\ude00\u00e9"'),
    ("meta-self", 0x04, '{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"https://json-schema.org/draft/2020-12/schema"}', '{"type":"strin","properties":{"a":{"minimum":"1"}}}'),
    ("bad-json", 0x00, '{"type":', '{'),
    ("big-numbers", 0x00, '{"maximum":18446744073709551616,"minItems":2,"uniqueItems":true}', '[1,1.0,100000000000000000000000]'),
]
for name, sel, *parts in SCHEMA:
    write("schema", name, bytes([sel]) + join(*parts))

# ---- json: <selector byte><JSON text>; selector % 4: max_depth default, small
# (1 + (b >> 2) % 8), hard maximum, 5000 (clamped) ---------------------------------------
JSON = [
    ("event", 0x00, '{"id":"cus_01HZX3Y8K2","external_ids":[{"system":"crm","id":"88231","url":"https://crm.example.com/c/88231"}],"kind":"company","name":"Acme Trading","contacts":[{"id":"ct_1","name":"Li Wei","email":"li.wei@acme.example","primary":true},{"id":"ct_2","name":"Chen Jing","role":null}],"credit_limit":{"amount":"500000.00","currency":"CNY"},"payment_terms_days":30,"tags":["key-account","east"],"custom_fields":{"crm_level":"A","annual_revenue":12500000,"weight_kg":1.2,"vip":true,"segments":[]},"created_at":"2026-03-01T08:30:00Z"}'),
    ("whitespace", 0x00, ' \t\r\n{ "a" :\t[ 1 , 2 ] ,\n"b":{ } }\n '),
    ("scalars", 0x00, '[true,false,null,"",0,-0,-0.0,1.0,1e2,1E+2,100e-2,0.1,-1.5e-7]'),
    ("numbers-edge", 0x00, '[9223372036854775807,-9223372036854775808,9007199254740993,9007199254740993.0,4.9e-324,1e-400,2.2250738585072011e-308,1.7976931348623157e308,12345678901234567890e-10,0.0000000000000000000000000000000000000001e40]'),
    ("big-integer", 0x00, '{"a":[9007199254740993,1],"b":18446744073709551616,"c":{"d":9223372036854775807}}'),
    ("number-overflow", 0x00, '[1,1e400]'),
    ("escapes", 0x00, '["\\"\\\\\\/\\b\\f\\n\\r\\t","\\u00e9\\u00E9","\\ud83d\\ude00","a\\u0000b","0123456789abcde\\n0123456789abcdef"]'),
    ("utf8", 0x00, '"\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff\x7f"'),
    ("lone-surrogate", 0x00, '["\\ud800","\\udc00"]'),
    ("nul-key", 0x00, '{"a\\u0000":1}'),
    ("duplicate-small", 0x00, '{"a":1,"b":2,"a":3}'),
    ("duplicate-sorted", 0x00, '{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k1":1}'),
    ("sorted-object", 0x00, '{"k0":0,"k1":1,"kk2":2,"k3":3,"k4":[],"k5":{},"k6":"6","k7":null,"":8,"k9":9,"\\u00e9":10}'),
    ("deep-small-limit", 0x05, '{"a/b":{"c~":[[{"d":[]}]]}}'),
    ("deep-default", 0x00, "[" * 129 + "]" * 129),
    ("deep-hard", 0x02, '{"a":' * 1025 + "1" + "}" * 1025),
    ("deep-then-error", 0x01, "[[[[x"),
    ("trailing", 0x00, '{"a":1} x'),
    ("trailing-comma", 0x00, '[1,2,]'),
    ("leading-zero", 0x00, '[01]'),
    ("control-char", 0x00, '"a\tb"'),
]
for name, sel, text in JSON:
    data = text.encode("utf-8", "surrogatepass")
    write("json", name, bytes([sel]) + data)
write("json", "invalid-utf8", b"\x00" + b'["\xc0\x80","\xed\xa0\x80","\xf4\x90\x80\x80","\xe2\x82"]')
write("json", "invalid-utf8-outside", b"\x00" + b'[1]\xc3')

# ---- pattern: <pattern A> %% <event> %% <pattern B> -----------------------------------
EVENT = ('{"id":"1","source":"/connectors/crm","specversion":"1.0","type":"customer.changed",'
         '"subject":"cust/42","orgid":"acme","connector":"crm","time":"2024-05-01T10:00:00Z",'
         '"data":{"name":"Ärger GmbH","amount":1500.5,"tags":["vip","eu"],"ip":"10.0.3.7",'
         '"items":[{"sku":"a","qty":2},{"sku":"b","qty":0}],"note":null,"ok":true,'
         '"v6":"2001:db8::1","big":9007199254740993}}')
PATTERN = [
    ("exact", '{"type":["customer.changed"],"orgid":["acme","other"]}', '{"data":{"ok":[true]}}'),
    ("prefix-suffix", '{"subject":[{"prefix":"cust/"}],"source":[{"suffix":"crm"}]}', '{"subject":[{"prefix":{"equals-ignore-case":"CUST/"}}]}'),
    ("ignore-case", '{"data":{"name":[{"equals-ignore-case":"äRGER gmbh"}]}}', '{"data":{"name":[{"suffix":{"equals-ignore-case":"GMBH"}}]}}'),
    ("wildcard", '{"subject":[{"wildcard":"cust/*"}],"type":[{"wildcard":"*.\\\\*changed"}]}', '{"type":[{"contains":"omer"}]}'),
    ("anything-but", '{"data":{"tags":[{"anything-but":["vip","gold"]}],"note":[{"anything-but":{"prefix":"x"}}]}}', '{"data":{"amount":[{"anything-but":[1,2,3]}]}}'),
    ("numeric", '{"data":{"amount":[{"numeric":[">",1000,"<=",2000]}],"big":[9007199254740992]}}', '{"data":{"items":{"qty":[{"numeric":["=",0]}]}}}'),
    ("cidr", '{"data":{"ip":[{"cidr":"10.0.0.0/16"}]}}', '{"data":{"v6":[{"cidr":"2001:db8::/32"}]}}'),
    ("exists", '{"data":{"note":[{"exists":true}],"missing":[{"exists":false}]}}', '{"data":{"items":[{"exists":false}]}}'),
    ("or", '{"$or":[{"type":["a"]},{"data":{"$or":[{"amount":[1500.5]},{"ok":[false]}]}}]}', '{"data":{"items":{"sku":["a"],"qty":[0]}}}'),
    ("dotted", '{"data.items.sku":["b"],"data":{"items.qty":[0]}}', '{}'),
    ("null-empty", '{"data":{"note":[null],"name":[""]}}', '{"data":{"tags":[]}}'),
    ("invalid-numeric", '{"data":{"amount":[{"numeric":[">",5,"<",1]}]}}', '{"data":{"x":{"wildcard":"a**"}}}'),
    ("or-explosion", '{"$or":[{"a":[1]},{"b":[1]},{"c":[1]},{"d":[1]}],"x":{"$or":[{"a":[1]},{"b":[1]},{"c":[1]},{"d":[1]}]},"y":{"$or":[{"a":[1]},{"b":[1]},{"c":[1]},{"d":[1]}]},"z":{"$or":[{"a":[1]},{"b":[1]},{"c":[1]},{"d":[1]},{"e":[1]}]}}', '{"type":[{"prefix":""}]}'),
]
for name, a, b in PATTERN:
    write("pattern", name, join(a, EVENT, b))
write("pattern", "array-event", join('{"a":[1]}', '{"a":[[1],[[2]],{"b":[3]}]}', '{"a":{"b":[3]}}'))
write("pattern", "not-object", join('{"a":[1]}', '[{"a":1}]', '{}'))

# ---- transform: <selector><transform> %% <event> %% <vars> ------------------------------
# selector bit 0: proto JSON form; else mode = (b >> 1) % 9 - 1: b = 2*(mode+1).
CE = ('{"specversion":"1.0","id":"e1","source":"/connectors/crm","type":"customer.changed",'
      '"orgid":"acme","datacontenttype":"application/json","data":{"customer":{"name":"Alice \\"A\\"","tags":["a","b"],"n":12.50}}}')
CE_TEXT = ('{"specversion":"1.0","id":"e2","source":"/s","type":"t","datacontenttype":"text/plain",'
           '"data":"hello"}')
CE_B64 = ('{"specversion":"1.0","id":"e3","source":"/s","type":"t","datacontenttype":"image/png",'
          '"data_base64":"iVBORw0KGgo="}')


def mode_sel(mode):
    return bytes([2 * (mode + 1)])


TRANSFORM_JSON = [
    ("json-original", '{"mode":"ORIGINAL"}', CE),
    ("json-data", '{"mode":"DATA"}', CE),
    ("json-data-text", '{"mode":2}', CE_TEXT),
    ("json-data-b64", '{"mode":"DATA","value":null}', CE_B64),
    ("json-path", '{"mode":"JSONPATH","value":"$.data.customer[\'name\']"}', CE),
    ("json-path-index", '{"mode":"JSONPATH","value":"$.data.customer.tags[-1]"}', CE),
    ("json-constant", '{"mode":"CONSTANT","value":"{\\"fixed\\":true}"}', CE),
    ("json-template", '{"mode":"TEMPLATE","value":"{\\"who\\":\\"${name}\\",\\"n\\":${n}}","vars":{"name":"$.data.customer.name","n":"$.data.customer.n"}}', CE),
    ("json-template-text", '{"mode":"TEMPLATE","value":"Hi ${name}, ${t}","vars":{"name":"$.data.customer.name","t":"$.type"}}', CE),
    ("json-bad", '{"mode":"TEMPLATE","value":"${x}","vars":{"y":"$.."}}', CE),
]
for name, t, ev in TRANSFORM_JSON:
    write("transform", name, b"\x01" + join(t, ev))
TRANSFORM_RAW = [
    ("raw-path", 3, "$['data'][\"customer\"].tags[0]", CE, ""),
    ("raw-template", 5, '{"a":"${x}","b":[${y}],"c":"${x}-${y}"}', CE, "x=$.data.customer.name\ny=$.data.customer.tags"),
    ("raw-template-escape", 5, 'line ${x} \\${y} $ {z}', CE_TEXT, "x=$.data\ny=$.id"),
    ("raw-constant-text", 4, "plain text \u00e9", CE, ""),
    ("raw-data", 2, "", CE_B64, ""),
    ("raw-bad-mode", 7, "$", CE, ""),
    ("raw-path-unicode", 3, "$.data['\\u00e9\\ud83d\\ude00'].\u00e9", '{"data":{"\u00e9\U0001F600":{"\u00e9":1}}}', ""),
]
for name, mode, v, ev, vars_ in TRANSFORM_RAW:
    write("transform", name, mode_sel(mode) + join(v, ev, vars_))

# ---- cloudevents: <selector><text>; bit 0: batch --------------------------------------
CES = [
    ("full", CE[:-1] + ',"subject":"cust/1","time":"2024-05-01T10:00:00.123+02:00","dataschema":"https://ex.com/s.json","connector":"crm","zext":"z","aext":"a"}'),
    ("text", CE_TEXT),
    ("base64", CE_B64),
    ("xml", '{"specversion":"1.0","id":"x","source":"urn:a:b","type":"t","datacontenttype":"application/xml; charset=utf-8","data":"<a>\u00e9</a>"}'),
    ("json-string-data", '{"specversion":"1.0","id":"x","source":"/s","type":"t","data":"just a string"}'),
    ("int-bool-ext", '{"specversion":"1.0","id":"x","source":"/s","type":"t","num":42,"flag":true,"nil":null,"data":[1, 2 ,{"a" : 1e2}]}'),
    ("unicode-headers", '{"specversion":"1.0","id":"Euro \u20ac \U0001F600 %","source":"http://[::1]:80/a?b#c","type":"t \\"q\\"","subject":"\u00e9"}'),
    ("bad-time", '{"specversion":"1.0","id":"x","source":"/s","type":"t","time":"2024-13-01T00:00:00Z"}'),
    ("bad-version", '{"specversion":"0.3","id":"x","source":"/s","type":"t"}'),
    ("both-data", '{"specversion":"1.0","id":"x","source":"/s","type":"t","data":1,"data_base64":"AA=="}'),
    ("media-type", 'application/vnd.api+json; charset="utf-8"; q=0.5'),
    ("uri", 'https://user:pw@[2001:db8::1]:8443/a/%7Eb?c=d&e#f'),
    ("header-value", 'Euro%20%E2%82%AC%20%F0%9F%98%80%zz'),
]
for name, text in CES:
    write("cloudevents", name, b"\x00" + text.encode())
write("cloudevents", "batch", b"\x01[" + CES[0][1].encode() + b"," + CE_B64.encode() + b"]")
write("cloudevents", "batch-empty", b"\x01[]")


# ---- put_events: PutEventsRequest wire bytes --------------------------------------------
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def entry(id="", org="acme", type="com.example.customer.changed", subject="", time="",
          ct="", data=b"", ext=()):
    b = b""
    for num, v in ((1, id), (2, org), (3, type), (4, subject), (5, time), (6, ct)):
        if v:
            b += field(num, v)
    if data:
        b += field(7, data)
    for k, v in ext:
        b += field(8, field(1, k) + field(2, v))
    return b


def request(connector, *entries, request_id=""):
    b = field(1, connector)
    for e in entries:
        b += field(2, e)
    if request_id:
        b += field(3, request_id)
    return b


PUT = [
    ("one", request("fuzz-crm", entry(data=b'{"name":"Alice","n":1}'))),
    ("full", request("fuzz-crm", entry(id="evt-1", subject="cust/42", time="2024-05-01T10:00:00.5Z",
                                       ct="application/json; charset=utf-8", data=b'[1,2,{"a":null}]',
                                       ext=(("traceparent", "00-abc-01"), ("region", "eu"))),
                     request_id="r1")),
    ("text-data", request("fuzz-crm", entry(ct="text/plain", data="h\u00e9llo".encode()))),
    ("binary-data", request("fuzz-crm", entry(type="com.example.order.created", ct="application/octet-stream", data=bytes(range(256))))),
    ("model-bound", request("fuzz-crm", entry(type="com.example.contract.signed", data=b"not json"))),
    ("many", request("fuzz-crm", *[entry(id="e%d" % i, data=b"{}") for i in range(5)])),
    ("rejects", request("fuzz-crm",
                        entry(org=""), entry(org="bad org"), entry(type="unknown"),
                        entry(time="yesterday"), entry(ct="not a type"), entry(data=b"{bad"),
                        entry(ext=(("id", "x"),)), entry(ext=(("Bad", "x"),)),
                        entry(ext=(("dup", "1"), ("dup", "2"))), entry(subject="\x01"),
                        entry(id="x" * 129))),
    ("empty", b""),
]
for name, data in PUT:
    write("put_events", name, data)

# ---- evbctl: <selector><file text>; selector % 5: Connection, Action, Connector, Schema,
# PutEventsRequest -------------------------------------------------------------------------
EVBCTL = [
    ("connection-yaml", 0, "org: org1\nname: vip-customers\nconnector: crm\n"
     "event_types: [com.acme.crm.customer.changed]\n"
     "pattern: '{\"data\": {\"level\": [\"vip\"]}}'\naction: billing-hook\n"
     "transform: {mode: DATA}\nretry: {strategy: EXPONENTIAL_DECAY_RETRY, max_attempts: 10}\n"
     "dead_letter: true\n"),
    ("connection-json", 0, '{"org":"org1","name":"c","connector":"crm","transform":{"mode":"TEMPLATE","value":"${a}","vars":{"a":"$.data"}},"retry":{"max_attempts":"3"}}'),
    ("action-yaml", 1, "name: billing-hook\norg: org1\nkind: HTTP\nhttp:\n  url: https://billing.example.com/hook\n"
     "  method: POST\n  headers:\n    x-team: \"42\"\n  timeout_ms: 5000\n"),
    ("connector-kind-spec", 2, "---\nkind: Connector\nspec:\n  name: crm\n  isv: acme\n  event_types:\n"
     "    - type: com.acme.customer.changed\n      subject: std.customer\n      version: 2\n"
     "---\nkind: Connector\nspec: {name: b}\n...\n"),
    ("schema-yaml", 3, "subject: std.customer\nschema: |\n  {\"type\": \"object\"}\nschema_type: JSON\n"),
    ("put-events-yaml", 4, "connector: crm\nentries:\n  - org: acme\n    type: t\n"
     "    data: !!binary aGVsbG8=\n    extensions: {traceparent: '00-1-2-01'}\n"),
    ("yaml-scalars", 0, "a: ~\nb: Null\nc: TRUE\nd: 0x1F\ne: 0o17\nf: -.inf\ng: .NaN\nh: 1e3\n"
     "i: '007'\nj: \"tab\\there\"\nk: !!str 12\nl: 9223372036854775808\nm: \n"),
    ("yaml-anchors", 0, "base: &b {org: o1, name: n}\nother: *b\nlist: [&x 1, *x, [*x]]\n"),
    ("yaml-dup-key", 0, "a: 1\na: 2\n"),
    ("yaml-complex-key", 0, "? [a, b]\n: 1\n"),
    ("yaml-block-scalars", 1, "name: |+\n  keep\n\nhttp: {url: >-\n    folded\n    text}\n"),
]
for name, sel, text in EVBCTL:
    write("evbctl", name, bytes([sel]) + text.encode())
