#!/usr/bin/python3
"""SchemaRegistry and data-model validation on PutEvents.

Roles, subject names, versions and global ids, idempotent registration (canonical JSON),
invalid schemas, compatibility levels and rules (BACKWARD / FORWARD / FULL and their
_TRANSITIVE variants, every incompatibility reported), soft and permanent deletes (and the
versions bound to connector event types), ValidatePayload, the built-in standard models, and
PutEvents against bound data models (SCHEMA_VIOLATION with JSON-pointer violations, partial
success, dataschema, pinned version vs latest, format annotation vs assertion).
"""

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, REJECTED, REPO, Client, ServerTestCase, connector_pb2, create_key, describe,
    entry, events_pb2, main, put, registry_pb2, rpc_code, unique)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
PRECOND = grpc.StatusCode.FAILED_PRECONDITION
DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTH = grpc.StatusCode.UNAUTHENTICATED

D2020 = "https://json-schema.org/draft/2020-12/schema"
STD_MODELS = ("std.customer", "std.product", "std.contract", "std.order")
MODELS_DIR = REPO / "registry" / "models"
DATASCHEMA_PREFIX = "evb://registry/schemas/ids/"

CL = registry_pb2.CompatibilityLevel
LEVEL_NAME = {v: k for k, v in CL.items()}
FM = registry_pb2.FormatMode

# A complete, valid std.customer (docs/data-models.md).
CUSTOMER = {
    "id": "cus_01HZX3Y8K2",
    "external_ids": [{"system": "xbongbong-crm", "id": "88231"},
                     {"system": "kingdee-erp", "id": "C-000417"}],
    "kind": "company",
    "name": "Acme Trading",
    "legal_name": "Acme Trading Co., Ltd.",
    "status": "active",
    "email": "ap@acme.example",
    "phone": "+86 571 8888 0000",
    "contacts": [{"name": "Li Wei", "email": "li.wei@acme.example",
                  "phone": "+8613800000000", "role": "purchasing", "primary": True}],
    "billing_address": {"line1": "1 West Lake Road", "city": "Hangzhou",
                        "postal_code": "310000", "country": "CN"},
    "currency": "CNY",
    "credit_limit": {"amount": "500000.00", "currency": "CNY"},
    "payment_terms_days": 30,
    "owner": {"id": "u_1024", "name": "Zhang San"},
    "tags": ["key-account"],
    "custom_fields": {"crm_level": "A"},
    "created_at": "2026-03-01T08:30:00Z",
    "updated_at": "2026-05-12T10:02:11.250+08:00",
}


def js(obj):
    return json.dumps(obj)


def jb(obj):
    return json.dumps(obj).encode()


def obj_schema(props, required=(), closed=True, **kw):
    s = {"$schema": D2020, "type": "object", "properties": props}
    if required:
        s["required"] = list(required)
    if closed:
        s["additionalProperties"] = False
    s.update(kw)
    return s


def vdesc(violations):
    return "[%s]" % "; ".join("%r %r %s" % (v.instance_path, v.keyword_location, v.message)
                              for v in violations)


