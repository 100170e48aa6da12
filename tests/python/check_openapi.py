"""Checks dossier's OpenAPI document against a running server.

1. The document is valid OpenAPI 3.1 (openapi-spec-validator, PyPI).
2. Real answers of the server conform to the schemas it documents (jsonschema, Draft 2020-12):
   a screen that matches, a clear one, a refused record, a batch with an error line, a
   search, the audit log, a screening job (created, finished, its results, its list).

Usage: check_openapi.py BASE_URL MEMBER_TOKEN ANALYST_TOKEN HIT_EMAIL
"""
import json
import sys
import time

import requests
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

base, member, analyst, hit_email = sys.argv[1:5]
doc = requests.get(base + "/api/v1/openapi.json", timeout=30).json()
validate(doc)
print("ok - the document is valid OpenAPI", doc["openapi"])

URI = "urn:dossier:openapi"
registry = Registry().with_resource(URI, Resource.from_contents(doc, default_specification=DRAFT202012))


def conforms(value, pointer, what):
    v = Draft202012Validator({"$ref": URI + "#" + pointer}, registry=registry)
    errors = sorted(v.iter_errors(value), key=lambda e: list(e.path))
    if errors:
        for e in errors[:5]:
            print("  ", list(e.path), e.message)
        raise SystemExit(f"FAIL - {what} does not conform to {pointer}")
    print("ok -", what)


def auth(token):
    return {"Authorization": "Bearer " + token}


SCHEMAS = "/components/schemas/"
r = requests.post(base + "/api/v1/screen", json={"ref": "hit", "emails": [hit_email], "names": ["Someone Else"]}, headers=auth(member), timeout=30)
assert r.status_code == 200, r.text
body = r.json()
assert body["decision"] == "match", body
conforms(body, SCHEMAS + "Screening", "a matching screen")
r = requests.post(base + "/api/v1/screen", json={"ref": "clear", "emails": ["nobody.at.all@example.org"], "wallets": [{"address": "0xnothex"}]}, headers=auth(member), timeout=30)
conforms(r.json(), SCHEMAS + "Screening", "a clear screen with a warning")
r = requests.post(base + "/api/v1/screen", json={"ref": "bad", "emails": "not a list"}, headers=auth(member), timeout=30)
assert r.status_code == 400, r.text
conforms(r.json(), SCHEMAS + "RecordError", "a refused record")
lines = "\n".join([json.dumps({"ref": "b1", "emails": [hit_email]}), "{not json", json.dumps({"ref": "b3", "unknown": 1})]) + "\n"
r = requests.post(base + "/api/v1/screen/batch", data=lines, headers={**auth(member), "Content-Type": "application/x-ndjson"}, timeout=60)
assert r.status_code == 200, r.text
out = [json.loads(l) for l in r.text.splitlines() if l.strip()]
assert len(out) == 3, out
conforms(out[0], SCHEMAS + "Screening", "a batch result line")
for line in out[1:]:
    conforms(line, SCHEMAS + "BatchError", "a batch error line")
