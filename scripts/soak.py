#!/usr/bin/env python3
"""Soak and fault runs against a real `dossier serve` (see scripts/soak).

Phases (each prints its figures; pick some with --phases):
  wal      back-to-back writers for --seconds; the WAL's size sampled every 0.2 s
  stalled  --stalled batch clients that upload and never read, while one client measures
           TAXII reads and single screens; server RSS sampled
  kill     --rounds of kill -9 under 4 writers; a client-side ledger of acknowledged
           objects checked after each restart
  full     (root only) a small tmpfs as the data directory filled to the brim: readiness,
           what writes are answered, recovery once space is freed, and a start on a full disk
  mixed    --minutes of mixed reads, writes and screens; errors counted
  jobs     --job-clients clients that each send --job-records applicants whole before reading
           (as Python's http.client and requests do) as screening jobs, poll them and
           download the results; one more sends the same to the streamed batch endpoint
Standard library only.
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

BIN = None


def run(data, *args, check=True):
    out = subprocess.run([BIN, "--data", data, *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise SystemExit(f"dossier {' '.join(args)} failed: {out.stderr}")
    return out


def token(data, org, role):
    return run(data, "token", "create", "--org", org, "--role", role).stdout.strip().splitlines()[-1]


class Server:
    def __init__(self, data, *extra):
        # The server's log goes to a file: a pipe nobody reads would fill and stall it.
        self.log = open(os.path.join(os.path.dirname(data) or ".", "serve.log"), "a")
        self.proc = subprocess.Popen([BIN, "--data", data, "serve", "--listen", "127.0.0.1:0", *extra],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline().strip()
        if not line:
            raise SystemExit("the server did not start (see serve.log)")
        hostport = line.split("//")[1].split("/")[0]
        self.host, port = hostport.split(":")
        self.port = int(port)

    def rss_mib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for l in f:
                    if l.startswith("VmRSS:"):
                        return int(l.split()[1]) / 1024
        except OSError:
            return 0.0
        return 0.0

    def threads(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for l in f:
                    if l.startswith("Threads:"):
                        return int(l.split()[1])
        except OSError:
            return 0
        return 0

    def conn(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def request(conn, method, path, tok, body=None, ctype="application/taxii+json;version=2.1"):
    headers = {"Authorization": f"Bearer {tok}", "Accept": "application/taxii+json;version=2.1"}
    if body is not None:
        headers["Content-Type"] = ctype
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


def collection(srv, tok):
    c = srv.conn()
    _, body = request(c, "GET", "/taxii2/api/collections/", tok)
    return json.loads(body)["collections"][0]["id"]


def envelope(n, tag):
    objs = []
    for i in range(n):
        objs.append({"type": "note", "spec_version": "2.1", "id": f"note--{uuid.uuid4()}",
                     "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                     "content": f"soak {tag} {i} " + "x" * 400,
                     "object_refs": ["threat-actor--00000000-0000-4000-8000-000000000001"]})
    return objs


def pct(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round((len(xs) - 1) * p)))]


def phase_wal(data, args):
    tok = token(data, "Soak Writer", "member")
    srv = Server(data, "--wal-limit", str(args.wal_limit))
    col = collection(srv, tok)
    wal = os.path.join(data, "dossier.db-wal")
    stop = threading.Event()
    posted = [0]

    def writer(k):
        c = srv.conn()
        while not stop.is_set():
            body = json.dumps({"objects": envelope(200, f"w{k}")})
            st, _ = request(c, "POST", f"/taxii2/api/collections/{col}/objects/", tok, body)
            if st == 202:
                posted[0] += 200

    def reader():
        c = srv.conn()
        while not stop.is_set():
            request(c, "GET", f"/taxii2/api/collections/{col}/objects/?limit=50", tok)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(args.writers)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    samples = []
    end = time.time() + args.seconds
    while time.time() < end:
        samples.append(os.path.getsize(wal) if os.path.exists(wal) else 0)
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    srv.stop()
    left = os.path.getsize(wal) if os.path.exists(wal) else 0
    mib = 1024 * 1024
    print(f"wal: {args.writers} writers + 2 readers for {args.seconds} s: {posted[0]} objects stored; "
          f"WAL max {max(samples) / mib:.1f} MiB, median {statistics.median(samples) / mib:.1f} MiB "
          f"over {len(samples)} samples (limit {args.wal_limit / mib:.0f} MiB); after stop {left} bytes")
    return max(samples) <= args.wal_limit and left == 0


def phase_stalled(data, args):
    tok = token(data, "Soak Batcher", "member")
    reader_tok = token(data, "Soak Reader", "member")
    srv = Server(data, "--request-timeout", str(args.stall_timeout))
    col = collection(srv, reader_tok)

    def measure(seconds):
        c = srv.conn()
        lat = []
        end = time.time() + seconds
        while time.time() < end:
            t = time.time()
            request(c, "GET", f"/taxii2/api/collections/{col}/objects/?limit=20", reader_tok)
            body = json.dumps({"ref": "x", "emails": ["nobody@example.org"]})
            c.request("POST", "/api/v1/screen", body=body,
                      headers={"Authorization": f"Bearer {reader_tok}", "Content-Type": "application/json"})
            c.getresponse().read()
            lat.append((time.time() - t) * 1000)
        return lat

    base = measure(5)
    lines = "".join(json.dumps({"ref": f"r{i}", "emails": [f"p{i}@example.org"]}) + "\n" for i in range(20000))
    socks = []
    statuses = {}
    for i in range(args.stalled):
        s = socket.create_connection((srv.host, srv.port))
        head = (f"POST /api/v1/screen/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
                f"Content-Type: application/x-ndjson\r\nContent-Length: {len(lines)}\r\n\r\n")
        s.sendall(head.encode())
        s.setblocking(False)
        try:
            s.send(lines.encode())
        except BlockingIOError:
            pass
        socks.append(s)
    rss = [srv.rss_mib()]
    threads = [srv.threads()]
    loaded = []
    end = time.time() + 10
    while time.time() < end:
        loaded += measure(1)
        rss.append(srv.rss_mib())
        threads.append(srv.threads())
    for s in socks:
        try:
            s.setblocking(True)
            s.settimeout(0.2)
            first = s.recv(64).decode(errors="replace")
            code = first.split(" ")[1] if first.startswith("HTTP/") else "none"
        except OSError:
            code = "none"
        statuses[code] = statuses.get(code, 0) + 1
        s.close()
    srv.stop()
    print(f"stalled: {args.stalled} batch clients that upload and never read; "
          f"their answers {statuses}; other requests p50/p99 {pct(base, 0.5):.2f}/{pct(base, 0.99):.2f} ms unloaded, "
          f"{pct(loaded, 0.5):.2f}/{pct(loaded, 0.99):.2f} ms meanwhile; server RSS max {max(rss):.0f} MiB; "
          f"server threads {min(threads)}-{max(threads)}")
    return pct(loaded, 0.99) <= max(2 * pct(base, 0.99), 5.0) and max(rss) <= 1024


def phase_kill(data, args):
    tok = token(data, "Soak Killer", "member")
    lost = 0
    acked_total = 0
    for rnd in range(args.rounds):
        srv = Server(data)
        col = collection(srv, tok)
        ledger = []
        stop = threading.Event()

        def writer(k):
            try:
                c = srv.conn(timeout=10)
                while not stop.is_set():
                    objs = envelope(50, f"k{rnd}-{k}")
                    st, _ = request(c, "POST", f"/taxii2/api/collections/{col}/objects/", tok, json.dumps({"objects": objs}))
                    if st == 202:
                        ledger.extend(o["id"] for o in objs)
            except (OSError, http.client.HTTPException):
                pass

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(1.0, 3.0))
        srv.proc.kill()
        srv.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        srv = Server(data)
        c = srv.conn()
        seen = set()
        nxt = None
        while True:
            q = "?limit=10000&match[type]=note" + (f"&next={nxt}" if nxt else "")
            st, body = request(c, "GET", f"/taxii2/api/collections/{col}/manifest/{q}", tok)
            page = json.loads(body)
            seen.update(o["id"] for o in page.get("objects", []))
            if not page.get("more"):
                break
            nxt = page.get("next")
        missing = [i for i in ledger if i not in seen]
        lost += len(missing)
        acked_total += len(ledger)
        srv.stop()
    print(f"kill: {args.rounds} rounds of kill -9 under 4 writers: {acked_total} acknowledged objects, {lost} lost")
    return lost == 0


def phase_full(args):
    if os.geteuid() != 0:
        print("full: skipped (needs root to mount a tmpfs)")
        return True
    mnt = tempfile.mkdtemp(prefix="dossier-full-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.tmpfs_mib}m", "tmpfs", mnt], check=True)
    ok = True
    try:
        data = os.path.join(mnt, "data")
        run(data, "org", "add", "Soak Full")
        tok = token(data, "Soak Full", "member")
        # Room to recover: a reserve file freed later, larger than the log may grow.
        reserve = os.path.join(mnt, "reserve")
        with open(reserve, "wb") as f:
            f.write(b"\0" * (args.tmpfs_mib // 3 * 1024 * 1024))
        srv = Server(data, "--wal-limit", str(args.tmpfs_mib // 8 * 1024 * 1024), "--request-timeout", "10")
        col = collection(srv, tok)
        c = srv.conn(timeout=20)
        answers = {}
        print("full: filling", flush=True)
        first_full = None
        acked = []
        started = time.time()
        for i in range(100000):
            if time.time() - started > 90:
                print("full: still writing after 90 s", flush=True)
                break
            objs = envelope(200, f"f{i}")
            try:
                st, body = request(c, "POST", f"/taxii2/api/collections/{col}/objects/", tok, json.dumps({"objects": objs}))
            except (OSError, http.client.HTTPException) as e:
                answers[type(e).__name__] = answers.get(type(e).__name__, 0) + 1
                c = srv.conn(timeout=20)
                if sum(answers.values()) > 2000:
                    break
                continue
            answers[st] = answers.get(st, 0) + 1
            if st == 202:
                acked.extend(o["id"] for o in objs)
            elif first_full is None:
                first_full = time.time()
                detail = json.loads(body).get("description", "")
            if first_full:
                break
        # Readiness.
        print(f"full: writes answered {answers}", flush=True)
        t = time.time()
        ready = None
        while time.time() - t < 5:
            h = srv.conn(timeout=3)
            h.request("GET", "/healthz/ready")
            r = h.getresponse()
            r.read()
            if r.status == 503:
                ready = time.time() - (first_full or t)
                why = r.read()
                break
            time.sleep(0.1)
        # Free space: readiness and writes come back without a restart.
        os.remove(reserve)
        back = None
        t = time.time()
        while time.time() - t < 30:
            h = srv.conn(timeout=3)
            try:
                h.request("GET", "/healthz/ready")
            except OSError:
                time.sleep(0.2)
                continue
            r = h.getresponse()
            r.read()
            if r.status == 200:
                back = time.time() - t
                break
            time.sleep(0.1)
        try:
            st, _ = request(srv.conn(timeout=20), "POST", f"/taxii2/api/collections/{col}/objects/", tok, json.dumps({"objects": envelope(5, "after")}))
        except (OSError, http.client.HTTPException) as e:
            st = type(e).__name__
        srv.stop()
        # A start on a full disk.
        with open(os.path.join(mnt, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        start = subprocess.run([BIN, "--data", data, "serve", "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
        print(f"full: {args.tmpfs_mib} MiB tmpfs: answers {answers}; first refusal said {detail!r}; "
              f"readiness failed {ready if ready is None else round(ready, 2)} s after it; after freeing space ready again in "
              f"{back if back is None else round(back, 2)} s and a write answered {st}; a start on the full disk exited "
              f"{start.returncode}: {start.stderr.strip().splitlines()[-1] if start.stderr.strip() else ''}")
        ok = ready is not None and ready <= 1.5 and back is not None and st == 202 and start.returncode != 0
        ok = ok and set(answers) <= {202, 507, 503}
    finally:
        subprocess.run(["pkill", "-9", "-f", f"data {mnt}/data"], check=False)
        time.sleep(0.5)
        subprocess.run(["umount", mnt], check=False)
        try:
            os.rmdir(mnt)
        except OSError:
            pass
    return ok


def phase_mixed(data, args):
    tok = token(data, "Soak Mixed", "member")
    srv = Server(data)
    col = collection(srv, tok)
    stop = threading.Event()
    counts = {"ok": 0, "error": 0}
    lock = threading.Lock()

    def worker(k):
        c = srv.conn()
        while not stop.is_set():
            kind = random.random()
            try:
                if kind < 0.5:
                    st, _ = request(c, "GET", f"/taxii2/api/collections/{col}/objects/?limit=100", tok)
                elif kind < 0.8:
                    body = json.dumps({"ref": "m", "emails": [f"x{random.randint(0, 10**6)}@example.org"], "names": ["Kim Chol"]})
                    c.request("POST", "/api/v1/screen", body=body, headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/json"})
                    r = c.getresponse()
                    r.read()
                    st = r.status
                else:
                    st, _ = request(c, "POST", f"/taxii2/api/collections/{col}/objects/", tok, json.dumps({"objects": envelope(20, f"m{k}")}))
            except (OSError, http.client.HTTPException):
                st = 0
                c = srv.conn()
            with lock:
                counts["ok" if st in (200, 202, 429) else "error"] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    rss = []
    wal = os.path.join(data, "dossier.db-wal")
    walmax = 0
    end = time.time() + args.minutes * 60
    while time.time() < end:
        rss.append(srv.rss_mib())
        walmax = max(walmax, os.path.getsize(wal) if os.path.exists(wal) else 0)
        time.sleep(1)
    stop.set()
    for t in threads:
        t.join()
    srv.stop()
    print(f"mixed: {args.minutes} min, 8 clients: {counts['ok']} answered, {counts['error']} errors; "
          f"RSS max {max(rss):.0f} MiB; WAL max {walmax / 1048576:.1f} MiB")
    return counts["error"] == 0


def phase_jobs(data, args):
    tok = token(data, "Soak Jobs", "member")
    srv = Server(data)
    n = args.job_records
    lines = "".join(json.dumps({"ref": f"r{i}", "names": ["Kim Chol"], "emails": [f"p{i}@example.org"],
                                "phones": [f"+1 312 555 {i % 10000:04d}"]}) + "\n" for i in range(n)).encode()
    results = {}
    rss = [srv.rss_mib()]
    done = threading.Event()

    def sample():
        while not done.is_set():
            rss.append(srv.rss_mib())
            time.sleep(0.5)

    def client(k):
        t0 = time.time()
        c = srv.conn(timeout=600)
        c.request("POST", "/api/v1/screen/jobs", body=lines,
                  headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/x-ndjson"})
        r = c.getresponse()
        body = r.read()
        if r.status != 202:
            results[k] = (f"create {r.status} {body[:200]!r}", 0, 0)
            return
        loc = r.getheader("Location")
        uploaded = time.time() - t0
        while True:
            c.request("GET", loc, headers={"Authorization": f"Bearer {tok}"})
            job = json.loads(c.getresponse().read())
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        c.request("GET", loc + "/results", headers={"Authorization": f"Bearer {tok}"})
        r = c.getresponse()
        out = r.read()
        got = out.count(b"\n")
        c.request("DELETE", loc, headers={"Authorization": f"Bearer {tok}"})
        c.getresponse().read()
        results[k] = (job["status"], got, time.time() - t0, uploaded)

    watcher = threading.Thread(target=sample)
    watcher.start()
    t0 = time.time()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.job_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    # The streamed endpoint with the same whole-body-first client, for comparison.
    c = srv.conn(timeout=600)
    t1 = time.time()
    try:
        c.request("POST", "/api/v1/screen/batch", body=lines,
                  headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/x-ndjson"})
        r = c.getresponse()
        got = r.read().count(b"\n")
        streamed = f"{r.status}, {got} lines in {time.time() - t1:.1f} s"
    except (OSError, http.client.HTTPException) as e:
        streamed = f"failed after {time.time() - t1:.1f} s: {e}"
    done.set()
    watcher.join()
    srv.stop()
    ok = all(v[0] == "done" and v[1] == n for v in results.values()) and len(results) == args.job_clients
    total = n * args.job_clients
    print(f"jobs: {args.job_clients} clients × {n} applicants ({len(lines) / 1048576:.1f} MiB each) sent whole before reading: "
          + "; ".join(f"{v[0]}, {v[1]} lines, {v[2]:.1f} s (upload {v[3]:.1f} s)" if len(v) > 3 else str(v) for v in results.values())
          + f"; {total / wall:.0f} applicants/s overall; server RSS max {max(rss):.0f} MiB. "
          f"The streamed batch endpoint with the same client: {streamed}")
    return ok


def main():
    global BIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", default=tempfile.mkdtemp(prefix="dossier-soak-"))
    ap.add_argument("--phases", default="wal,stalled,kill,full,mixed,jobs")
    ap.add_argument("--actors", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--wal-limit", type=int, default=256 * 1024 * 1024)
    ap.add_argument("--stalled", type=int, default=300)
    ap.add_argument("--stall-timeout", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--tmpfs-mib", type=int, default=96)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--job-clients", type=int, default=4)
    ap.add_argument("--job-records", type=int, default=200000)
    args = ap.parse_args()
    BIN = args.bin
    data = os.path.join(args.work, "data")
    if not os.path.exists(os.path.join(data, "dossier.db")):
        run(data, "demo", "--no-serve", "--actors", str(args.actors))
    for org in ["Soak Writer", "Soak Batcher", "Soak Reader", "Soak Killer", "Soak Mixed", "Soak Jobs"]:
        run(data, "org", "add", org, check=False)
    results = {}
    for phase in args.phases.split(","):
        if phase == "wal":
            results[phase] = phase_wal(data, args)
        elif phase == "stalled":
            results[phase] = phase_stalled(data, args)
        elif phase == "kill":
            results[phase] = phase_kill(data, args)
        elif phase == "full":
            results[phase] = phase_full(args)
        elif phase == "mixed":
            results[phase] = phase_mixed(data, args)
        elif phase == "jobs":
            results[phase] = phase_jobs(data, args)
        sys.stdout.flush()
    print("targets met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
