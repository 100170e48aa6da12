"""One HTTP request with a Bearer token, for black-box tests that drive a server's REST API
and TAXII endpoints from outside (the requests library, PyPI).

Usage: python http_call.py METHOD URL TOKEN [JSON_BODY]
Prints the status code on the first line, then the body.
"""
import sys

import requests

method, url, token = sys.argv[1:4]
body = sys.argv[4] if len(sys.argv) > 4 else None
headers = {"Authorization": "Bearer " + token}
if "/taxii2/" in url:
    headers["Accept"] = "application/taxii+json;version=2.1"
    if body is not None:
        headers["Content-Type"] = "application/taxii+json;version=2.1"
elif body is not None:
    headers["Content-Type"] = "application/json"
r = requests.request(method, url, data=body, headers=headers, timeout=60)
print(r.status_code)
print(r.text)
