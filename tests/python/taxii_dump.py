"""Reads everything a TAXII 2.1 server lets these credentials see, with the OASIS
taxii2-client: every version of every object in every readable collection, page by page.

Usage: python taxii_dump.py API_ROOT_URL USER PASSWORD
Prints one line per object version: COLLECTION_ID <tab> the object as compact JSON with
sorted keys, sorted.
"""
import json
import sys

from taxii2client.v21 import ApiRoot, as_pages

url, user, password = sys.argv[1:4]
root = ApiRoot(url, user=user, password=password)
lines = []
for col in root.collections:
    if not col.can_read:
        continue
    for env in as_pages(col.get_objects, per_request=500, **{"match[version]": "all"}):
        for o in env.get("objects", []):
            lines.append(col.id + "\t" + json.dumps(o, sort_keys=True, separators=(",", ":")))
for line in sorted(lines):
    print(line)