class RegistryBase(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            _k, key = create_key(cls.admin, "schema-owner")
            cls.owner = Client(cls.server.target, key)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        owner = getattr(cls, "owner", None)
        if owner is not None:
            owner.close()
        super().tearDownClass()

    # -- registry helpers --

    def register(self, subject, schema, cli=None):
        cli = cli or self.owner
        text = schema if isinstance(schema, str) else js(schema)
        return cli.registry.RegisterSchema(
            registry_pb2.RegisterSchemaRequest(subject=subject, schema=text))

    def register_err(self, code, subject, schema, cli=None):
        cli = cli or self.owner
        text = schema if isinstance(schema, str) else js(schema)
        return self.assertRpcError(code, cli.registry.RegisterSchema,
                                   registry_pb2.RegisterSchemaRequest(subject=subject,
                                                                      schema=text))

    def get(self, subject, version=0, cli=None):
        cli = cli or self.admin
        return cli.registry.GetSchema(registry_pb2.GetSchemaRequest(subject=subject,
                                                                    version=version))

    def by_id(self, id_, cli=None):
        cli = cli or self.admin
        return cli.registry.GetSchemaById(registry_pb2.GetSchemaByIdRequest(id=id_))

    def versions(self, subject, include_deleted=False):
        return list(self.admin.registry.ListVersions(registry_pb2.ListVersionsRequest(
            subject=subject, include_deleted=include_deleted)).versions)

    def subjects(self, prefix="", include_deleted=False):
        return list(self.admin.registry.ListSubjects(registry_pb2.ListSubjectsRequest(
            prefix=prefix, include_deleted=include_deleted)).subjects)

    def delete(self, subject, version=0, permanent=False, cli=None):
        cli = cli or self.owner
        return list(cli.registry.DeleteSchema(registry_pb2.DeleteSchemaRequest(
            subject=subject, version=version, permanent=permanent)).versions)

    def set_compat(self, subject, level=0, format_mode=0, cli=None):
        cli = cli or self.owner
        return cli.registry.SetCompatibility(registry_pb2.SetCompatibilityRequest(
            subject=subject, level=level, format_mode=format_mode))

    def get_compat(self, subject=""):
        return self.admin.registry.GetCompatibility(
            registry_pb2.GetCompatibilityRequest(subject=subject))

    def check(self, subject, schema, version=0):
        return self.admin.registry.CheckCompatibility(registry_pb2.CheckCompatibilityRequest(
            subject=subject, schema=schema if isinstance(schema, str) else js(schema),
            version=version))

    def validate(self, subject, payload, version=0, cli=None):
        cli = cli or self.admin
        if not isinstance(payload, bytes):
            payload = jb(payload)
        return cli.registry.ValidatePayload(registry_pb2.ValidatePayloadRequest(
            subject=subject, version=version, payload=payload))

    # -- connector helpers --

    def model_connector(self, types, isv=None):
        """types: [(event type, subject, version)]; returns (isv client, connector)."""
        isv = isv or unique("isv")
        _kid, key = create_key(self.admin, "isv", isv)
        cli = Client(self.server.target, key)
        self.addCleanup(cli.close)
        c = connector_pb2.Connector(name=unique("conn"), display_name="registry test", isv=isv)
        for t, subject, version in types:
            c.event_types.add(type=t, subject=subject, version=version)
        conn = cli.connectors.CreateConnector(connector_pb2.CreateConnectorRequest(connector=c))
        return cli, conn

    def dataschema(self, cli, org, conn, event_id):
        ev = cli.events.GetEvent(events_pb2.GetEventRequest(event_id=event_id, org=org,
                                                            connector=conn.name))
        self.assertIn("dataschema", ev.attributes, "no dataschema attribute: %s" % ev)
        a = ev.attributes["dataschema"]
        self.assertEqual(a.WhichOneof("attr"), "ce_uri", "dataschema must be a URI: %s" % a)
        return ev, a.ce_uri

    def assertViolation(self, violations, instance_path, keyword_suffix=None, what=""):
        for v in violations:
            if v.instance_path == instance_path and (
                    keyword_suffix is None or v.keyword_location.endswith(keyword_suffix)):
                self.assertTrue(v.message, "violation without a message: %s" % v)
                return v
        self.fail("%sno violation at instance_path %r%s: %s" % (
            what + ": " if what else "", instance_path,
            " with keyword_location ending in %r" % keyword_suffix if keyword_suffix else "",
            vdesc(violations)))


class RegistryTest(RegistryBase):

    # ------------------------------------------------------------------ roles

    def test_roles(self):
        subj = unique("roles")
        schema = obj_schema({"a": {"type": "string"}})
        r = self.register(subj, schema)  # schema-owner may write
        self.assertEqual(r.version, 1)
        r2 = self.register(unique("roles-admin"), schema, cli=self.admin)  # admin may write
        self.assertEqual(r2.version, 1)

        readers = {}
        for role, scope in (("isv", unique("isv")), ("org-admin", unique("org")),
                            ("subscriber", unique("org"))):
            _k, key = create_key(self.admin, role, scope)
            readers[role] = Client(self.server.target, key)
            self.addCleanup(readers[role].close)
        nokey = Client(self.server.target, None)
        self.addCleanup(nokey.close)
        badkey = Client(self.server.target, "evb_not_a_real_key_0123456789")
        self.addCleanup(badkey.close)

        def writes(cli):
            return [
                ("RegisterSchema", lambda: cli.registry.RegisterSchema(
                    registry_pb2.RegisterSchemaRequest(subject=subj, schema=js(schema)))),
                ("RegisterSchema(new subject)", lambda: cli.registry.RegisterSchema(
                    registry_pb2.RegisterSchemaRequest(subject=unique("roles-x"),
                                                       schema=js(schema)))),
                ("DeleteSchema", lambda: cli.registry.DeleteSchema(
                    registry_pb2.DeleteSchemaRequest(subject=subj, version=1))),
                ("SetCompatibility", lambda: cli.registry.SetCompatibility(
                    registry_pb2.SetCompatibilityRequest(subject=subj, level=CL.Value("NONE")))),
                ("SetCompatibility(global)", lambda: cli.registry.SetCompatibility(
                    registry_pb2.SetCompatibilityRequest(subject="", level=CL.Value("NONE")))),
            ]

        def reads(cli):
            return [
                ("GetSchema", lambda: cli.registry.GetSchema(
                    registry_pb2.GetSchemaRequest(subject=subj))),
                ("GetSchemaById", lambda: cli.registry.GetSchemaById(
                    registry_pb2.GetSchemaByIdRequest(id=r.id))),
                ("ListSubjects", lambda: cli.registry.ListSubjects(
                    registry_pb2.ListSubjectsRequest())),
                ("ListVersions", lambda: cli.registry.ListVersions(
                    registry_pb2.ListVersionsRequest(subject=subj))),
                ("CheckCompatibility", lambda: cli.registry.CheckCompatibility(
                    registry_pb2.CheckCompatibilityRequest(subject=subj, schema=js(schema)))),
                ("GetCompatibility", lambda: cli.registry.GetCompatibility(
                    registry_pb2.GetCompatibilityRequest(subject=subj))),
                ("ValidatePayload", lambda: cli.registry.ValidatePayload(
                    registry_pb2.ValidatePayloadRequest(subject=subj, payload=b'{"a":"x"}'))),
            ]

        for role, cli in readers.items():
            for name, call in writes(cli):
                with self.subTest(role=role, rpc=name):
                    self.assertRpcError(DENIED, call)
            for name, call in reads(cli):
                with self.subTest(role=role, rpc=name):
                    try:
                        call()
                    except grpc.RpcError as e:
                        self.fail("%s with a %s key: %s %s" % (name, role, e.code(),
                                                               e.details()))
        for label, cli in (("no key", nokey), ("unknown key", badkey)):
            for name, call in writes(cli) + reads(cli):
                with self.subTest(key=label, rpc=name):
                    self.assertRpcError(UNAUTH, call)
        # nothing changed through the refused writes
        self.assertEqual(self.versions(subj), [1])
        self.assertEqual(self.get_compat(subj).level, CL.Value("BACKWARD"))
        self.assertEqual(self.get_compat("").level, CL.Value("BACKWARD"))
        # the schema-owner may set compatibility and delete
        self.set_compat(subj, CL.Value("NONE"))
        self.assertEqual(self.delete(subj, 1), [1])

    # ------------------------------------------------------------------ subjects, versions, ids

    def test_subject_names(self):
        schema = js({"type": "string"})
        tag = unique("s")
        good = ["a", "0", "a.b_c-d9", "9" + tag, ("n" + tag).ljust(128, "x")]
        for s in good:
            with self.subTest(subject=s):
                self.assertLessEqual(len(s), 128)
                r = self.register(s, schema)
                self.assertEqual(r.version, 1, "first version of %r" % s)
                self.assertEqual(self.get(s).subject, s)
        bad = ["", "A", "Abc", "-a", ".a", "_a", "a" * 129, "a/b", "a b", "a:b", "ab\u00e9",
               "a\n", "a*"]
        for s in bad:
            with self.subTest(subject=s):
                e = self.register_err(INVALID, s, schema)
                self.assertIn("subject", e.details(), "message must name the field")
                self.assertRpcError(INVALID, self.owner.registry.SetCompatibility,
                                    registry_pb2.SetCompatibilityRequest(
                                        subject=s or "A", level=CL.Value("NONE")))

    def test_register_versions_ids_and_idempotence(self):
        subj = unique("reg")
        v1 = {"$schema": D2020, "type": "object", "additionalProperties": False,
              "properties": {"a": {"type": "string", "maxLength": 10}, "b": {"type": "integer"}},
              "required": ["a"]}
        r1 = self.register(subj, v1)
        self.assertEqual(r1.version, 1)
        self.assertGreater(r1.id, 0)
        # identical after canonicalisation: other key order, whitespace, escapes
        reordered = ('{\n  "required" : [ "a" ],\n\t"properties": {"b": {"type": "integer"},'
                     ' "a": {"maxLength": 10, "type": "str\\u0069ng"}},\n'
                     '  "additionalProperties": false, "type": "object", "$schema": "%s"}'
                     % D2020)
        for text in (js(v1), json.dumps(v1, indent=4, sort_keys=True), reordered):
            r = self.register(subj, text)
            self.assertEqual((r.id, r.version), (r1.id, r1.version),
                             "re-registering identical content must return the same id and "
                             "version: %r" % text)
        self.assertEqual(self.versions(subj), [1], "no new version for identical content")

        v2 = copy.deepcopy(v1)
        v2["properties"]["c"] = {"type": "boolean"}  # optional property, closed model
        r2 = self.register(subj, v2)
        self.assertEqual(r2.version, 2)
        self.assertNotEqual(r2.id, r1.id)
        self.assertEqual(self.versions(subj), [1, 2])
        # re-registering the content of an older version returns that version
        r = self.register(subj, json.dumps(v1, sort_keys=True))
        self.assertEqual((r.id, r.version), (r1.id, 1),
                         "re-registering v1's content after v2 must return v1")
        self.assertEqual(self.versions(subj), [1, 2])

        # ids are global: another subject with the same content gets its own id
        other = unique("reg-other")
        ro = self.register(other, v1)
        self.assertEqual(ro.version, 1)
        self.assertNotIn(ro.id, (r1.id, r2.id), "schema ids must be global, not per subject")

        latest = self.get(subj)
        self.assertEqual((latest.subject, latest.version, latest.id), (subj, 2, r2.id))
        self.assertEqual(json.loads(latest.schema), v2)
        self.assertFalse(latest.deleted)
        self.assertRegex(latest.create_time, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        s1 = self.get(subj, 1)
        self.assertEqual((s1.version, s1.id), (1, r1.id))
        self.assertEqual(json.loads(s1.schema), v1)
        b = self.by_id(r1.id)
        self.assertEqual((b.subject, b.version, b.id), (subj, 1, r1.id))
        self.assertEqual(json.loads(b.schema), v1)
        bo = self.by_id(ro.id)
        self.assertEqual((bo.subject, bo.version), (other, 1))

        subs = self.subjects()
        for s in (subj, other) + STD_MODELS:
            self.assertIn(s, subs, "ListSubjects")
        pre = self.subjects(prefix=subj)
        self.assertIn(subj, pre)
        self.assertNotIn("std.customer", pre, "prefix filter ignored: %s" % pre)
        self.assertTrue(all(s.startswith(subj) for s in pre), pre)

        self.assertRpcError(NOT_FOUND, self.get, unique("nosuch"))
        self.assertRpcError(NOT_FOUND, self.get, subj, 3)
        self.assertRpcError(NOT_FOUND, self.by_id, 987654321)
        self.assertRpcError(NOT_FOUND, self.versions, unique("nosuch"))

    def test_invalid_schemas(self):
        cases = [
            ("not JSON", '{"type": "object",', None),
            ("trailing garbage", '{"type": "object"} x', None),
            ("duplicate key", '{"type": "object", "type": "string"}', None),
            ("type is a number", js({"$schema": D2020, "type": 5}), "/type"),
            ("nested bad type", js({"$schema": D2020, "type": "object",
                                    "properties": {"a": {"type": "strong"}}}),
             "/properties/a"),
            ("minLength negative", js({"properties": {"a": {"minLength": -1}}}),
             "/properties/a"),
            ("required not array", js({"required": "a"}), "/required"),
            ("bad regex", js({"$schema": D2020, "type": "object",
                              "properties": {"code": {"type": "string", "pattern": "([a-z"}}}),
             "/properties/code/pattern"),
            ("unresolvable $ref", js({"$schema": D2020, "type": "object",
                                      "properties": {"x": {"$ref": "#/$defs/missing"}}}),
             "/properties/x"),
            ("unresolvable remote $ref",
             js({"properties": {"r": {"$ref": "https://example.com/nope.json"}}}),
             "/properties/r"),
            ("unknown $schema", js({"$schema": "https://example.com/my-dialect", "type": "string"}),
             "$schema"),
            ("schema is a number", "5", None),
        ]
        for name, text, where in cases:
            subj = unique("bad")
            with self.subTest(case=name):
                e = self.register_err(INVALID, subj, text)
                self.assertTrue(e.details(), "INVALID_ARGUMENT needs a message")
                if where:
                    self.assertIn(where, e.details(),
                                  "%s: the message must name the location %r" % (name, where))
                self.assertRpcError(NOT_FOUND, self.versions, subj)
        # booleans are valid schemas
        self.assertEqual(self.register(unique("bool"), "true").version, 1)

    # ------------------------------------------------------------------ compatibility

    def test_compat_levels_get_set(self):
        g = self.get_compat("")
        self.assertEqual(g.level, CL.Value("BACKWARD"), "default global level")
        self.assertEqual(g.format_mode, FM.Value("ANNOTATE"), "default format mode")
        subj = unique("lvl")
        self.register(subj, {"type": "string"})
        self.assertEqual(self.get_compat(subj).level, CL.Value("BACKWARD"))
        self.assertEqual(self.get_compat("std.customer").level, CL.Value("BACKWARD"))

        self.addCleanup(self.set_compat, "", CL.Value("BACKWARD"))
        r = self.set_compat("", CL.Value("FULL"))
        self.assertEqual(r.level, CL.Value("FULL"))
        self.assertEqual(self.get_compat("").level, CL.Value("FULL"))
        self.assertEqual(self.get_compat(subj).level, CL.Value("FULL"),
                         "a subject without its own level uses the global one")
        # the global level is enforced: FULL refuses an enum extension
        self.register(subj + "-e", {"enum": ["a", "b"]})
        self.register_err(PRECOND, subj + "-e", {"enum": ["a", "b", "c"]})

        for name in ("NONE", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
                     "FULL_TRANSITIVE", "BACKWARD"):
            r = self.set_compat(subj, CL.Value(name))
            self.assertEqual(r.level, CL.Value(name), name)
            self.assertEqual(self.get_compat(subj).level, CL.Value(name), name)
            self.assertEqual(self.get_compat("").level, CL.Value("FULL"),
                             "setting a subject's level changed the global one")
        # UNSPECIFIED removes the subject's own level: back to the global one
        self.set_compat(subj, 0)
        self.assertEqual(self.get_compat(subj).level, CL.Value("FULL"))
        self.set_compat("", CL.Value("BACKWARD"))
        self.assertEqual(self.get_compat(subj).level, CL.Value("BACKWARD"))

    def _check_rules(self, level, cases):
        for name, old, new, compatible in cases:
            subj = unique("rule")
            with self.subTest(level=LEVEL_NAME[level], case=name):
                self.register(subj, old)
                self.set_compat(subj, level)
                r = self.check(subj, new)
                self.assertEqual(r.compatible, compatible, "%s %s: %s -> %s: messages %s" % (
                    LEVEL_NAME[level], name, js(old), js(new), list(r.messages)))
                if compatible:
                    self.assertEqual(list(r.messages), [], "compatible but messages")
                else:
                    self.assertTrue(r.messages, "incompatible without a message")
                # registration agrees with the check
                if compatible:
                    rr = self.register(subj, new)
                    self.assertEqual(rr.version, 2)
                else:
                    e = self.register_err(PRECOND, subj, new)
                    self.assertTrue(e.details())
                    self.assertEqual(self.versions(subj), [1])

    def test_compat_rules_backward(self):
        S = {"type": "string"}
        cases = [
            ("open: property added", obj_schema({"a": S}, closed=False),
             obj_schema({"a": S, "b": S}, closed=False), False),
            ("open: property added accepting anything ({})", obj_schema({"a": S}, closed=False),
             obj_schema({"a": S, "b": {}}, closed=False), True),
            ("open: property added accepting anything (true)",
             obj_schema({"a": S}, closed=False), obj_schema({"a": S, "b": True}, closed=False),
             True),
            ("closed: optional property added", obj_schema({"a": S}),
             obj_schema({"a": S, "b": S}), True),
            ("closed: property removed", obj_schema({"a": S, "b": S}), obj_schema({"a": S}),
             False),
            ("new required with default", obj_schema({"a": S}),
             obj_schema({"a": S, "b": {"type": "string", "default": "x"}}, required=["b"]),
             True),
            ("new required without default", obj_schema({"a": S, "b": S}),
             obj_schema({"a": S, "b": S}, required=["b"]), False),
            ("required entry removed", obj_schema({"a": S, "b": S}, required=["a", "b"]),
             obj_schema({"a": S, "b": S}, required=["a"]), True),
            ("additionalProperties false -> true", obj_schema({"a": S}),
             obj_schema({"a": S}, additionalProperties=True), True),
            ("additionalProperties true -> false", obj_schema({"a": S}, additionalProperties=True),
             obj_schema({"a": S}), False),
            ("integer -> number", obj_schema({"n": {"type": "integer"}}),
             obj_schema({"n": {"type": "number"}}), True),
            ("type added", obj_schema({"n": {"type": "string"}}),
             obj_schema({"n": {"type": ["string", "null"]}}), True),
            ("type changed", obj_schema({"n": {"type": "string"}}),
             obj_schema({"n": {"type": "integer"}}), False),
            ("number -> integer", obj_schema({"n": {"type": "number"}}),
             obj_schema({"n": {"type": "integer"}}), False),
            ("maxLength raised", obj_schema({"a": {"type": "string", "maxLength": 10}}),
             obj_schema({"a": {"type": "string", "maxLength": 20}}), True),
            ("maxLength removed", obj_schema({"a": {"type": "string", "maxLength": 10}}),
             obj_schema({"a": {"type": "string"}}), True),
            ("maxLength lowered", obj_schema({"a": {"type": "string", "maxLength": 10}}),
             obj_schema({"a": {"type": "string", "maxLength": 5}}), False),
            ("maxLength added", obj_schema({"a": S}),
             obj_schema({"a": {"type": "string", "maxLength": 5}}), False),
            ("maximum raised", obj_schema({"n": {"type": "integer", "maximum": 10}}),
             obj_schema({"n": {"type": "integer", "maximum": 100}}), True),
            ("maximum lowered", obj_schema({"n": {"type": "integer", "maximum": 10}}),
             obj_schema({"n": {"type": "integer", "maximum": 9}}), False),
            ("minimum lowered", obj_schema({"n": {"type": "integer", "minimum": 5}}),
             obj_schema({"n": {"type": "integer", "minimum": 0}}), True),
            ("minimum removed", obj_schema({"n": {"type": "integer", "minimum": 5}}),
             obj_schema({"n": {"type": "integer"}}), True),
            ("minimum raised", obj_schema({"n": {"type": "integer", "minimum": 5}}),
             obj_schema({"n": {"type": "integer", "minimum": 6}}), False),
            ("minimum added", obj_schema({"n": {"type": "integer"}}),
             obj_schema({"n": {"type": "integer", "minimum": 0}}), False),
            ("maxItems raised", obj_schema({"l": {"type": "array", "maxItems": 3}}),
             obj_schema({"l": {"type": "array", "maxItems": 4}}), True),
            ("maxItems lowered", obj_schema({"l": {"type": "array", "maxItems": 3}}),
             obj_schema({"l": {"type": "array", "maxItems": 2}}), False),
            ("minItems lowered", obj_schema({"l": {"type": "array", "minItems": 3}}),
             obj_schema({"l": {"type": "array", "minItems": 1}}), True),
            ("minItems raised", obj_schema({"l": {"type": "array", "minItems": 1}}),
             obj_schema({"l": {"type": "array", "minItems": 3}}), False),
            ("minLength lowered", obj_schema({"a": {"type": "string", "minLength": 3}}),
             obj_schema({"a": {"type": "string", "minLength": 1}}), True),
            ("minLength raised", obj_schema({"a": {"type": "string", "minLength": 1}}),
             obj_schema({"a": {"type": "string", "minLength": 3}}), False),
            ("pattern removed", obj_schema({"a": {"type": "string", "pattern": "^[a-z]+$"}}),
             obj_schema({"a": S}), True),
            ("pattern added", obj_schema({"a": S}),
             obj_schema({"a": {"type": "string", "pattern": "^[a-z]+$"}}), False),
            ("pattern changed", obj_schema({"a": {"type": "string", "pattern": "^[a-z]+$"}}),
             obj_schema({"a": {"type": "string", "pattern": "^[0-9]+$"}}), False),
            ("enum extended", obj_schema({"s": {"enum": ["a", "b"]}}),
             obj_schema({"s": {"enum": ["a", "b", "c"]}}), True),
            ("enum value removed", obj_schema({"s": {"enum": ["a", "b"]}}),
             obj_schema({"s": {"enum": ["a"]}}), False),
            ("annotations changed", obj_schema({"a": {"type": "string", "title": "A",
                                                      "description": "old",
                                                      "examples": ["x"]}},
                                               title="Old", description="old"),
             obj_schema({"a": {"type": "string", "title": "Renamed",
                               "description": "new text", "examples": ["y", "z"]}},
                        title="New", description="changed", examples=[{}]), True),
            ("annotations added", obj_schema({"a": S}),
             obj_schema({"a": {"type": "string", "title": "T", "description": "D",
                               "examples": ["e"]}}, title="X"), True),
            ("nested: inner bound lowered",
             obj_schema({"o": obj_schema({"a": {"type": "string", "maxLength": 9}})}),
             obj_schema({"o": obj_schema({"a": {"type": "string", "maxLength": 8}})}), False),
            ("items: type widened",
             obj_schema({"l": {"type": "array", "items": {"type": "integer"}}}),
             obj_schema({"l": {"type": "array", "items": {"type": "number"}}}), True),
        ]
        self._check_rules(CL.Value("BACKWARD"), cases)

    def test_compat_rules_forward_and_full(self):
        S = {"type": "string"}
        forward = [
            ("enum extended", obj_schema({"s": {"enum": ["a", "b"]}}),
             obj_schema({"s": {"enum": ["a", "b", "c"]}}), False),
            ("enum value removed", obj_schema({"s": {"enum": ["a", "b"]}}),
             obj_schema({"s": {"enum": ["a"]}}), True),
            ("maxLength lowered", obj_schema({"a": {"type": "string", "maxLength": 10}}),
             obj_schema({"a": {"type": "string", "maxLength": 5}}), True),
            ("maxLength raised", obj_schema({"a": {"type": "string", "maxLength": 10}}),
             obj_schema({"a": {"type": "string", "maxLength": 20}}), False),
            ("integer -> number", obj_schema({"n": {"type": "integer"}}),
             obj_schema({"n": {"type": "number"}}), False),
            ("new required without default", obj_schema({"a": S, "b": S}),
             obj_schema({"a": S, "b": S}, required=["b"]), True),
            ("required entry removed", obj_schema({"a": S, "b": S}, required=["a", "b"]),
             obj_schema({"a": S, "b": S}, required=["a"]), False),
            ("additionalProperties true -> false", obj_schema({"a": S}, additionalProperties=True),
             obj_schema({"a": S}), True),
            ("annotations changed", obj_schema({"a": S}, description="old"),
             obj_schema({"a": S}, description="new"), True),
        ]
        self._check_rules(CL.Value("FORWARD"), forward)
        full = [
            ("enum extended", obj_schema({"s": {"enum": ["a", "b"]}}),
             obj_schema({"s": {"enum": ["a", "b", "c"]}}), False),
            ("enum value removed", obj_schema({"s": {"enum": ["a", "b"]}}),
             obj_schema({"s": {"enum": ["a"]}}), False),
            ("maxLength raised", obj_schema({"a": {"type": "string", "maxLength": 10}}),
             obj_schema({"a": {"type": "string", "maxLength": 20}}), False),
            ("annotations changed", obj_schema({"a": {"type": "string", "title": "x"}}),
             obj_schema({"a": {"type": "string", "title": "y", "examples": ["q"]}},
                        description="new"), True),
            ("closed: optional property with a default added", obj_schema({"a": S}),
             obj_schema({"a": S, "b": {"type": "string", "default": ""}}), False),
        ]
        # (in FULL, a closed model cannot gain a property: old readers would reject it)
        self._check_rules(CL.Value("FULL"), full)
        none = [
            ("type changed", {"type": "string"}, {"type": "integer"}, True),
            ("enum value removed", {"enum": [1, 2]}, {"enum": [3]}, True),
        ]
        self._check_rules(CL.Value("NONE"), none)

    def test_compat_transitive(self):
        # v1 string; v2 integer (registered under NONE); candidates are compatible with v2
        # but not with v1 in the direction of the level.
        backward_c = {"type": "number"}                       # accepts every v2 integer
        forward_c = {"type": "integer", "maximum": 100}       # writes only v2 integers
        full_c = {"type": "integer", "description": "same"}   # same language as v2
        for level, cand in (("BACKWARD", backward_c), ("FORWARD", forward_c),
                            ("FULL", full_c)):
            with self.subTest(level=level):
                subj = unique("trans")
                r1 = self.register(subj, {"type": "string"})
                self.set_compat(subj, CL.Value("NONE"))
                r2 = self.register(subj, {"type": "integer"})
                self.assertEqual((r1.version, r2.version), (1, 2))

                self.set_compat(subj, CL.Value(level + "_TRANSITIVE"))
                c = self.check(subj, cand)
                self.assertFalse(c.compatible, "%s_TRANSITIVE must check version 1 too: %s"
                                 % (level, list(c.messages)))
                self.assertTrue(any("version 1" in m for m in c.messages),
                                "messages should name version 1: %s" % list(c.messages))
                self.assertFalse(any("version 2" in m for m in c.messages),
                                 "v2 is compatible, yet reported: %s" % list(c.messages))
                e = self.register_err(PRECOND, subj, cand)
                self.assertIn("version 1", e.details(),
                              "the refusal should say which version: %s" % e.details())
                # explicit versions: compatible with v2, not with v1
                self.assertTrue(self.check(subj, cand, version=2).compatible)
                self.assertFalse(self.check(subj, cand, version=1).compatible)
                self.assertRpcError(NOT_FOUND, self.check, subj, cand, 7)

                self.set_compat(subj, CL.Value(level))
                c = self.check(subj, cand)
                self.assertTrue(c.compatible, "%s checks only the latest version: %s"
                                % (level, list(c.messages)))
                r3 = self.register(subj, cand)
                self.assertEqual(r3.version, 3)

    def test_compat_every_incompatibility_reported(self):
        subj = unique("multi")
        v1 = obj_schema({"a": {"type": "string", "maxLength": 10},
                         "s": {"enum": ["x", "y"]},
                         "n": {"type": "number"}})
        self.register(subj, v1)
        v2 = obj_schema({"a": {"type": "string", "maxLength": 5},   # lowered
                         "s": {"enum": ["x"]},                      # value removed
                         "n": {"type": "string"}})                  # type changed
        c = self.check(subj, v2)
        self.assertFalse(c.compatible)
        msgs = list(c.messages)
        self.assertGreaterEqual(len(msgs), 3, "every incompatibility must be reported: %s" % msgs)
        for where in ("/properties/a", "/properties/s", "/properties/n"):
            self.assertTrue(any(where in m for m in msgs), "no message about %s: %s"
                            % (where, msgs))
        e = self.register_err(PRECOND, subj, v2)
        for where in ("/properties/a", "/properties/s", "/properties/n"):
            self.assertIn(where, e.details(), "the refusal must list every change")
        self.assertEqual(self.versions(subj), [1])
        # two independent changes: two messages
        v2b = obj_schema({"a": {"type": "string", "maxLength": 5},
                          "s": {"enum": ["x"]}, "n": {"type": "number"}})
        c = self.check(subj, v2b)
        self.assertFalse(c.compatible)
        self.assertGreaterEqual(len(c.messages), 2, list(c.messages))
        # an invalid candidate is INVALID_ARGUMENT, not "incompatible"
        self.assertRpcError(INVALID, self.check, subj, '{"type": 5}')
        self.assertRpcError(INVALID, self.check, subj, "{")
        # the registered version is compatible with itself
        fresh = self.check(subj, v1)
        self.assertTrue(fresh.compatible, "v1 against itself: %s" % list(fresh.messages))

    # ------------------------------------------------------------------ deletes

    def test_delete_soft_then_permanent(self):
        subj = unique("del")
        s = [obj_schema({"a": {"type": "string", "maxLength": 10 * i}}) for i in (1, 2, 3, 4)]
        ids = [self.register(subj, x).id for x in s[:3]]
        self.assertEqual(self.versions(subj), [1, 2, 3])

        e = self.assertRpcError(PRECOND, self.delete, subj, 3, True)
        self.assertTrue(e.details())
        self.assertEqual(self.versions(subj), [1, 2, 3], "refused permanent delete deleted")

        self.assertEqual(self.delete(subj, 3), [3])
        self.assertEqual(self.get(subj).version, 2, "GetSchema latest must skip soft-deleted")
        self.assertEqual(self.versions(subj), [1, 2])
        self.assertEqual(self.versions(subj, include_deleted=True), [1, 2, 3])
        b = self.by_id(ids[2])
        self.assertTrue(b.deleted, "GetSchemaById of a soft-deleted version: deleted=true")
        self.assertEqual((b.subject, b.version), (subj, 3))
        self.assertFalse(self.by_id(ids[1]).deleted)
        self.assertIn(subj, self.subjects(prefix=subj))
        # permanent delete after the soft one
        self.assertEqual(self.delete(subj, 3, permanent=True), [3])
        self.assertRpcError(NOT_FOUND, self.by_id, ids[2])
        self.assertEqual(self.versions(subj, include_deleted=True), [1, 2])

        # version numbers are never reused
        r4 = self.register(subj, s[3])
        self.assertEqual(r4.version, 4, "a permanently deleted version number was reused")
        self.assertNotIn(r4.id, ids)
        self.assertEqual(self.versions(subj), [1, 2, 4])

        # version 0: every version
        self.assertRpcError(PRECOND, self.delete, subj, 0, True)
        self.assertEqual(sorted(self.delete(subj, 0)), [1, 2, 4])
        code, resp = rpc_code(self.versions, subj)
        self.assertTrue(code == NOT_FOUND or (code == grpc.StatusCode.OK and resp == []),
                        "ListVersions of a fully soft-deleted subject: %s %s" % (code, resp))
        self.assertEqual(self.versions(subj, include_deleted=True), [1, 2, 4])
        self.assertNotIn(subj, self.subjects(), "a subject whose versions are all deleted")
        self.assertNotIn(subj, self.subjects(prefix=subj))
        self.assertIn(subj, self.subjects(include_deleted=True))
        self.assertIn(subj, self.subjects(prefix=subj, include_deleted=True))
        self.assertRpcError(NOT_FOUND, self.get, subj)
        self.assertTrue(self.by_id(r4.id).deleted)
        self.assertEqual(sorted(self.delete(subj, 0, permanent=True)), [1, 2, 4])
        self.assertNotIn(subj, self.subjects(include_deleted=True))
        self.assertRpcError(NOT_FOUND, self.by_id, ids[0])

        # a subject re-created after everything was deleted continues the numbering
        r5 = self.register(subj, s[0])
        self.assertEqual(r5.version, 5, "version numbers are never reused")

        self.assertRpcError(NOT_FOUND, self.delete, unique("nosuch"), 0)
        self.assertRpcError(NOT_FOUND, self.delete, unique("nosuch"), 1)
        self.assertRpcError(NOT_FOUND, self.delete, subj, 99)
        self.assertRpcError(NOT_FOUND, self.delete, subj, 99, True)
        self.assertRpcError(INVALID, self.delete, "Bad Subject", 1)

    def test_delete_bound_versions(self):
        mk = lambda n: obj_schema({"a": {"type": "string", "maxLength": n}})  # noqa: E731
        # a pinned version may not be soft-deleted; nobody follows latest here
        pinned = unique("pinned")
        p1, p2 = self.register(pinned, mk(5)), self.register(pinned, mk(10))
        self.assertEqual((p1.version, p2.version), (1, 2))
        # a subject followed as latest: its last live version may not be deleted
        follow = unique("follow")
        f1, f2 = self.register(follow, mk(5)), self.register(follow, mk(10))
        self.assertEqual((f1.version, f2.version), (1, 2))
        cli, conn = self.model_connector([("com.example.pinned", pinned, 1),
                                          ("com.example.latest", follow, 0)])

        e = self.assertRpcError(PRECOND, self.delete, pinned, 1)
        self.assertTrue(e.details())
        e = self.assertRpcError(PRECOND, self.delete, pinned, 0)
        self.assertEqual(self.versions(pinned), [1, 2], "a refused delete deleted something")
        self.assertEqual(self.delete(pinned, 2), [2], "v2 is bound to nothing")
        self.assertRpcError(PRECOND, self.delete, pinned, 1)
        self.assertFalse(self.get(pinned, 1).deleted)

        self.assertEqual(self.delete(follow, 1), [1], "v1 is not the last live version")
        e = self.assertRpcError(PRECOND, self.delete, follow, 2)
        self.assertIn(conn.name, e.details(), "the refusal should name the connector")
        self.assertRpcError(PRECOND, self.delete, follow, 0)
        self.assertEqual(self.versions(follow), [2], "a refused delete deleted something")
        # a newer version makes v2 deletable; the follower moves on to v3
        f3 = self.register(follow, mk(30))
        self.assertEqual(f3.version, 3)
        self.assertEqual(self.delete(follow, 2), [2])
        self.assertRpcError(PRECOND, self.delete, follow, 3)
        org = unique("org")
        r = put(cli, conn.name, [
            entry(org, "com.example.latest", id_="f3", data=jb({"a": "x" * 25})),
            entry(org, "com.example.pinned", id_="p1", data=jb({"a": "x"}))])
        self.assertEqual([x.status for x in r.results], [PUBLISHED, PUBLISHED], describe(r))
        _ev, ds = self.dataschema(cli, org, conn, "f3")
        self.assertEqual(ds, DATASCHEMA_PREFIX + str(f3.id))
        _ev, ds = self.dataschema(cli, org, conn, "p1")
        self.assertEqual(ds, DATASCHEMA_PREFIX + str(p1.id))
        # once the connector is gone, everything may be deleted
        cli.connectors.DeleteConnector(connector_pb2.DeleteConnectorRequest(name=conn.name))
        self.assertEqual(self.delete(follow, 0), [3])
        self.assertEqual(self.delete(pinned, 0), [1])

        # UpdateConnector re-binding: the old pin is released
        subj2 = unique("bound2")
        q1 = self.register(subj2, {"type": "object"})
        q2 = self.register(subj2, {"type": "object", "description": "v2"})
        self.assertEqual((q1.version, q2.version), (1, 2))
        cli2, conn2 = self.model_connector([("com.example.t", subj2, 1)])
        self.assertRpcError(PRECOND, self.delete, subj2, 1)
        c = cli2.connectors.GetConnector(connector_pb2.GetConnectorRequest(name=conn2.name))
        c.event_types[0].version = 2
        cli2.connectors.UpdateConnector(connector_pb2.UpdateConnectorRequest(connector=c))
        self.assertEqual(self.delete(subj2, 1), [1])
        self.assertRpcError(PRECOND, self.delete, subj2, 2)

    # ------------------------------------------------------------------ validation

    def test_validate_payload(self):
        subj = unique("val")
        v1 = obj_schema({"a": {"type": "string", "maxLength": 5},
                         "o": obj_schema({"n": {"type": "integer", "minimum": 0}})},
                        required=["a"])
        self.register(subj, v1)
        r = self.validate(subj, {"a": "abc", "o": {"n": 1}})
        self.assertTrue(r.valid, vdesc(r.violations))
        self.assertEqual(len(r.violations), 0)

        r = self.validate(subj, {"o": {"n": -1}, "zz": 1})
        self.assertFalse(r.valid)
        self.assertViolation(r.violations, "", "/required")
        self.assertViolation(r.violations, "/o/n", "/minimum")
        self.assertTrue(any(v.instance_path in ("", "/zz") and "additionalProperties"
                            in v.keyword_location for v in r.violations), vdesc(r.violations))

        r = self.validate(subj, {"a": "abcdefgh"})
        self.assertFalse(r.valid)
        v = self.assertViolation(r.violations, "/a", "/maxLength")
        self.assertEqual(v.keyword_location, "/properties/a/maxLength")

        for bad in (b"{", b"not json", b'{"a":"x"} trailing', b"\xff\xfe", b"\x00"):
            with self.subTest(payload=bad):
                r = self.validate(subj, bad)
                self.assertFalse(r.valid, "non-JSON payload %r accepted" % bad)
                self.assertTrue(r.violations, "non-JSON payload needs a violation")
                self.assertTrue(r.violations[0].message)

        # an empty payload (proto3: indistinguishable from a missing one) is not JSON either:
        # valid=false with a violation, or INVALID_ARGUMENT naming the field
        code, r = rpc_code(self.validate, subj, b"")
        if code == grpc.StatusCode.OK:
            self.assertFalse(r.valid, "empty payload accepted")
            self.assertTrue(r.violations, "empty payload needs a violation")
        else:
            self.assertEqual(code, INVALID, r)
            self.assertIn("payload", r, "INVALID_ARGUMENT must name the field: %r" % r)

        # versions: 0 = latest, explicit versions validate against that version
        v2 = copy.deepcopy(v1)
        v2["properties"]["a"]["maxLength"] = 10
        self.register(subj, v2)
        self.assertTrue(self.validate(subj, {"a": "abcdefgh"}).valid, "latest is v2")
        self.assertTrue(self.validate(subj, {"a": "abcdefgh"}, version=2).valid)
        r = self.validate(subj, {"a": "abcdefgh"}, version=1)
        self.assertFalse(r.valid, "version 1 still has maxLength 5")
        self.assertViolation(r.violations, "/a", "/maxLength")

        # any authenticated key may validate
        _k, key = create_key(self.admin, "subscriber", unique("org"))
        sub = Client(self.server.target, key)
        self.addCleanup(sub.close)
        self.assertTrue(self.validate(subj, {"a": "x"}, cli=sub).valid)

        self.assertRpcError(NOT_FOUND, self.validate, unique("nosuch"), {})
        self.assertRpcError(NOT_FOUND, self.validate, subj, {}, 9)

    def test_standard_models(self):
        subs = self.subjects(prefix="std.")
        for name in STD_MODELS:
            self.assertIn(name, subs, "built-in standard model missing")
        for name in STD_MODELS:
            with self.subTest(model=name):
                s = self.get(name)
                self.assertGreaterEqual(s.version, 1)
                self.assertFalse(s.deleted)
                doc = json.loads(s.schema)
                self.assertEqual(doc.get("$schema"), D2020)
                self.assertEqual(doc.get("type"), "object")
                self.assertIs(doc.get("additionalProperties"), False, "closed top level")
                self.assertEqual(self.by_id(s.id).subject, name)
                example = json.loads((MODELS_DIR / ("%s.example.json" % name)).read_text())
                r = self.validate(name, example)
                self.assertTrue(r.valid, "the documented example of %s is invalid: %s"
                                % (name, vdesc(r.violations)))
                for req in doc.get("required", []):
                    bad = dict(example)
                    bad.pop(req, None)
                    r = self.validate(name, bad)
                    self.assertFalse(r.valid, "%s without %r accepted" % (name, req))
                    v = self.assertViolation(r.violations, "", "/required",
                                             "%s without %s" % (name, req))
                    self.assertIn(req, v.message, "the message should name %r" % req)
                bad = dict(example, nmae="typo")
                r = self.validate(name, bad)
                self.assertFalse(r.valid, "%s: unknown top-level property accepted" % name)
                bad = dict(example, id="")
                r = self.validate(name, bad)
                self.assertFalse(r.valid)
                self.assertViolation(r.violations, "/id", None, name)

        r = self.validate("std.customer", dict(CUSTOMER, name=5))
        self.assertFalse(r.valid)
        self.assertViolation(r.violations, "/name", "/type")
        c = copy.deepcopy(CUSTOMER)
        c["credit_limit"]["amount"] = 500000.0  # money amounts are decimal strings
        c["billing_address"]["country"] = "china"
        r = self.validate("std.customer", c)
        self.assertFalse(r.valid)
        self.assertViolation(r.violations, "/credit_limit/amount", "/type")
        self.assertViolation(r.violations, "/billing_address/country", "/pattern")
        self.assertGreaterEqual(len(r.violations), 2, "every violation: %s"
                                % vdesc(r.violations))
        # format is an annotation by default
        c = copy.deepcopy(CUSTOMER)
        c["contacts"][0]["email"] = "not-an-email"
        self.assertTrue(self.validate("std.customer", c).valid,
                        "format must be an annotation by default")
        self.assertEqual(self.get_compat("std.customer").format_mode, FM.Value("ANNOTATE"))

    def test_format_mode_per_subject(self):
        schema = obj_schema({"email": {"type": "string", "format": "email"},
                             "at": {"type": "string", "format": "date-time"}})
        a, b = unique("fmt-a"), unique("fmt-b")
        self.register(a, schema)
        self.register(b, schema)
        bad = {"email": "not-an-email", "at": "yesterday"}
        for s in (a, b):
            r = self.validate(s, bad)
            self.assertTrue(r.valid, "format is an annotation by default: %s"
                            % vdesc(r.violations))
        r = self.set_compat(a, format_mode=FM.Value("ASSERT"))
        self.assertEqual(r.format_mode, FM.Value("ASSERT"))
        self.assertEqual(self.get_compat(a).format_mode, FM.Value("ASSERT"))
        self.assertEqual(self.get_compat(b).format_mode, FM.Value("ANNOTATE"))
        self.assertEqual(self.get_compat("").format_mode, FM.Value("ANNOTATE"))
        r = self.validate(a, bad)
        self.assertFalse(r.valid, "ASSERT: an invalid email must be rejected")
        v = self.assertViolation(r.violations, "/email", "/format")
        self.assertEqual(v.keyword_location, "/properties/email/format")
        self.assertViolation(r.violations, "/at", "/format")
        self.assertTrue(self.validate(a, {"email": "li.wei@acme.example",
                                          "at": "2026-05-12T10:02:11Z"}).valid)
        self.assertTrue(self.validate(b, bad).valid, "format mode leaked to another subject")
        # leaving the format mode unspecified does not change it
        self.set_compat(a, CL.Value("BACKWARD"), 0)
        self.assertEqual(self.get_compat(a).format_mode, FM.Value("ASSERT"))
        self.set_compat(a, CL.Value("BACKWARD"), FM.Value("ANNOTATE"))
        self.assertTrue(self.validate(a, bad).valid, "back to ANNOTATE")

    # ------------------------------------------------------------------ PutEvents

    def test_create_connector_unknown_model(self):
        for subject, version in ((unique("nosuch"), 0), (unique("nosuch"), 1),
                                 ("std.customer", 999)):
            with self.subTest(subject=subject, version=version):
                e = self.assertRpcError(INVALID, self.model_connector,
                                        [("com.example.x", subject, version)])
                self.assertTrue(e.details())
        e = self.assertRpcError(INVALID, self.model_connector,
                                [("com.example.x", "Not A Subject", 0)])
        self.assertTrue(e.details())

    def test_put_events_validation(self):
        T = "com.example.crm.customer.changed"
        TP = "com.example.crm.product.changed"
        cli, conn = self.model_connector([(T, "std.customer", 0), (TP, "std.product", 0)])
        org = unique("org")
        cust = self.get("std.customer")
        prod = self.get("std.product")
        missing_name = dict(CUSTOMER)
        del missing_name["name"]
        nested = copy.deepcopy(CUSTOMER)
        nested["contacts"].append({"name": 42})
        bad_email = copy.deepcopy(CUSTOMER)
        bad_email["contacts"][0]["email"] = "not-an-email"
        product = json.loads((MODELS_DIR / "std.product.example.json").read_text())
        entries = [
            entry(org, T, id_="ok-1", data=jb(CUSTOMER)),
            entry(org, T, id_="bad-type", data=jb(dict(CUSTOMER, name=5))),
            entry(org, T, id_="bad-missing", data=jb(missing_name)),
            entry(org, TP, id_="ok-product", data=jb(product)),
            entry(org, T, id_="bad-nested", data=jb(nested)),
            entry(org, T, id_="bad-json", data=b'{"id": "c1", "name": '),
            entry(org, T, id_="ok-format-annotation", data=jb(bad_email)),
            entry(org, TP, id_="bad-product", data=jb({"id": "p1", "name": "x"})),
            entry(org, T, id_="ok-minimal", data=jb({"id": "c1", "name": "Minimal"})),
        ]
        r = put(cli, conn.name, entries)
        self.assertEqual(len(r.results), len(entries), describe(r))
        want = {"ok-1": PUBLISHED, "bad-type": REJECTED, "bad-missing": REJECTED,
                "ok-product": PUBLISHED, "bad-nested": REJECTED, "bad-json": REJECTED,
                "ok-format-annotation": PUBLISHED, "bad-product": REJECTED,
                "ok-minimal": PUBLISHED}
        for e, res in zip(entries, r.results):
            self.assertEqual(res.status, want[e.id], "%s: %s" % (e.id, describe(r)))
        self.assertEqual(r.failed_entry_count, 5, describe(r))
        res = dict(zip((e.id for e in entries), r.results))
        for k in ("bad-type", "bad-missing", "bad-nested", "bad-product"):
            self.assertEqual(res[k].error_code, "SCHEMA_VIOLATION", "%s: %s" % (k, describe(r)))
            self.assertTrue(res[k].error_message)
            self.assertTrue(res[k].violations, "%s: SCHEMA_VIOLATION without violations" % k)
        self.assertViolation(res["bad-type"].violations, "/name", "/type", "bad-type")
        self.assertTrue(all(v.instance_path == "/name" for v in res["bad-type"].violations),
                        vdesc(res["bad-type"].violations))
        self.assertViolation(res["bad-missing"].violations, "", "/required", "bad-missing")
        self.assertViolation(res["bad-nested"].violations, "/contacts/1/name", "/type",
                             "bad-nested")
        self.assertViolation(res["bad-product"].violations, "", "/required", "bad-product")
        self.assertIn(res["bad-json"].error_code, ("SCHEMA_VIOLATION", "INVALID_ARGUMENT"),
                      describe(r))
        # empty data on a model-bound type is not JSON: a client error, never INTERNAL
        r0 = put(cli, conn.name, [entry(org, T, id_="bad-empty", data=b""),
                                  entry(org, T, id_="ok-after-empty", data=jb(CUSTOMER))])
        self.assertEqual([x.status for x in r0.results], [REJECTED, PUBLISHED], describe(r0))
        self.assertIn(r0.results[0].error_code, ("SCHEMA_VIOLATION", "INVALID_ARGUMENT"),
                      "empty data on a bound type: " + describe(r0))
        for k in ("ok-1", "ok-product", "ok-format-annotation", "ok-minimal"):
            self.assertFalse(res[k].violations)
            self.assertEqual(res[k].event_id, k)

        # accepted events carry the exact schema version used
        for k, model in (("ok-1", cust), ("ok-minimal", cust), ("ok-product", prod)):
            ev, ds = self.dataschema(cli, org, conn, k)
            self.assertEqual(ds, DATASCHEMA_PREFIX + str(model.id), k)
            self.assertEqual(self.by_id(int(ds[len(DATASCHEMA_PREFIX):])).subject,
                             model.subject)
        # rejected entries were not stored
        for k in ("bad-type", "bad-missing", "bad-nested", "bad-json", "bad-product"):
            self.assertRpcError(NOT_FOUND, cli.events.GetEvent,
                                events_pb2.GetEventRequest(event_id=k, org=org,
                                                           connector=conn.name))

    def test_put_events_pinned_and_latest(self):
        subj = unique("evo")
        r1 = self.register(subj, obj_schema({"a": {"type": "string", "maxLength": 5}},
                                            required=["a"]))
        TPIN, TLATEST = "com.example.pinned", "com.example.latest"
        cli, conn = self.model_connector([(TPIN, subj, 1), (TLATEST, subj, 0)])
        org = unique("org")
        long_a = jb({"a": "abcdefgh"})
        with_b = jb({"a": "x", "b": 7})
        r = put(cli, conn.name, [entry(org, TPIN, data=long_a), entry(org, TLATEST, data=long_a),
                                 entry(org, TLATEST, data=with_b)])
        self.assertEqual([x.status for x in r.results], [REJECTED] * 3, describe(r))
        self.assertViolation(r.results[1].violations, "/a", "/maxLength")

        # v2: longer a, optional b (closed model: BACKWARD compatible); no restart
        r2 = self.register(subj, obj_schema({"a": {"type": "string", "maxLength": 10},
                                             "b": {"type": "integer"}}, required=["a"]))
        self.assertEqual(r2.version, 2)
        r = put(cli, conn.name, [
            entry(org, TPIN, id_="pin-long", data=long_a),
            entry(org, TLATEST, id_="latest-long", data=long_a),
            entry(org, TPIN, id_="pin-b", data=with_b),
            entry(org, TLATEST, id_="latest-b", data=with_b),
            entry(org, TPIN, id_="pin-ok", data=jb({"a": "abc"})),
        ])
        self.assertEqual([x.status for x in r.results],
                         [REJECTED, PUBLISHED, REJECTED, PUBLISHED, PUBLISHED],
                         "pinned type must keep v1, latest must follow v2 at once: "
                         + describe(r))
        self.assertEqual(r.results[0].error_code, "SCHEMA_VIOLATION")
        self.assertViolation(r.results[0].violations, "/a", "/maxLength", "pinned v1")
        self.assertEqual(r.results[2].error_code, "SCHEMA_VIOLATION")
        self.assertTrue(any(v.instance_path in ("", "/b") for v in r.results[2].violations),
                        vdesc(r.results[2].violations))
        for eid, want in (("latest-long", r2.id), ("latest-b", r2.id), ("pin-ok", r1.id)):
            _ev, ds = self.dataschema(cli, org, conn, eid)
            self.assertEqual(ds, DATASCHEMA_PREFIX + str(want),
                             "%s: dataschema must name the version used" % eid)

        # v3 tightens nothing but the type of b widens; latest follows again
        r3 = self.register(subj, obj_schema({"a": {"type": "string", "maxLength": 10},
                                             "b": {"type": "number"}}, required=["a"]))
        r = put(cli, conn.name, [entry(org, TLATEST, id_="latest-v3", data=jb({"a": "x",
                                                                               "b": 1.5}))])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        _ev, ds = self.dataschema(cli, org, conn, "latest-v3")
        self.assertEqual(ds, DATASCHEMA_PREFIX + str(r3.id))

        # soft-deleting the latest-but-one keeps the follower on the live latest
        self.assertEqual(self.delete(subj, 2), [2])
        r = put(cli, conn.name, [entry(org, TLATEST, id_="latest-v3b", data=jb({"a": "y"}))])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        _ev, ds = self.dataschema(cli, org, conn, "latest-v3b")
        self.assertEqual(ds, DATASCHEMA_PREFIX + str(r3.id))

    def test_put_events_subject_format_assert(self):
        # A copy of std.customer under an own subject, so the shared model stays untouched.
        text = self.get("std.customer").schema
        doc = json.loads(text)
        doc.pop("$id", None)
        subj = unique("cust")
        self.register(subj, doc)
        T = "com.example.crm.customer.changed"
        cli, conn = self.model_connector([(T, subj, 0)])
        org = unique("org")
        bad_email = copy.deepcopy(CUSTOMER)
        bad_email["contacts"][0]["email"] = "not-an-email"
        r = put(cli, conn.name, [entry(org, T, data=jb(bad_email))])
        self.assertEqual(r.results[0].status, PUBLISHED, "annotation by default: " + describe(r))
        self.set_compat(subj, format_mode=FM.Value("ASSERT"))
        r = put(cli, conn.name, [entry(org, T, data=jb(bad_email)),
                                 entry(org, T, data=jb(CUSTOMER))])
        self.assertEqual([x.status for x in r.results], [REJECTED, PUBLISHED],
                         "ASSERT must take effect for the next PutEvents: " + describe(r))
        self.assertEqual(r.results[0].error_code, "SCHEMA_VIOLATION")
        self.assertViolation(r.results[0].violations, "/contacts/0/email", "/format")
        # std.customer itself is still annotation-only
        cli2, conn2 = self.model_connector([(T, "std.customer", 0)])
        r = put(cli2, conn2.name, [entry(org, T, data=jb(bad_email))])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))


