//! A small HTTP/1.1 client for `dossier screen --server`: streams the file up to
//! `POST /api/v1/screen/batch` and the JSON Lines results down to stdout.
//!
//! Plain `http://` only (no TLS stack in the binary): reach a remote server through a
//! TLS-terminating tunnel or proxy, or run the screen locally on a mirror.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Request;
use hyper_util::rt::TokioIo;

use dossier_server::screening::batch::{Format, Outcome};

struct Target {
    host: String,
    port: u16,
    base: String,
}

fn parse_url(url: &str) -> Result<Target> {
    let Some(rest) = url.trim().strip_prefix("http://") else {
        if url.starts_with("https://") {
            bail!("https:// is not supported by the built-in client; use an http:// address (e.g. through a tunnel)");
        }
        bail!("--server must be an http:// URL, got {url:?}");
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.parse::<u16>().with_context(|| format!("port in {url:?}"))?),
        None => (authority.to_owned(), 80),
    };
    let base = path.trim_end_matches('/');
    let base = if base.is_empty() || base.starts_with("taxii2") { String::new() } else { format!("/{base}") };
    Ok(Target { host, port, base })
}

/// Streams `file` to the server and the results to stdout.
pub fn screen_remote(
    server: &str,
    token: &str,
    file: &str,
    format: Option<Format>,
    mapping: &[(String, String)],
) -> Result<()> {
    let query: String = mapping
        .iter()
        .enumerate()
        .map(|(i, (c, f))| {
            format!("{}map={}", if i == 0 { "?" } else { "&" }, dossier_server::urlencode(&format!("{c}={f}")))
        })
        .collect();
    let target = parse_url(server)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let file = file.to_owned();
    let token = token.to_owned();
    let started = std::time::Instant::now();
    let outcome = runtime.block_on(async move {
        let stream = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .with_context(|| format!("connecting to {}:{}", target.host, target.port))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        // The upload: a blocking reader thread feeds a channel body.
        // Credentials first, with a body-less request: a server refusing them answers before
        // reading a batch, and the client would then see a broken pipe instead of the answer.
        let (probe_tx, probe_rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        drop(probe_tx);
        let probe = Request::get(format!("{}/taxii2/", target.base))
            .header("host", format!("{}:{}", target.host, target.port))
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/taxii+json;version=2.1")
            .body(http_body_util::StreamBody::new(ReceiverStream(probe_rx)))?;
        let answer = sender.send_request(probe).await.context("checking the token")?;
        let status = answer.status();
        http_body_util::BodyExt::collect(answer.into_body()).await.context("reading the token check")?;
        if !status.is_success() {
            anyhow::bail!("the server answered {status} to the token: check --token");
        }
        sender.ready().await.context("the connection closed after the token check")?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
        let path = file.clone();
        std::thread::spawn(move || {
            let mut reader: Box<dyn Read> = if path == "-" {
                Box::new(std::io::stdin())
            } else {
                match std::fs::File::open(&path) {
                    Ok(f) => Box::new(f),
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            };
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.blocking_send(Ok(Bytes::copy_from_slice(&buf[..n]))).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        break;
                    }
                }
            }
        });
        let content_type = match format {
            Some(Format::Csv) => "text/csv",
            Some(Format::JsonLines) => "application/x-ndjson",
            None if file.ends_with(".csv") => "text/csv",
            None => "application/x-ndjson",
        };
        let body = http_body_util::StreamBody::new(ReceiverStream(rx));
        let req = Request::post(format!("{}/api/v1/screen/batch{query}", target.base))
            .header("host", format!("{}:{}", target.host, target.port))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .header("accept", "application/x-ndjson")
            .body(body)?;
        let resp = sender.send_request(req).await.context("sending the batch")?;
        let status = resp.status();
        let resp_notes: Vec<String> = resp
            .headers()
            .get_all("x-dossier-note")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let mut body = resp.into_body();
        if !status.is_success() {
            let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            bail!("the server answered {status}: {}", String::from_utf8_lossy(&bytes));
        }
        for note in resp_notes {
            eprintln!("note: {note}");
        }
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let mut outcome = Outcome::default();
        let mut pending: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.context("reading the results")?;
            if let Ok(data) = frame.into_data() {
                pending.extend_from_slice(&data);
                while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    count(&line, &mut outcome);
                    out.write_all(&line)?;
                }
            }
        }
        if !pending.is_empty() {
            count(&pending, &mut outcome);
            out.write_all(&pending)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok::<_, anyhow::Error>(outcome)
    })?;
    crate::screen_cmd::summary(&outcome, started.elapsed().as_secs_f64());
    Ok(())
}

fn count(line: &[u8], o: &mut Outcome) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else { return };
    match v.get("decision").and_then(|d| d.as_str()) {
        Some("match") => {
            o.screened += 1;
            o.matched += 1;
        }
        Some("review") => {
            o.screened += 1;
            o.review += 1;
        }
        Some("clear") => {
            o.screened += 1;
            o.clear += 1;
        }
        _ => o.errors += 1,
    }
}

/// A channel as a stream of body frames.
struct ReceiverStream(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for ReceiverStream {
    type Item = Result<hyper::body::Frame<Bytes>, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|o| o.map(|r| r.map(hyper::body::Frame::data)))
    }
}