r = requests.get(base + "/api/v1/search", params={"q": hit_email}, headers=auth(member), timeout=30)
search = doc["paths"]["/api/v1/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
conforms(r.json(), "/paths/~1api~1v1~1search/get/responses/200/content/application~1json/schema", "a search")
assert search and r.json()["results"], r.text
r = requests.get(base + "/api/v1/audit", params={"limit": 5}, headers=auth(analyst), timeout=30)
conforms(r.json(), "/paths/~1api~1v1~1audit/get/responses/200/content/application~1json/schema", "the audit log")
r = requests.get(base + "/api/v1/audit", headers=auth(member), timeout=30)
assert r.status_code == 403
conforms(r.json(), SCHEMAS + "Error", "an error")
first = requests.get(base + "/api/v1/search", params={"q": hit_email}, headers=auth(member), timeout=30).json()["results"][0]
obj = first["evidence"][0]["object"]
r = requests.get(base + "/api/v1/objects/" + obj + "/sources", headers=auth(member), timeout=30)
assert r.status_code == 200, r.text
conforms(r.json(), "/paths/~1api~1v1~1objects~1{id}~1sources/get/responses/200/content/application~1json/schema", "the sources")
assert r.json()["sources"], r.text
r = requests.get(base + "/api/v1/objects/" + obj + "/sources", params={"format": "csv"}, headers=auth(member), timeout=30)
assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv") and r.text.startswith("name,at"), r.text
r = requests.get(base + "/api/v1/objects/threat-actor--00000000-0000-4000-8000-000000000000/sources", headers=auth(member), timeout=30)
assert r.status_code == 404
conforms(r.json(), SCHEMAS + "Error", "an error")
# A screening job, as an integration that sends the whole file first would use it (requests
# sends the body before it reads anything).

job_lines = "".join(json.dumps({"ref": f"j{i}", "emails": [hit_email if i == 3 else f"person{i}@example.org"]}) + "\n" for i in range(2000)) + "{not json\n"
r = requests.post(base + "/api/v1/screen/jobs", data=job_lines, headers={**auth(member), "Content-Type": "application/x-ndjson"}, timeout=60)
assert r.status_code == 202, r.text
conforms(r.json(), SCHEMAS + "Job", "a job just created")
job_url = base + r.headers["Location"]
r = requests.get(job_url + "/results", headers=auth(member), timeout=30)
if r.status_code == 409:
    conforms(r.json(), SCHEMAS + "Error", "results not ready")
for _ in range(600):
    job = requests.get(job_url, headers=auth(member), timeout=30).json()
    if job["status"] in ("done", "failed"):
        break
    time.sleep(0.1)
conforms(job, SCHEMAS + "Job", "a finished job")
assert job["status"] == "done" and job["outcome"]["screened"] == 2000 and job["outcome"]["errors"] == 1, job
r = requests.get(job_url + "/results", headers=auth(member), timeout=30)
out = [json.loads(l) for l in r.text.splitlines() if l.strip()]
assert len(out) == 2001, len(out)
conforms(out[3], SCHEMAS + "Screening", "a job's result line")
assert out[3]["decision"] == "match", out[3]
conforms(out[2000], SCHEMAS + "BatchError", "a job's error line")
r = requests.get(base + "/api/v1/screen/jobs", headers=auth(member), timeout=30)
conforms(r.json(), "/paths/~1api~1v1~1screen~1jobs/get/responses/200/content/application~1json/schema", "the job list")
assert requests.get(job_url, headers=auth(analyst), timeout=30).status_code == 404, "another organization sees the job"
assert requests.delete(job_url, headers=auth(member), timeout=30).status_code == 204
r = requests.get(job_url, headers=auth(member), timeout=30)
assert r.status_code == 404
conforms(r.json(), SCHEMAS + "Error", "a deleted job")
r = requests.get(base + "/api/v1/review", params={"status": "all"}, headers=auth(member), timeout=30)
assert r.status_code == 200, r.text
conforms(r.json(), "/paths/~1api~1v1~1review/get/responses/200/content/application~1json/schema", "the review queue")
entry = r.json()["entries"][0]
assert hit_email not in json.dumps(entry), "the queue keeps the applicant's value"
r = requests.post(base + "/api/v1/review/" + str(entry["id"]), json={"disposition": "false_positive", "comment": "known employee"}, headers=auth(member), timeout=30)
assert r.status_code == 200, r.text
conforms(r.json(), SCHEMAS + "ReviewEntry", "a judged entry")
r = requests.post(base + "/api/v1/screen", json={"ref": "again", "emails": [hit_email]}, headers=auth(member), timeout=30)
assert r.json().get("suppressed"), r.text
conforms(r.json(), SCHEMAS + "Screening", "a screen with a suppressed tie")
r = requests.get(base + "/api/v1/review-counts", headers=auth(analyst), timeout=30)
conforms(r.json(), "/paths/~1api~1v1~1review-counts/get/responses/200/content/application~1json/schema", "judgement counts")
r = requests.post(base + "/api/v1/review/" + str(entry["id"]), json={"disposition": "maybe"}, headers=auth(member), timeout=30)
assert r.status_code == 400
conforms(r.json(), SCHEMAS + "Error", "a refused judgement")
r = requests.post(base + "/api/v1/watchlist", json={"ref": "watched-1", "emails": ["watch.me@example.org"]}, headers=auth(member), timeout=30)
assert r.status_code == 201, r.text
conforms(r.json(), "/paths/~1api~1v1~1watchlist/post/responses/201/content/application~1json/schema", "a watch")
r = requests.get(base + "/api/v1/watchlist", headers=auth(member), timeout=30)
conforms(r.json(), "/paths/~1api~1v1~1watchlist/get/responses/200/content/application~1json/schema", "the watchlist")
assert "watch.me" not in r.text, "the watchlist shows a value"
mirror = {"name": "laptop-1", "synced_at": "2026-01-01T00:00:00Z", "objects": 12}
v = Draft202012Validator({"$ref": URI + "#/paths/~1api~1v1~1mirrors/post/requestBody/content/application~1json/schema"}, registry=registry)
assert not list(v.iter_errors(mirror)), "the mirror report example does not conform"
r = requests.post(base + "/api/v1/mirrors", json=mirror, headers=auth(member), timeout=30)
assert r.status_code == 204, r.text
print("ok - a mirror report")
r = requests.post(base + "/api/v1/mirrors", json={"name": "laptop-1", "objects": 12}, headers=auth(member), timeout=30)
assert r.status_code == 400
conforms(r.json(), SCHEMAS + "Error", "a refused mirror report")
r = requests.get(base + "/api/v1/search", params={"q": "x"}, timeout=30)
assert r.status_code == 401 and "WWW-Authenticate" in r.headers
print("all OpenAPI checks passed")
