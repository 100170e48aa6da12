"""Checks a bundle exported by dossier with the OASIS tools: stix2-validator must report
zero errors, and the stix2 library must parse every object.

Usage: python check_export.py BUNDLE.json
Prints one summary line; exit status 1 on any error.
"""
import json
import sys

import stix2
from stix2validator import ValidationOptions, validate_file

path = sys.argv[1]
results = validate_file(path, ValidationOptions(version="2.1"))
errors = []
warnings = 0
for obj in results.object_results:
    for e in obj.errors:
        errors.append(f"{obj.object_id}: {e}")
    warnings += len(obj.warnings or [])
if results.fatal:
    errors.append(f"fatal: {results.fatal}")

with open(path, encoding="utf-8") as f:
    bundle = json.load(f)
parsed = 0
for o in bundle["objects"]:
    try:
        stix2.parse(o, allow_custom=True, version="2.1")
        parsed += 1
    except Exception as e:  # noqa: BLE001 - report every failure
        errors.append(f"stix2.parse {o.get('id')}: {e}")

for e in errors[:50]:
    print(e)
print(f"stix2-validator: {len(bundle['objects'])} objects, {len(errors)} errors, {warnings} warnings; stix2 parsed {parsed}")
sys.exit(1 if errors else 0)
