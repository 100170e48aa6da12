"""End-to-end journeys through dossier's web interface in a real headless Chromium.

Driven by crates/dossier/tests/web_e2e.rs, which prepares a data directory (demo data, a
TLP:RED actor of another member, a web user) and starts `dossier serve`. Arguments come as
one JSON object on the command line. Screenshots go to the directory it names; look at them.

Uses Selenium (PyPI) with Debian's chromium and chromium-driver; nothing is downloaded.
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait
from axe_core_python.selenium import Axe

ARGS = json.loads(sys.argv[1])
BASE = ARGS["base"]
SHOTS = ARGS["screenshots"]
os.makedirs(SHOTS, exist_ok=True)


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = ARGS.get("chromium", "/usr/bin/chromium")
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,1000", "--lang=en-US"]:
        opts.add_argument(flag)
    opts.add_argument("--user-data-dir=" + ARGS["profile"])
    prefs = {"download.default_directory": ARGS["downloads"], "download.prompt_for_download": False}
    opts.add_experimental_option("prefs", prefs)
    service = Service(executable_path=ARGS.get("chromedriver", "/usr/bin/chromedriver"))
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(30)
    return d


D = browser()
WAIT = WebDriverWait(D, 20)
STEP = [0]


# Resume files for the screen and contribute forms: a PDF (bytes only: its hash is what
# compares) and a Word .docx made here with the standard library.
FILES = tempfile.mkdtemp(prefix="dossier-e2e-files-")
RESUME_PDF = os.path.join(FILES, "Pak_Resume.pdf")
with open(RESUME_PDF, "wb") as fh:
    fh.write(b"%PDF-1.4\n% dossier e2e resume " + os.urandom(16).hex().encode() + b"\n%%EOF\n")
RESUME_PDF_SHA256 = hashlib.sha256(open(RESUME_PDF, "rb").read()).hexdigest()
RESUME_DOCX = os.path.join(FILES, "Resume.docx")
with zipfile.ZipFile(RESUME_DOCX, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
    z.writestr("word/document.xml", '<?xml version="1.0" encoding="UTF-8"?>'
               '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
               '<w:p><w:r><w:t>Senior Solidity </w:t></w:r><w:r><w:t>engineer</w:t></w:r></w:p>'
               '<w:p><w:r><w:t>Based in Kyiv, remote since 2019</w:t></w:r></w:p></w:body></w:document>')

AXE = Axe()
# WCAG 2.1 A and AA, and axe's best practices (landmarks, headings, …).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def accessible(name):
    """Runs axe-core on the page as it is shown and fails on any violation, naming the rule
    and the elements."""
    result = AXE.run(D, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    problems = [
        f"{v['impact']} {v['id']} ({v['help']}): " + ", ".join(str(n["target"]) for n in v["nodes"][:4])
        for v in result["violations"]
    ]
    check(not problems, f"{name} passes axe-core {result.get('testEngine', {}).get('version', '')} "
                        f"({len(result['passes'])} rules): {problems}")


def shot(name):
    STEP[0] += 1
    path = os.path.join(SHOTS, f"{STEP[0]:02d}-{name}.png")
    D.save_screenshot(path)
    accessible(name)


def check(cond, what):
    if not cond:
        STEP[0] += 1
        D.save_screenshot(os.path.join(SHOTS, f"{STEP[0]:02d}-FAILED-" + what.replace(" ", "-")[:40] + ".png"))
        raise AssertionError(what + " (at " + D.current_url + ")")
    print("ok -", what)


def go(path):
    """Opens a page and returns once the new document has loaded. A mark left on the old
    document tells the two apart: on a busy machine `get` has been seen to return while the
    previous page was still the one shown, which would let a "not in the page" check pass
    vacuously."""
    try:
        D.execute_script("window.__e2eOld = true;")
    except Exception:
        pass  # no document yet
    D.get(BASE + path)
    WAIT.until(lambda d: d.execute_script("return !window.__e2eOld && document.readyState === 'complete';"))


def css(sel):
    return D.find_element(By.CSS_SELECTOR, sel)


def sign_in_token(token):
    D.delete_all_cookies()
    go("/")
    WAIT.until(EC.url_contains("/login"))
    field = css("#token")
    field.send_keys(token)
    field.send_keys(Keys.ENTER)  # keyboard only
    WAIT.until(EC.presence_of_element_located((By.CSS_SELECTOR, "header.top")))


def sign_out():
    css("header.top .me button").click()
    WAIT.until(EC.url_contains("/login"))


def console_errors():
    try:
        # Script errors only: the 404 and 422 pages the journeys provoke are expected.
        return [e for e in D.get_log("browser") if e.get("level") == "SEVERE" and e.get("source") != "network"]
    except Exception:  # not every driver keeps the log
        return []


try:
    # 1. Sign in with a token; the dashboard.
    go("/")
    WAIT.until(EC.url_contains("/login"))
    shot("sign-in")
    sign_in_token(ARGS["member_token"])
    check("Dashboard" in css("main h1").text, "a member lands on the dashboard")
    check("Whole store" not in D.page_source, "a member gets no store-wide counts")
    check("Recent intelligence" in D.page_source, "dashboard shows recent intelligence")
    shot("dashboard")

    # 2. Search for an operative's email; results grouped by actor with the value marked.
    box = css("#quick-q")
    box.send_keys(ARGS["hit_email"])
    box.send_keys(Keys.ENTER)
    WAIT.until(EC.presence_of_element_located((By.ID, "result-count")))
    check(css("#result-count").text.startswith("1 result"), "the email finds one actor")
    marks = [m.text for m in D.find_elements(By.CSS_SELECTOR, "article.result mark")]
    check(any(ARGS["hit_email"].lower() in m for m in marks), "the matching identifier is highlighted")
    shot("search")

    # 3. Open the actor; the graph draws and a click on a persona node opens it.
    css("article.result h2 a").click()
    WAIT.until(EC.url_contains("/actors/threat-actor--"))
    WAIT.until(lambda d: d.find_element(By.ID, "graph").get_attribute("data-ready") == "true")
    check(len(D.find_elements(By.CSS_SELECTOR, "#graph a.node")) >= 3, "the association graph has nodes")
    check(len(D.find_elements(By.CSS_SELECTOR, ".tlp")) > 0, "TLP badges are shown")
    check("Personas" in D.page_source and "Identifiers" in D.page_source, "actor page lists personas and identifiers")
    shot("actor")
    D.execute_script("document.getElementById('graph').scrollIntoView({block: 'center'})")
    shot("actor-graph")
    actor_url = D.current_url
    # Pan with a drag, zoom with the button, then open a persona by clicking its node.
    graph = css("#graph")
    webdriver.ActionChains(D).move_to_element_with_offset(graph, 10, 10).click_and_hold().move_by_offset(60, 30).release().perform()
    css("[data-zoom='1.25']").click()
    check(D.current_url == actor_url, "dragging the graph does not navigate")
    # Keyboard: focus the graph, pan with an arrow and zoom with +; then Tab to the first
    # node (the actor itself) and on to a persona, and open it with Enter.
    view = lambda: css("#graph svg > g").get_attribute("transform")
    before = view()
    graph.send_keys(Keys.ARROW_RIGHT)
    graph.send_keys("+")
    check(view() != before, "arrow keys and + move and zoom the graph")
    check(len(D.find_elements(By.CSS_SELECTOR, "#graph a.shared")) >= 1, "identifiers shared by several personas are marked")
    graph.send_keys(Keys.TAB)
    check(D.switch_to.active_element.get_attribute("data-id") == actor_url.rsplit("/", 1)[1], "Tab reaches the actor's own node first")
    D.switch_to.active_element.send_keys(Keys.TAB)
    focused = D.switch_to.active_element
    check((focused.get_attribute("class") or "").find("n-identity") >= 0, "then a persona")
    check(len(D.find_elements(By.CSS_SELECTOR, "#graph a.hl")) >= 2, "a focused node lights its neighbours")
    target = focused.get_attribute("data-id")
    focused.send_keys(Keys.ENTER)
    WAIT.until(EC.url_contains("/objects/" + target))
    check(True, "Enter opens the focused node")
    go(actor_url.replace(BASE, ""))
    WAIT.until(lambda d: d.find_element(By.ID, "graph").get_attribute("data-ready") == "true")
    persona = D.find_elements(By.CSS_SELECTOR, "#graph a.n-identity")[0]
    D.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}))", persona)
    WAIT.until(EC.url_contains("/objects/identity--"))
    check("Directly tied" in D.page_source, "a persona page opens from the graph")
    shot("persona-from-graph")
    # Record that this persona applied to us; it shows in the sightings table.
    css("#sightings details summary").click()
    css("#s-description").send_keys("Applied for a Solidity role (e2e)")
    css("#sighting-form button").click()
    WAIT.until(EC.url_contains("#sightings"))
    check("Applied for a Solidity role (e2e)" in css("#sightings table").text, "a recorded sighting is listed")
    D.execute_script("document.getElementById('sightings').scrollIntoView()")
    shot("sighting")

    # 4. Screen an applicant that hits, then one that does not.
    go("/screen")
    css("#f-ref").send_keys("e2e-hit")
    css("#f-emails").send_keys(ARGS["hit_email"])
    css("#f-names").send_keys(ARGS["hit_name"])
    css("#screen-submit").click()
    WAIT.until(EC.presence_of_element_located((By.ID, "screen-result")))
    decision = css("#screen-result h2 .decision").text.lower()
    check(decision == "match", f"an operative's email is a match (got {decision})")
    check(len(D.find_elements(By.CSS_SELECTOR, ".candidate table tbody tr")) >= 1, "the hit is explained")
    shot("screen-hit")
    # Printed for the applicant's file: the result without navigation or the form.
    D.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    check(css("#screen-result").is_displayed() and not css("header.top").is_displayed()
          and not css("#screen-form").is_displayed(), "a printed result shows the evidence, not the page around it")
    check(css("#screened-by").is_displayed() and "e2e-hit" in css("#screened-by").text, "and who screened whom, when")
    D.save_screenshot(os.path.join(SHOTS, "screen-hit-printed.png"))
    D.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    go("/screen")
    css("#f-names").send_keys("Jane Q. Innocent")
    css("#f-emails").send_keys("jane.innocent.e2e@example.org")
    css("#screen-submit").click()
    WAIT.until(EC.presence_of_element_located((By.ID, "screen-result")))
    check(css("#screen-result h2 .decision").text.lower() == "clear", "an innocent applicant is clear")
    shot("screen-clear")

    # 4b. The hit waits in the organization's review queue; judge it.
    check("waiting" in (css("#nav-review .badge").get_attribute("aria-label") or ""), "the header counts entries waiting for review")
    go("/review")
    entries = D.find_elements(By.CSS_SELECTOR, "article.review-entry")
    hit = [e for e in entries if "e2e-hit" in e.text]
    check(len(hit) == 1, "the hit's screen is in the review queue, with its reference")
    check(ARGS["hit_email"] not in D.page_source, "the queue does not show the applicant's email")
    shot("review-queue")
    hit[0].find_element(By.CSS_SELECTOR, "input[value=confirmed]").click()
    hit[0].find_element(By.CSS_SELECTOR, "input[name=comment]").send_keys("Same operative as in our March incident (e2e)")
    hit[0].find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WAIT.until(EC.presence_of_element_located((By.ID, "judged")))
    check("Same operative as in our March incident (e2e)" in D.page_source and "confirmed" in D.page_source,
          "a judgement is recorded with its comment")
    shot("review-judged")
    go("/inbox")
    check("e2e-hit" in D.page_source, "the inbox tells of the screen in the review queue")
    shot("inbox")
    go("/watchlist")
    shot("watchlist")

    # 5. Batch upload with progress and a downloadable result.
    go("/screen/batch")
    css("#batch-file").send_keys(ARGS["batch_file"])
    css("#batch-submit").click()
    WAIT.until(lambda d: "done" in d.find_element(By.ID, "batch-count").text)
    n = int(css("#batch-count").text.split()[0])
    check(n == ARGS["batch_records"], f"every record of the batch is screened ({n})")
    check(css("#batch-download").is_displayed(), "the results can be downloaded")
    check(int(css("#batch-match").text) >= 1, "the batch has matches")
    shot("batch")
    check(int(css("#batch-error").text) == 1, "the line that is not JSON is an error, the rest still run")
    check(any(a.get_attribute("href").endswith(ARGS["hit_actor_path"]) for a in D.find_elements(By.CSS_SELECTOR, "#batch-hits a")),
          "a hit links to its actor")

    # Chromium reserves the final name with an empty file and writes into a `.crdownload`
    # beside it, renaming over the placeholder when done: wait until no partial file is left.
    def finished_downloads(suffix):
        names = os.listdir(ARGS["downloads"])
        if any(f.endswith(".crdownload") for f in names):
            return []
        return [f for f in names if f.endswith(suffix) and os.path.getsize(os.path.join(ARGS["downloads"], f)) > 0]

    def download(link, suffix):
        css(link).click()
        deadline = time.time() + 20
        while time.time() < deadline and not finished_downloads(suffix):
            time.sleep(0.2)
        got = finished_downloads(suffix)
        check(bool(got), f"the {suffix} result file downloads")
        return os.path.join(ARGS["downloads"], got[0])

    with open(download("#batch-download", ".jsonl")) as fh:
        lines = sum(1 for line in fh if line.strip())
    check(lines == ARGS["batch_records"], f"the JSON Lines file has a line per record ({lines})")
    import csv
    with open(download("#batch-download-csv", ".csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    check(len(rows) == ARGS["batch_records"], f"the CSV file has a row per record ({len(rows)})")
    hit = next((r for r in rows if r["ref"] == "e2e-batch-hit"), None)
    check(hit is not None and hit["decision"] == "match" and hit["actor_name"]
          and ARGS["hit_email"] in hit["matched_on"], f"the CSV row of the hit names its actor and what matched: {hit}")
    check(any(r["ref"].startswith("'=HYPERLINK") for r in rows), "a ref that looks like a formula is defused in the CSV")
    check(any(r["decision"] == "error" and r["error"] for r in rows), "the error row says what was wrong")

    # 6. Contribute a persona: a bad wallet is named next to its field, then it is stored.
    go("/contribute")
    css("#c-name").send_keys("Pak E2E Persona")
    css("#c-wallets").send_keys("0x1234")
    css("#c-emails").send_keys("pak.e2e.persona@example.net")
    Select(css("#c-actor")).select_by_value("new")
    css("#c-new-actor").send_keys("E2E Team")
    Select(css("#c-tlp")).select_by_value("green")
    css("#persona-submit").click()
    WAIT.until(EC.presence_of_element_located((By.ID, "err-wallets")))
    check("line 1" in css("#err-wallets").text, "the bad wallet is reported beside its field")
    check(css("#c-wallets").get_attribute("aria-invalid") == "true", "the field is marked invalid")
    shot("contribute-error")
    w = css("#c-wallets")
    w.clear()
    w.send_keys(ARGS["fresh_wallet"])
    # The persona's resume file: chosen, its SHA-256 goes into the document list.
    css("#c-document-files").send_keys(RESUME_PDF)
    WAIT.until(lambda d: RESUME_PDF_SHA256 in css("#c-documents").get_attribute("value"))
    check(True, "a chosen file's SHA-256 is added to the documents")
    css("#persona-submit").click()
    WAIT.until(EC.url_contains("/objects/identity--"))
    check("Pak E2E Persona" in css("main h1").text, "the contributed persona has its page")
    check("E2E Team" in D.page_source and ARGS["fresh_wallet"].lower() in D.page_source.lower(), "with its actor and wallet")
    check(RESUME_PDF_SHA256 in D.page_source, "and its resume file's hash")
    shot("contributed")

    # 6b. An applicant's resume file: the same PDF matches by its hash alone; a .docx gives
    # its text to the resume box. The browser's digest and the page's own SHA-256 (used
    # where the browser offers none, on plain HTTP) agree with Python's.
    go("/screen")
    css("#f-ref").send_keys("e2e-resume-file")
    css("#f-resume-file").send_keys(RESUME_PDF)
    WAIT.until(lambda d: RESUME_PDF_SHA256 in css("#f-documents").get_attribute("value"))
    check("paste its text" in css("#f-resume-file-status").text, "a PDF's hash is taken, and the page says its text is not")
    css("#screen-submit").click()
    WAIT.until(EC.presence_of_element_located((By.ID, "screen-result")))
    decision = css("#screen-result h2 .decision").text.lower()
    check(decision == "match" and "Pak E2E Persona" in css("#screen-result").text,
          f"the same resume file matches the persona it was reported with (got {decision})")
    shot("screen-resume-file")
    go("/screen")
    css("#f-resume-file").send_keys(RESUME_DOCX)
    WAIT.until(lambda d: "Senior Solidity engineer" in css("#f-resume").get_attribute("value"))
    check("Kyiv" in css("#f-resume").get_attribute("value"), "a .docx's paragraphs are read into the resume box")
    check(hashlib.sha256(open(RESUME_DOCX, "rb").read()).hexdigest() in css("#f-documents").get_attribute("value"),
          "and its hash into the documents")
    for size in [0, 1, 55, 56, 63, 64, 65, 1000, 100000]:
        data = bytes((i * 7 + 3) % 256 for i in range(size))
        got = D.execute_script("return window.dossierSha256.js(new Uint8Array(arguments[0]));", list(data))
        check(got == hashlib.sha256(data).hexdigest(), f"the page's own SHA-256 is right for {size} bytes")

    # 7. The member does not see another member's RED data anywhere.
    go("/search?q=" + ARGS["red_email"])
    check(ARGS["red_actor_name"] not in D.page_source, "RED actor not in search results")
    check("restricted match" in D.page_source, "a restricted match is announced without values")
    shot("red-hidden-search")
    go("/actors/" + ARGS["red_actor_id"])
    check("Not found" in css("main h1").text, "RED actor page is not found for another member")
    shot("red-not-found")
    go("/no/such/page")
    check("Not found" in css("main h1").text, "an unknown path gets the web's own 404 page")
    shot("unknown-path")
    go("/actors")
    check(ARGS["red_actor_name"] not in D.page_source, "RED actor not in the actor list")
    go("/")
    check(ARGS["red_actor_name"] not in D.page_source, "RED actor not on the dashboard")
    check(not D.find_elements(By.LINK_TEXT, "Admin"), "a member has no admin link")
    sign_out()

    # 8. The owner sees it.
    sign_in_token(ARGS["owner_token"])
    go("/search?q=" + ARGS["red_email"])
    check(ARGS["red_actor_name"] in D.page_source, "the RED owner finds its actor")
    shot("red-visible-owner")
    sign_out()

    # 9. An analyst signs in with a password, creates a token (shown once) and reads the audit log.
    css("#user").send_keys(ARGS["user"])
    css("#password").send_keys(ARGS["password"])
    css("#password").send_keys(Keys.ENTER)
    WAIT.until(EC.presence_of_element_located((By.CSS_SELECTOR, "header.top")))
    check("Whole store" in D.page_source, "ISAC staff see the store-wide figures on the dashboard")
    shot("analyst-dashboard")
    D.find_element(By.CSS_SELECTOR, "header.top .me a[href='/account']").click()
    WAIT.until(EC.presence_of_element_located((By.ID, "password-form")))
    check(ARGS["user"] in css("main").text, "the account page names the signed-in user")
    shot("account")
    D.find_element(By.LINK_TEXT, "Admin").click()
    WAIT.until(EC.url_contains("/admin"))
    css("#t-label").send_keys("e2e token")
    css("#tokens form.inline button").click()
    WAIT.until(EC.presence_of_element_located((By.ID, "new-token")))
    secret = css("#secret").get_attribute("value")
    check(secret.startswith("dsk_"), "a new token's secret is shown")
    shot("admin-token")
    go("/admin")
    check(secret not in D.page_source, "and only once")
    go("/admin/audit?path=web%3A%2Fscreen")
    check("web:/screen" in D.page_source, "the audit log lists the web screens")
    check(ARGS["hit_email"] not in D.page_source, "with hashes, not the screened values")
    shot("audit")
    # Who screened the operative's email? Its hashes find the member's web screen.
    go("/admin/audit?value=" + ARGS["hit_email"].upper())
    rows = D.find_elements(By.CSS_SELECTOR, "table.audit tbody tr")
    check(any("web:/screen" in r.text and "Example Exchange" in r.text for r in rows),
          "the audit log finds who screened a value, typed in another case")
    shot("audit-value")

    # 10. Narrow screen: the layout still reads.
    D.set_window_size(420, 900)
    go("/screen")
    check(css("#screen-form").is_displayed(), "the screen form shows on a narrow screen")
    shot("narrow")
    go(actor_url.replace(BASE, ""))
    WAIT.until(lambda d: d.find_element(By.ID, "graph").get_attribute("data-ready") == "true")
    fits = "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;"
    check(D.execute_script(fits), "the actor page fits a narrow window: wide tables scroll inside their cards")
    D.execute_script("document.getElementById('graph').scrollIntoView({block: 'center'})")
    shot("narrow-actor-graph")
    for path in ["/actors", "/admin", "/admin/audit", "/"]:
        go(path)
        check(D.execute_script(fits), f"{path} fits a narrow window")
    shot("narrow-dashboard")
    errors = console_errors()
    check(not errors, f"no browser console errors: {errors}")
    print("all journeys passed")
finally:
    D.quit()
    shutil.rmtree(FILES, ignore_errors=True)
