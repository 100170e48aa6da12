// dossier web interface: progressive enhancement only (every page reads without it, bar the
// batch upload and the association graph). No external resources.
"use strict";

// Loads a chosen text file into a text area (bundle).
document.querySelectorAll("input[type=file][data-into]").forEach((input) => {
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    const target = document.getElementById(input.dataset.into);
    if (!file || !target) return;
    file.text().then((text) => { target.value = text; });
  });
});

// ---- files: their SHA-256, and the text of a resume -------------------------------------
// SHA-256 of bytes, as hex. The browser's own digest where it offers one (secure contexts:
// HTTPS or localhost); otherwise this implementation (FIPS 180-4), so that plain-HTTP
// deployments hash the same.
const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
function sha256Js(bytes) {
  const n = bytes.length, padded = new Uint8Array(((n + 9 + 63) >> 6) << 6);
  padded.set(bytes); padded[n] = 0x80;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, Math.floor(n / 0x20000000)); dv.setUint32(padded.length - 4, (n << 3) >>> 0);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x, k) => (x >>> k) | (x << (32 - k));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    [a, b, c, d, e, f, g, hh].forEach((v, i) => { h[i] = (h[i] + v) >>> 0; });
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, "0")).join("");
}
async function sha256Hex(bytes) {
  if (window.isSecureContext && window.crypto && crypto.subtle) {
    const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  return sha256Js(bytes);
}
// The page's own digest, for the browser test to check against a reference.
window.dossierSha256 = { js: sha256Js };

// The text of a .docx (Office Open XML): word/document.xml out of the zip, a line per
// paragraph. Returns null when the file is not one.
async function docxText(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 65557); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) return null;
  let p = dv.getUint32(eocd + 16, true);
  const entries = dv.getUint16(eocd + 10, true);
  for (let k = 0; k < entries && p + 46 <= bytes.length; k++) {
    if (dv.getUint32(p, true) !== 0x02014b50) return null;
    const method = dv.getUint16(p + 10, true), size = dv.getUint32(p + 20, true);
    const nameLen = dv.getUint16(p + 28, true), extra = dv.getUint16(p + 30, true), comment = dv.getUint16(p + 32, true);
    const local = dv.getUint32(p + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extra + comment;
    if (name !== "word/document.xml") continue;
    const start = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    let data = bytes.subarray(start, start + size);
    if (method === 8) {
      if (typeof DecompressionStream === "undefined") return null;
      const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
      data = new Uint8Array(await new Response(stream).arrayBuffer());
    } else if (method !== 0) {
      return null;
    }
    const xml = new DOMParser().parseFromString(new TextDecoder().decode(data), "application/xml");
    const W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
    return Array.from(xml.getElementsByTagNameNS(W, "p"))
      .map((para) => Array.from(para.getElementsByTagNameNS(W, "t")).map((t) => t.textContent).join(""))
      .filter((line) => line.trim() !== "")
      .join("\n");
  }
  return null;
}

// Adds a line to a text area unless it is there already.
function addLine(area, line) {
  const lines = area.value.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  if (!lines.includes(line)) { lines.push(line); }
  area.value = lines.join("\n");
}

// A chosen file's SHA-256 goes into the document list (the screen and contribute forms);
// on the screen form a resume's text also goes into the resume box: a text file as it is,
// a .docx read out of its zip. A PDF's text is not read here: its hash still compares.
document.querySelectorAll("input[type=file][data-hash-into]").forEach((input) => {
  input.addEventListener("change", async () => {
    const docs = document.getElementById(input.dataset.hashInto);
    const text = input.dataset.textInto ? document.getElementById(input.dataset.textInto) : null;
    const status = document.getElementById(input.id + "-status");
    const said = [];
    for (const file of Array.from(input.files || [])) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const hash = await sha256Hex(bytes);
      addLine(docs, hash);
      let note = `${file.name}: SHA-256 added to the documents`;
      if (text) {
        const docx = /\.docx$/i.test(file.name) ? await docxText(bytes).catch(() => null) : null;
        if (docx !== null) {
          text.value = docx; note += "; its text is in the resume box";
        } else if (/^text\//.test(file.type) || /\.(txt|md)$/i.test(file.name)) {
          text.value = new TextDecoder().decode(bytes); note += "; its text is in the resume box";
        } else {
          note += "; paste its text into the resume box to compare the wording too";
        }
      }
      said.push(note);
    }
    if (status) status.textContent = said.join(". ");
  });
});