class StdCustomerFormatAssertTest(RegistryBase):
    """Format assertion switched on for the built-in std.customer (own server)."""

    def test_std_customer_assert(self):
        T = "com.example.crm.customer.changed"
        cli, conn = self.model_connector([(T, "std.customer", 0)])
        org = unique("org")
        bad = copy.deepcopy(CUSTOMER)
        bad["contacts"][0]["email"] = "li.wei at acme"
        r = put(cli, conn.name, [entry(org, T, data=jb(bad))])
        self.assertEqual(r.results[0].status, PUBLISHED, "annotation by default: " + describe(r))
        self.assertEqual(self.get_compat("std.customer").format_mode, FM.Value("ANNOTATE"))

        resp = self.set_compat("std.customer", format_mode=FM.Value("ASSERT"))
        self.assertEqual(resp.format_mode, FM.Value("ASSERT"))
        self.assertEqual(self.get_compat("std.customer").format_mode, FM.Value("ASSERT"))
        self.assertEqual(self.get_compat("std.product").format_mode, FM.Value("ANNOTATE"))
        r = put(cli, conn.name, [entry(org, T, id_="good", data=jb(CUSTOMER)),
                                 entry(org, T, id_="bad-email", data=jb(bad))])
        self.assertEqual([x.status for x in r.results], [PUBLISHED, REJECTED], describe(r))
        res = r.results[1]
        self.assertEqual(res.error_code, "SCHEMA_VIOLATION")
        v = self.assertViolation(res.violations, "/contacts/0/email", "/format")
        self.assertTrue(v.keyword_location.startswith("/"), v.keyword_location)
        v = self.validate("std.customer", bad)
        self.assertFalse(v.valid)
        self.assertViolation(v.violations, "/contacts/0/email", "/format")
        _ev, ds = self.dataschema(cli, org, conn, "good")
        self.assertEqual(ds, DATASCHEMA_PREFIX + str(self.get("std.customer").id))


if __name__ == "__main__":
    main()
