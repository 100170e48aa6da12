"""Drives a running dossier server with the OASIS taxii2-client: discovery, API root,
collections, add objects built with stix2, poll the status, read everything back page by page,
compare each object with what was sent and validate it with stix2-validator.

Usage: python taxii_client_check.py URL USER TOKEN
Prints 'N passed, M failed' and exits 1 on any failure.
"""
import json
import sys
import uuid

import stix2
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import ApiRoot, Server, as_pages

url, user, token = sys.argv[1:4]
results = []


def check(name, cond, detail=""):
    results.append((name, bool(cond)))
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)))


server = Server(url, user=user, password=token)
check("discovery title", server.title == "dossier", server.title)
root = server.api_roots[0]
check("api root versions", "application/taxii+json;version=2.1" in root.versions, root.versions)
col = next(c for c in root.collections if c.can_read and c.can_write)
check("collection readable and writable", col is not None)

run = uuid.uuid4().hex[:8]
actor = stix2.ThreatActor(name="Interop team %s" % run, threat_actor_types=["nation-state"], confidence=70,
                          object_marking_refs=[stix2.TLP_AMBER])
persona = stix2.Identity(name="Kim Chol-su %s" % run, identity_class="individual")
email = stix2.EmailAddress(value="cs.dev.%s@example.com" % run)
rel = stix2.Relationship(persona, "attributed-to", actor)
link = stix2.Relationship(persona, "related-to", email)
sent = [json.loads(o.serialize()) for o in (actor, persona, email, rel, link)]

status = col.add_objects(stix2.Bundle(objects=[actor, persona, email, rel, link], allow_custom=True).serialize())
check("add_objects status complete", status.status == "complete", status.status)
check("add_objects success_count", status.success_count == len(sent), status.success_count)
polled = root.get_status(status.id)
check("get_status", polled.status == "complete" and polled.success_count == len(sent))

got = {}
pages = 0
for env in as_pages(col.get_objects, per_request=2):
    pages += 1
    for o in env.get("objects", []):
        got[o["id"]] = o
check("paged read used several pages", pages >= 3, pages)
for o in sent:
    check("round trip %s" % o["type"], got.get(o["id"]) == o, got.get(o["id"]))
    res = validate_instance(got.get(o["id"]) or {}, ValidationOptions(version="2.1"))
    check("valid %s" % o["type"], res.is_valid, [str(e) for e in res.errors])

manifest = col.get_manifest()
check("manifest lists the objects", {o["id"] for o in sent} <= {m["id"] for m in manifest.get("objects", [])})
versions = col.object_versions(actor.id)
check("versions", versions.get("versions") == [sent[0]["modified"]], versions)

passed = sum(1 for _, ok in results if ok)
failed = len(results) - passed
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