// ---- the association graph ------------------------------------------------------------
(function graph() {
  const host = document.getElementById("graph");
  if (!host) return;
  let data;
  try { data = JSON.parse(host.dataset.graph || "{}"); } catch (e) { return; }
  const nodes = (data.nodes || []).map((n, i) => ({ ...n, i, x: 0, y: 0, vx: 0, vy: 0 }));
  const edges = (data.edges || []).filter((e) => nodes[e[0]] && nodes[e[1]]);
  if (nodes.length === 0) { host.textContent = "Nothing to draw."; return; }
  // Start on rings by depth, then relax with a small force simulation (deterministic).
  const byDepth = {};
  nodes.forEach((n) => { (byDepth[n.depth] = byDepth[n.depth] || []).push(n); });
  Object.keys(byDepth).forEach((d) => {
    const ring = byDepth[d];
    ring.forEach((n, k) => {
      const a = (2 * Math.PI * k) / ring.length + d * 0.5;
      n.x = Math.cos(a) * d * 120; n.y = Math.sin(a) * d * 120;
    });
  });
  for (let step = 0; step < 300; step++) {
    const t = 1 - step / 300;
    for (let a = 0; a < nodes.length; a++) {
      for (let b = a + 1; b < nodes.length; b++) {
        const p = nodes[a], q = nodes[b];
        let dx = p.x - q.x, dy = p.y - q.y; let d2 = dx * dx + dy * dy + 0.01;
        const f = 5000 / d2; const d = Math.sqrt(d2);
        dx /= d; dy /= d; p.vx += dx * f; p.vy += dy * f; q.vx -= dx * f; q.vy -= dy * f;
      }
    }
    edges.forEach(([a, b]) => {
      const p = nodes[a], q = nodes[b];
      const dx = q.x - p.x, dy = q.y - p.y; const d = Math.sqrt(dx * dx + dy * dy) + 0.01;
      const f = (d - 110) * 0.04;
      p.vx += (dx / d) * f; p.vy += (dy / d) * f; q.vx -= (dx / d) * f; q.vy -= (dy / d) * f;
    });
    nodes.forEach((n) => {
      if (n.depth === 0) { n.vx = 0; n.vy = 0; n.x = 0; n.y = 0; return; }
      n.x += Math.max(-20, Math.min(20, n.vx)) * t; n.y += Math.max(-20, Math.min(20, n.vy)) * t;
      n.vx *= 0.5; n.vy *= 0.5;
    });
  }
  // Which parties (personas, actors) each node touches: an identifier held by two or more
  // is what links them, so it is drawn larger and always labelled.
  const isParty = (n) => n.type === "threat-actor" || n.type === "identity";
  const neighbours = nodes.map(() => []);
  edges.forEach(([a, b], k) => { neighbours[a].push([b, k]); neighbours[b].push([a, k]); });
  nodes.forEach((n) => {
    n.parties = neighbours[n.i].filter(([o]) => isParty(nodes[o])).length;
    n.shared = !isParty(n) && n.parties >= 2;
  });
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  const view = document.createElementNS(NS, "g");
  svg.appendChild(view);
  const lines = edges.map(([a, b]) => {
    const l = document.createElementNS(NS, "line");
    l.setAttribute("class", "edge");
    l.setAttribute("x1", nodes[a].x); l.setAttribute("y1", nodes[a].y);
    l.setAttribute("x2", nodes[b].x); l.setAttribute("y2", nodes[b].y);
    view.appendChild(l);
    return l;
  });
  const links = [];
  // Parties last, so that they are drawn over identifiers and come first in Tab order
  // after the start.
  const order = nodes.slice().sort((p, q) => (p.depth === 0 ? -1 : q.depth === 0 ? 1 : isParty(q) - isParty(p)));
  order.forEach((n) => {
    const kind = isParty(n) ? n.type : "other";
    const link = document.createElementNS(NS, "a");
    link.setAttribute("href", n.href);
    link.setAttribute("class", "node n-" + kind + (n.depth === 0 ? " start" : "") + (n.shared ? " shared" : "") + (!isParty(n) && !n.shared && n.depth !== 0 ? " minor" : ""));
    link.setAttribute("data-id", n.id);
    const what = isParty(n) ? (n.type === "identity" ? "persona" : "actor") : (n.shared ? "identifier shared by " + n.parties : n.type);
    link.setAttribute("aria-label", what + ": " + n.label + ", TLP:" + String(n.tlp).toUpperCase());
    const title = document.createElementNS(NS, "title");
    title.textContent = n.type + ": " + n.label + " (TLP:" + String(n.tlp).toUpperCase() + ")" + (n.shared ? ", shared by " + n.parties : "");
    const c = document.createElementNS(NS, "circle");
    const r = kind === "threat-actor" ? 13 : kind === "identity" ? 10 : n.shared ? 8 : 6;
    // The radius is also a CSS variable: the stylesheet keeps nodes the same size on screen
    // at any zoom (the attribute is the fallback).
    link.style.setProperty("--r", r + "px");
    c.setAttribute("cx", n.x); c.setAttribute("cy", n.y); c.setAttribute("r", r);
    const text = document.createElementNS(NS, "text");
    text.setAttribute("x", n.x); text.setAttribute("y", n.y);
    const label = String(n.label || "");
    text.textContent = label.length > 32 ? label.slice(0, 31) + "…" : label;
    link.append(title, c, text);
    view.appendChild(link);
    links[n.i] = link;
  });
  host.appendChild(svg);
  // Pointing at (or tabbing to) a node lights it, its neighbours and the lines between.
  const light = (i) => {
    svg.classList.add("dim");
    links[i].classList.add("hl");
    neighbours[i].forEach(([o, k]) => { links[o].classList.add("hl"); lines[k].classList.add("hl"); });
  };
  const unlight = () => {
    svg.classList.remove("dim");
    view.querySelectorAll(".hl").forEach((el) => el.classList.remove("hl"));
  };
  links.forEach((link, i) => {
    link.addEventListener("pointerenter", () => light(i));
    link.addEventListener("pointerleave", unlight);
    link.addEventListener("focus", () => light(i));
    link.addEventListener("blur", unlight);
  });
  // Pan and zoom. Labels keep their size on screen whatever the zoom; identifiers that link
  // nobody else are labelled only when zoomed in, pointed at, or when asked for.
  let scale = 1, tx = 0, ty = 0;
  const fit = () => {
    const xs = nodes.map((n) => n.x), ys = nodes.map((n) => n.y);
    const w = host.clientWidth || 800, h = host.clientHeight || 460;
    const minX = Math.min(...xs) - 40, maxX = Math.max(...xs) + 160, minY = Math.min(...ys) - 30, maxY = Math.max(...ys) + 30;
    scale = Math.min(2, Math.min(w / (maxX - minX), h / (maxY - minY)));
    tx = w / 2 - ((minX + maxX) / 2) * scale; ty = h / 2 - ((minY + maxY) / 2) * scale;
  };
  const apply = () => {
    view.setAttribute("transform", `translate(${tx},${ty}) scale(${scale})`);
    svg.style.setProperty("--k", String(1 / scale));
    // Zoomed far out (a big graph, a narrow screen), nodes and labels shrink a little too.
    const shrink = Math.max(0.6, Math.min(1, Math.sqrt(scale)));
    svg.style.setProperty("--s", String(shrink));
    svg.style.setProperty("--t", String(Math.max(0.85, shrink)));
    host.classList.toggle("far", scale < 0.9);
  };
  fit(); apply();
  const allLabels = document.getElementById("graph-labels");
  if (allLabels) {
    allLabels.addEventListener("change", () => host.classList.toggle("all-labels", allLabels.checked));
  }
  let drag = null, moved = false;
  host.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, tx, ty }; moved = false;
    if (!e.target.closest("a")) host.focus({ preventScroll: true });
  });
  host.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { moved = true; host.style.cursor = "grabbing"; }
    tx = drag.tx + dx; ty = drag.ty + dy; apply();
  });
  const end = () => { drag = null; host.style.cursor = ""; };
  host.addEventListener("pointerup", end); host.addEventListener("pointerleave", end);
  // A drag that ends on a node must not open it.
  host.addEventListener("click", (e) => { if (moved) { e.preventDefault(); moved = false; } }, true);
  const zoom = (k, cx, cy) => {
    const w = host.clientWidth / 2, h = host.clientHeight / 2;
    cx = cx === undefined ? w : cx; cy = cy === undefined ? h : cy;
    tx = cx - (cx - tx) * k; ty = cy - (cy - ty) * k; scale *= k; apply();
  };
  // The wheel zooms once the graph has been clicked or focused (or with Ctrl held), so
  // that scrolling the page past it is not captured.
  host.addEventListener("wheel", (e) => {
    if (!e.ctrlKey && !host.contains(document.activeElement)) return;
    e.preventDefault();
    const r = host.getBoundingClientRect();
    zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  // Keyboard: arrows pan, + and - zoom, 0 fits (on the graph or any of its nodes).
  host.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const step = 60;
    const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[e.key]) { tx += moves[e.key][0]; ty += moves[e.key][1]; apply(); }
    else if (e.key === "+" || e.key === "=") { zoom(1.25); }
    else if (e.key === "-" || e.key === "_") { zoom(0.8); }
    else if (e.key === "0") { fit(); apply(); }
    else { return; }
    e.preventDefault();
  });
  document.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => {
    const k = Number(b.dataset.zoom);
    if (k === 0) { fit(); apply(); } else { zoom(k); }
  }));
  host.dataset.ready = "true";
})();

