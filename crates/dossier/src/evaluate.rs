//! `dossier evaluate`: measures screening quality on a generated data set with ground truth.
//!
//! Generates actors and applicants (`dossier generate`), imports the bundle into a scratch
//! data directory, builds the screening index, screens every applicant as an ISAC analyst
//! (who sees everything: this measures the engine, not the access rules) and compares the
//! decisions with the truth file: precision, recall, false-positive rate among legitimate
//! applicants and top-1 actor accuracy, at the default thresholds and over a sweep, with a
//! breakdown per perturbation and per kind of hard negative.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use dossier_match::screen::{self, Candidate, Decision, Hit, Options, Screening, score};
use dossier_server::screening::Screener;
use dossier_stix::{Role, Viewer};
use dossier_store::Store;
use serde_json::Value;

use crate::{generate, pipeline};

#[derive(Args, Clone)]
pub struct EvaluateArgs {
    /// Threat actors (teams) to generate.
    #[arg(long, default_value_t = 2000)]
    pub actors: u32,
    /// Applicants to screen.
    #[arg(long, default_value_t = 20_000)]
    pub applicants: u32,
    /// Share of applicants who are operatives.
    #[arg(long, default_value_t = 0.05)]
    pub operative_share: f64,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Scratch directory (default: a new directory under the system temp dir, removed after).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Also print the full report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Failures listed per kind.
    #[arg(long, default_value_t = 10)]
    pub show_failures: usize,
    /// Evaluate an existing data directory (the global `--data`) with these applicants
    /// (needs --truth-file) instead of generating one.
    #[arg(long, requires = "truth_file")]
    pub applicants_file: Option<PathBuf>,
    /// Ground truth for --applicants-file (as written by `dossier generate --truth-out`).
    #[arg(long, requires = "applicants_file")]
    pub truth_file: Option<PathBuf>,
    /// Which generator makes the data: `ours` (`dossier generate`, which the engine was
    /// tuned with) or `independent` (written apart, with its own models of messy stored
    /// and applicant data and of hard negatives).
    #[arg(long, default_value = "ours", value_parser = ["ours", "independent"])]
    pub generator: String,
}

struct Row {
    truth: Value,
    result: Screening,
}