// ---- batch screening with progress -----------------------------------------------------
// The strongest match the screener may see (restricted ones carry no values).
function bestMatch(r) {
  return (r.matches || []).find((m) => !m.restricted);
}

// "emails: a@b.c" for each distinct piece of evidence, as the applicant gave it.
function matchedOn(m) {
  const seen = new Set();
  (m.evidence || []).forEach((e) => { seen.add(e.field + ": " + e.input); });
  return Array.from(seen);
}

// One CSV cell: quoted, and defused when a spreadsheet would run it as a formula.
function csvCell(v) {
  let s = v === undefined || v === null ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return '"' + s.replace(/"/g, '""') + '"';
}

// The results as CSV, a row per applicant, for people who work in spreadsheets.
function resultsCsv(lines) {
  const head = ["ref", "line", "decision", "score", "actor", "actor_name", "personas", "matched_on", "tlp", "restricted_matches", "contact", "error", "unusable_values"];
  const rows = [head.map(csvCell).join(",")];
  lines.forEach((line) => {
    let r; try { r = JSON.parse(line); } catch (err) { return; }
    const best = bestMatch(r);
    const restricted = (r.matches || []).filter((m) => m.restricted);
    const tlps = best ? Array.from(new Set((best.evidence || []).map((e) => e.tlp))) : [];
    const row = [
      r.ref, r.line, r.error ? "error" : r.decision, r.error ? "" : Math.round((r.score || 0) * 100) / 100,
      best ? best.actor : "", best ? best.actor_name : "", best ? (best.personas || []).map((p) => p.name).join("; ") : "",
      best ? matchedOn(best).join("; ") : "", tlps.join("; "), restricted.length,
      restricted.length ? restricted[0].contact : "", r.error ? (r.error.field ? r.error.field + ": " : "") + r.error.reason : "",
      (r.warnings || []).map((w) => w.field + " " + (w.index + 1) + ": " + w.reason).join("; "),
    ];
    rows.push(row.map(csvCell).join(","));
  });
  return rows.join("\r\n") + "\r\n";
}

(function batch() {
  const form = document.getElementById("batch-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = document.getElementById("batch-file").files[0];
    if (!file) return;
    const status = document.getElementById("batch-status");
    const bar = document.getElementById("batch-progress");
    const count = document.getElementById("batch-count");
    const summary = document.getElementById("batch-summary");
    const link = document.getElementById("batch-download");
    const hits = document.getElementById("batch-hits");
    const button = document.getElementById("batch-submit");
    status.hidden = false; link.hidden = true; document.getElementById("batch-download-csv").hidden = true; hits.hidden = true; hits.tBodies[0].textContent = ""; summary.textContent = "";
    button.disabled = true;
    const text = await file.text();
    const csv = /\.csv$/i.test(file.name) || (text.trimStart()[0] !== "{");
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
    const total = Math.max(1, lines.length - (csv ? 1 : 0));
    bar.max = total; bar.value = 0;
    const counts = { match: 0, review: 0, clear: 0, error: 0 };
    const out = [];
    const notes = document.getElementById("batch-notes");
    notes.textContent = ""; notes.hidden = true;
    const maps = (document.getElementById("batch-map").value || "").split(";").map((m) => m.trim()).filter((m) => m);
    const query = maps.length ? "?" + maps.map((m) => "map=" + encodeURIComponent(m)).join("&") : "";
    try {
      const resp = await fetch("/screen/batch" + query, {
        method: "POST", body: text, credentials: "same-origin",
        headers: { "Content-Type": csv ? "text/csv" : "application/x-ndjson", "X-CSRF-Token": form.dataset.csrf },
      });
      if (!resp.ok) {
        let why = "the server answered " + resp.status;
        try { const j = await resp.json(); if (j.description) why += ": " + j.description; } catch (err) { /* not JSON */ }
        throw new Error(why);
      }
      const told = resp.headers.get("X-Dossier-Note");
      if (told) {
        for (const note of told.split(/,\s*(?=columns ignored|no ref column)/)) {
          const li = document.createElement("li"); li.textContent = note; notes.append(li);
        }
        notes.hidden = false;
      }
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          out.push(line);
          let r; try { r = JSON.parse(line); } catch (err) { continue; }
          if (r.error) { counts.error++; } else { counts[r.decision] = (counts[r.decision] || 0) + 1; }
          if (r.decision === "match" || r.decision === "review") {
            const tr = hits.tBodies[0].insertRow();
            const best = bestMatch(r);
            tr.insertCell().textContent = r.ref;
            const badge = document.createElement("span");
            badge.className = "decision decision-" + r.decision;
            badge.textContent = r.decision;
            tr.insertCell().append(badge);
            tr.insertCell().textContent = Math.round(r.score * 100) + "%";
            const actor = tr.insertCell();
            if (best && best.actor) {
              const a = document.createElement("a");
              a.href = "/actors/" + encodeURIComponent(best.actor);
              a.textContent = best.actor_name || best.actor;
              actor.append(a);
            } else {
              actor.textContent = best ? "(no actor)" : "restricted: ask the ISAC";
            }
            tr.insertCell().textContent = best ? matchedOn(best).join("; ") : "";
            hits.hidden = false;
          }
        }
        bar.value = Math.min(total, out.length);
        count.textContent = out.length + " of " + total + " screened";
      }
      count.textContent = out.length + " screened, done.";
    } catch (err) {
      count.textContent = "Stopped: " + err.message + " (" + out.length + " screened before).";
    }
    summary.textContent = "";
    Object.entries(counts).forEach(([k, v]) => {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v; dd.id = "batch-" + k;
      summary.append(dt, dd);
    });
    const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
    link.href = URL.createObjectURL(new Blob([out.join("\n") + "\n"], { type: "application/x-ndjson" }));
    link.download = "dossier-screening-" + stamp + ".jsonl";
    link.hidden = false;
    const csvLink = document.getElementById("batch-download-csv");
    csvLink.href = URL.createObjectURL(new Blob([resultsCsv(out)], { type: "text/csv" }));
    csvLink.download = "dossier-screening-" + stamp + ".csv";
    csvLink.hidden = false;
    document.getElementById("batch-download-help").hidden = false;
    button.disabled = false;
  });
})();