impl Row {
    fn operative(&self) -> bool {
        self.truth["label"] == "operative"
    }
    fn candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.result.matches.iter().filter_map(|h| match h {
            Hit::Candidate(c) => Some(c),
            Hit::Restricted(_) => None,
        })
    }
    /// The decision under other thresholds.
    fn decision_at(&self, match_at: f64, review_at: f64) -> Decision {
        self.candidates()
            .map(|c| score::decide(score::posterior(c.llr), c.strong, match_at, review_at))
            .max()
            .unwrap_or(Decision::Clear)
    }
    fn top_actor(&self) -> Option<&str> {
        self.candidates().next().and_then(|c| c.actor.as_deref())
    }
    fn list(&self, key: &str) -> Vec<String> {
        self.truth[key]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

#[derive(Default, Clone, Copy, serde::Serialize)]
struct Metrics {
    operatives: usize,
    legit: usize,
    flagged_operatives: usize,
    flagged_legit: usize,
    top1_correct: usize,
    precision: f64,
    recall: f64,
    false_positive_rate: f64,
    top1_accuracy: f64,
}

fn metrics(rows: &[Row], flagged: impl Fn(&Row) -> bool) -> Metrics {
    let mut m = Metrics::default();
    for r in rows {
        let f = flagged(r);
        if r.operative() {
            m.operatives += 1;
            if f {
                m.flagged_operatives += 1;
                if r.top_actor() == r.truth["actor"].as_str() {
                    m.top1_correct += 1;
                }
            }
        } else {
            m.legit += 1;
            if f {
                m.flagged_legit += 1;
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    m.precision = ratio(m.flagged_operatives, m.flagged_operatives + m.flagged_legit);
    m.recall = ratio(m.flagged_operatives, m.operatives);
    m.false_positive_rate = if m.legit == 0 { 0.0 } else { m.flagged_legit as f64 / m.legit as f64 };
    m.top1_accuracy = ratio(m.top1_correct, m.flagged_operatives);
    m
}

fn print_metrics(label: &str, m: &Metrics) -> std::io::Result<()> {
    outln!(
        "{label:<34} precision {:.4}  recall {:.4}  FPR {:.5} ({} of {} legit)  top-1 {:.4}",
        m.precision,
        m.recall,
        m.false_positive_rate,
        m.flagged_legit,
        m.legit,
        m.top1_accuracy
    )
}

pub fn run(args: &EvaluateArgs, data: &std::path::Path) -> Result<()> {
    if let (Some(apps), Some(truth)) = (&args.applicants_file, &args.truth_file) {
        let store = crate::open(data)?;
        return measure(args, store.as_ref(), apps, truth);
    }
    let (work, scratch) = match &args.work {
        Some(w) => (w.clone(), false),
        None => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            (std::env::temp_dir().join(format!("dossier-eval-{}-{nanos}", std::process::id())), true)
        }
    };
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let result = run_in(args, &work);
    if scratch {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

fn run_in(args: &EvaluateArgs, work: &std::path::Path) -> Result<()> {
    let bundle = work.join("bundle.json");
    let applicants = work.join("applicants.jsonl");
    let truth = work.join("truth.jsonl");
    eprintln!(
        "generating {} actors and {} applicants (seed {}, generator {}) …",
        args.actors, args.applicants, args.seed, args.generator
    );
    if args.generator == "independent" {
        // The store first: identity documents are drawn hashed under its key.
        let data = work.join("data");
        // A scratch store of its own, in the work directory.
        let store = scratch_store(&data)?;
        let key = store.secret("id-document")?;
        crate::independent::generate(args.actors, args.applicants, args.operative_share, args.seed, work, Some(&key))?;
        pipeline::import_generated(store.as_ref(), &bundle)?;
        outln!("generator: independent (written apart from `dossier generate`)")?;
        return measure(args, store.as_ref(), &applicants, &truth);
    }
    // The store first: identity documents are drawn hashed under its key.
    let data = work.join("data");
    let store = scratch_store(&data)?;
    generate::run(&generate::GenerateArgs {
        actors: args.actors,
        seed: args.seed,
        out: bundle.display().to_string(),
        applicants: args.applicants,
        applicants_out: Some(applicants.clone()),
        truth_out: Some(truth.clone()),
        operative_share: args.operative_share,
        id_key: Some(store.secret("id-document")?),
    })?;
    pipeline::import_generated(store.as_ref(), &bundle)?;
    measure(args, store.as_ref(), &applicants, &truth)
}

/// The embedded store in the work directory `data` (the evaluation's own, thrown away).
fn scratch_store(data: &std::path::Path) -> Result<std::sync::Arc<dyn dossier_store::Store>> {
    dossier_store::open(&data.display().to_string()).with_context(|| format!("opening {}", data.display()))
}

/// Screens `applicants` against `store` and compares with `truth`.
fn measure(args: &EvaluateArgs, store: &dyn Store, applicants: &PathBuf, truth: &PathBuf) -> Result<()> {
    let isac = store.isac()?;
    let screener = Screener::build(store, Options::default())?;
    let rep = screener.report();
    eprintln!(
        "index: {} objects in {:.2}s ({} keys, {} names, {} resumes)",
        rep.objects, rep.seconds, rep.stats.keys, rep.stats.names, rep.stats.resumes
    );

    let viewer = Viewer { org: isac.id, role: Role::Analyst, isac: true };
    let limits = screen::Limits::default();
    let read = |p: &PathBuf| -> Result<Vec<String>> {
        let f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
        Ok(std::io::BufReader::new(f).lines().collect::<Result<_, _>>()?)
    };
    let app_lines = read(applicants)?;
    let truth_lines = read(truth)?;
    let started = std::time::Instant::now();
    let mut rows = Vec::with_capacity(app_lines.len());
    for (i, (a, t)) in app_lines.iter().zip(&truth_lines).enumerate() {
        let applicant = screen::input::from_json(a.as_bytes(), &limits)
            .map_err(|e| anyhow::anyhow!("applicants line {}: {e}", i + 1))?;
        let result = screener.screen(&applicant, &viewer);
        let truth: Value = serde_json::from_str(t).with_context(|| format!("truth line {}", i + 1))?;
        rows.push(Row { truth, result });
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!("screened {} applicants in {secs:.2}s ({:.0}/s, one thread)", rows.len(), rows.len() as f64 / secs);

    let matched = metrics(&rows, |r| r.result.decision == Decision::Match);
    let flagged = metrics(&rows, |r| r.result.decision >= Decision::Review);
    let names_only = rows
        .iter()
        .filter(|r| !r.operative() && r.result.decision == Decision::Match)
        .filter(|r| r.candidates().next().is_some_and(|c| c.evidence.iter().all(|e| e.field == "names")))
        .count();
    outln!(
        "\nscreening quality: {} applicants ({} operatives) against {} indexed objects\n",
        rows.len(),
        matched.operatives,
        rep.objects
    )?;
    print_metrics("decision = match", &matched)?;
    print_metrics("decision = match or review", &flagged)?;
    outln!("legitimate applicants matched on names alone: {names_only}")?;

    outln!("\nthreshold sweep (a candidate is a match at posterior >= t with identifier evidence):")?;
    let mut sweep = Vec::new();
    for t in [0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999] {
        let m = metrics(&rows, |r| r.decision_at(t, 2.0) == Decision::Match);
        print_metrics(&format!("  match at {t}"), &m)?;
        sweep.push(("match", t, m));
    }
    outln!("threshold sweep (flagged = match or review, review at posterior >= t):")?;
    for t in [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9] {
        let m = metrics(&rows, |r| r.decision_at(score::MATCH_POSTERIOR, t) >= Decision::Review);
        print_metrics(&format!("  review at {t}"), &m)?;
        sweep.push(("review", t, m));
    }

    // Calibration: is `score` an honest probability? Applicants binned by the score of
    // their best candidate, and the share of operatives (of that candidate's actor) in each.
    outln!("\ncalibration (score of the best candidate vs how often it is the applicant's actor):")?;
    outln!("  {:<14} {:>7} {:>10} {:>10}", "score", "n", "mean score", "observed")?;
    let bins = [0.0, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 1.0001];
    let mut calibration = Vec::new();
    for w in bins.windows(2) {
        let inside: Vec<&Row> = rows.iter().filter(|r| r.result.score >= w[0] && r.result.score < w[1]).collect();
        if inside.is_empty() {
            continue;
        }
        let mean = inside.iter().map(|r| r.result.score).sum::<f64>() / inside.len() as f64;
        let hits = inside.iter().filter(|r| r.operative() && r.top_actor() == r.truth["actor"].as_str()).count();
        let observed = hits as f64 / inside.len() as f64;
        outln!("  [{:.2}, {:.2})   {:>7} {:>10.4} {:>10.4}", w[0], w[1].min(1.0), inside.len(), mean, observed)?;
        calibration.push(serde_json::json!({"from": w[0], "to": w[1].min(1.0), "n": inside.len(), "mean_score": mean, "observed": observed}));
    }

    // The same under the evaluation's own share of operatives as the prior: the scores
    // above assume 1:1000, a set with 5% operatives should see more of its high scores come
    // true. What remains off here is the likelihood ratios' own error.
    let share = rows.iter().filter(|r| r.operative()).count() as f64 / rows.len().max(1) as f64;
    let prior = score::prior_log_odds(share);
    outln!(
        "\ncalibration under the set's own share of operatives ({:.2}%, prior log10 odds {prior:.2}; applicants with a candidate):",
        share * 100.0
    )?;
    outln!("  {:<14} {:>7} {:>10} {:>10}", "score", "n", "mean score", "observed")?;
    let mut calibration_at_share = Vec::new();
    let rescored: Vec<(f64, &Row)> =
        rows.iter().filter_map(|r| r.candidates().next().map(|c| (score::posterior_with(c.llr, prior), r))).collect();
    for w in bins.windows(2) {
        let inside: Vec<&(f64, &Row)> = rescored.iter().filter(|(p, _)| *p >= w[0] && *p < w[1]).collect();
        if inside.is_empty() {
            continue;
        }
        let mean = inside.iter().map(|(p, _)| p).sum::<f64>() / inside.len() as f64;
        let hits = inside.iter().filter(|(_, r)| r.operative() && r.top_actor() == r.truth["actor"].as_str()).count();
        let observed = hits as f64 / inside.len() as f64;
        outln!("  [{:.2}, {:.2})   {:>7} {:>10.4} {:>10.4}", w[0], w[1].min(1.0), inside.len(), mean, observed)?;
        calibration_at_share.push(serde_json::json!({"from": w[0], "to": w[1].min(1.0), "n": inside.len(), "mean_score": mean, "observed": observed}));
    }

    // Per perturbation (operatives) and per hard negative (legitimate applicants).
    let mut per_tag: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.operative()) {
        let mut tags = r.list("perturbations");
        tags.push(format!("category:{}", r.truth["category"].as_str().unwrap_or("?")));
        for tag in tags {
            let e = per_tag.entry(tag).or_default();
            e[0] += 1;
            e[1] += usize::from(r.result.decision == Decision::Match);
            e[2] += usize::from(r.result.decision >= Decision::Review);
            e[3] += usize::from(r.top_actor() == r.truth["actor"].as_str());
        }
    }
    outln!("\nper perturbation (operatives):")?;
    outln!("  {:<28} {:>6} {:>8} {:>8} {:>8}", "perturbation", "n", "match", "flagged", "top-1")?;
    for (tag, [n, m, f, t]) in &per_tag {
        let pct = |x: &usize| 100.0 * *x as f64 / *n as f64;
        outln!("  {tag:<28} {n:>6} {:>7.1}% {:>7.1}% {:>7.1}%", pct(m), pct(f), pct(t))?;
    }
    let mut per_hard: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.operative()) {
        let mut tags = r.list("hard_negative");
        tags.push("(all legitimate)".into());
        for tag in tags {
            let e = per_hard.entry(tag).or_default();
            e[0] += 1;
            e[1] += usize::from(r.result.decision == Decision::Match);
            e[2] += usize::from(r.result.decision >= Decision::Review);
        }
    }
    outln!("\nper hard negative (legitimate applicants):")?;
    outln!("  {:<28} {:>6} {:>8} {:>8}", "kind", "n", "match", "flagged")?;
    for (tag, [n, m, f]) in &per_hard {
        outln!("  {tag:<28} {n:>6} {m:>8} {f:>8}")?;
    }

    let describe = |r: &Row| -> String {
        let fields: Vec<String> = r
            .candidates()
            .next()
            .map(|c| c.evidence.iter().map(|e| format!("{}:{:.2}", e.field, e.weight)).collect())
            .unwrap_or_default();
        format!(
            "{} decision={} score={:.3} truth={} evidence=[{}]",
            r.result.reference,
            r.result.decision.as_str(),
            r.result.score,
            serde_json::json!({"category": r.truth["category"], "perturbations": r.truth["perturbations"], "hard_negative": r.truth["hard_negative"]}),
            fields.join(", ")
        )
    };
    let missed: Vec<&Row> = rows.iter().filter(|r| r.operative() && r.result.decision == Decision::Clear).collect();
    let wrong_actor: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.operative() && r.result.decision >= Decision::Review && r.top_actor() != r.truth["actor"].as_str()
        })
        .collect();
    let false_pos: Vec<&Row> =
        rows.iter().filter(|r| !r.operative() && r.result.decision >= Decision::Review).collect();
    for (title, list) in [
        ("operatives cleared", &missed),
        ("flagged with the wrong actor first", &wrong_actor),
        ("legitimate applicants flagged", &false_pos),
    ] {
        outln!("\n{title}: {}", list.len())?;
        for r in list.iter().take(args.show_failures) {
            outln!("  {}", describe(r))?;
        }
    }
    if args.json {
        let report = serde_json::json!({
            // Generated runs say how; an existing data directory has no generator settings.
            "generated": args.applicants_file.is_none().then(|| serde_json::json!({"actors": args.actors, "seed": args.seed})),
            "applicants": rows.len(),
            "index": rep, "screen_seconds": secs,
            "match": matched, "flagged": flagged, "names_only_matches": names_only,
            "sweep": sweep.iter().map(|(k, t, m)| serde_json::json!({"level": k, "threshold": t, "metrics": m})).collect::<Vec<_>>(),
            "per_perturbation": per_tag, "per_hard_negative": per_hard, "calibration": calibration, "calibration_at_share": calibration_at_share,
        });
        outln!("{report}")?;
    }
    Ok(())
}
