//! A streaming splitter that cuts a byte stream into the STIX objects it holds, so that a
//! bundle of any size is handled in bounded memory.
//!
//! Accepted input, detected from the data itself:
//! - a bundle `{"type": "bundle", "objects": [...]}` or a TAXII envelope `{"objects": [...]}`:
//!   each element of the top-level `objects` array is one object;
//! - JSON Lines, or any sequence of whitespace-separated top-level objects: each top-level
//!   object without an `objects` array is one object.
//!
//! The splitter checks structure only (strings, brackets, nesting, sizes); each object's
//! bytes are then parsed by `serde_json`. It is push-based — the caller feeds chunks — so it
//! does no I/O and can be fuzzed directly.

/// Limits that keep memory bounded whatever the input.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest single object, in bytes.
    pub max_object_bytes: usize,
    /// Deepest nesting of arrays and objects, counted from the top-level value.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_object_bytes: 16 * 1024 * 1024, max_depth: 64 }
    }
}

/// The bytes of one object and where it started.
#[derive(Debug)]
pub struct RawObject {
    /// 0-based position among the objects of the input.
    pub index: usize,
    /// 1-based line of the object's opening brace.
    pub line: u64,
    /// The object's exact bytes (leading and trailing whitespace excluded).
    pub bytes: Vec<u8>,
}

/// A structural problem in the input. Splitting stops at the first one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("line {line}: object #{index} is larger than the limit of {limit} bytes")]
    TooLarge { index: usize, line: u64, limit: usize },
    #[error("line {line}: nesting deeper than the limit of {limit} levels")]
    TooDeep { line: u64, limit: usize },
    #[error("line {line}: {message}")]
    Syntax { line: u64, message: String },
    #[error("line {line}: the input ends in the middle of {what}; the file is truncated")]
    Truncated { line: u64, what: &'static str },
    #[error("line {line}: the top-level value with an `objects` array has type {found:?}, expected \"bundle\"")]
    NotABundle { line: u64, found: String },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scan {
    /// Outside strings.
    Code,
    /// Inside a string.
    Str,
    /// Just after a backslash inside a string.
    Escape,
}

/// What the top-level value currently being read is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Top {
    /// Between top-level values.
    Between,
    /// Inside a top-level object that is not (yet known to be) a bundle: buffering it.
    Object,
    /// Inside a bundle's `objects` array, between elements.
    BundleArray,
    /// Inside an element of a bundle's `objects` array: buffering it.
    BundleElement,
    /// After the bundle's `objects` array closed, inside the rest of the bundle.
    BundleTail,
}

/// The push-based splitter. Feed it chunks with [`Splitter::feed`], then call
/// [`Splitter::finish`].
pub struct Splitter {
    limits: Limits,
    scan: Scan,
    top: Top,
    depth: usize,
    line: u64,
    index: usize,
    buf: Vec<u8>,
    start_line: u64,
    /// Depth-1 state of a top-level object: the last complete key string and whether a
    /// `:` followed it, used to recognise `"objects": [` and `"type": "..."`.
    key_buf: Vec<u8>,
    in_key: bool,
    last_key: Vec<u8>,
    after_colon: bool,
    /// The bundle's `type` value, when seen.
    bundle_type: Option<String>,
    capture_value: bool,
    value_buf: Vec<u8>,
    bundle_line: u64,
    failed: bool,
}

impl Splitter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            scan: Scan::Code,
            top: Top::Between,
            depth: 0,
            line: 1,
            index: 0,
            buf: Vec::new(),
            start_line: 1,
            key_buf: Vec::new(),
            in_key: false,
            last_key: Vec::new(),
            after_colon: false,
            bundle_type: None,
            capture_value: false,
            value_buf: Vec::new(),
            bundle_line: 1,
            failed: false,
        }
    }

    /// Feeds the next chunk; `emit` receives every object completed in it.
    pub fn feed(&mut self, chunk: &[u8], emit: &mut dyn FnMut(RawObject)) -> Result<(), SplitError> {
        if self.failed {
            return Ok(());
        }
        let r = self.feed_inner(chunk, emit);
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    /// Declares the end of input.
    pub fn finish(&mut self) -> Result<(), SplitError> {
        if self.failed {
            return Ok(());
        }
        match (self.top, self.scan) {
            (Top::Between, _) => Ok(()),
            (_, Scan::Str | Scan::Escape) => Err(SplitError::Truncated { line: self.line, what: "a string" }),
            (Top::BundleArray | Top::BundleElement | Top::BundleTail, _) => {
                Err(SplitError::Truncated { line: self.line, what: "the bundle" })
            }
            (Top::Object, _) => Err(SplitError::Truncated { line: self.line, what: "an object" }),
        }
    }

    fn syntax(&self, message: impl Into<String>) -> SplitError {
        SplitError::Syntax { line: self.line, message: message.into() }
    }

    fn buffering(&self) -> bool {
        matches!(self.top, Top::Object | Top::BundleElement)
    }

    fn feed_inner(&mut self, chunk: &[u8], emit: &mut dyn FnMut(RawObject)) -> Result<(), SplitError> {
        let mut i = 0;
        while i < chunk.len() {
            // Fast path: copy a run of ordinary string bytes while buffering.
            if self.scan == Scan::Str && self.buffering() && !self.in_key && !self.capture_value {
                let rest = &chunk[i..];
                let run = rest.iter().position(|&b| b == b'"' || b == b'\\' || b == b'\n').unwrap_or(rest.len());
                if run > 0 {
                    self.push_bytes(&rest[..run])?;
                    i += run;
                    continue;
                }
            }
            let b = chunk[i];
            i += 1;
            if b == b'\n' {
                self.line += 1;
            }
            match self.scan {
                Scan::Escape => {
                    self.scan = Scan::Str;
                    self.push_byte(b)?;
                    continue;
                }
                Scan::Str => {
                    match b {
                        b'\\' => self.scan = Scan::Escape,
                        b'"' => {
                            self.scan = Scan::Code;
                            if self.in_key {
                                self.in_key = false;
                                self.last_key = std::mem::take(&mut self.key_buf);
                                self.after_colon = false;
                            }
                        }
                        _ => {
                            if self.in_key && self.key_buf.len() < 64 {
                                self.key_buf.push(b);
                            }
                        }
                    }
                    self.push_byte(b)?;
                    continue;
                }
                Scan::Code => {}
            }
            if b.is_ascii_whitespace() {
                if self.buffering() {
                    self.push_byte(b)?;
                }
                continue;
            }
            match self.top {
                Top::Between => {
                    if b != b'{' {
                        return Err(self.syntax(format!(
                            "expected a JSON object (a bundle, or one STIX object per line), found {:?}",
                            b as char
                        )));
                    }
                    self.top = Top::Object;
                    self.depth = 1;
                    self.buf.clear();
                    self.buf.push(b);
                    self.start_line = self.line;
                    self.bundle_line = self.line;
                    self.last_key.clear();
                    self.after_colon = false;
                    self.bundle_type = None;
                }
                Top::Object | Top::BundleTail => self.code_in_top_object(b, emit)?,
                Top::BundleArray => match b {
                    b'{' => {
                        self.top = Top::BundleElement;
                        self.depth = 3;
                        self.buf.clear();
                        self.buf.push(b);
                        self.start_line = self.line;
                    }
                    b',' => {}
                    b']' => {
                        self.top = Top::BundleTail;
                        self.depth = 1;
                        self.last_key.clear();
                    }
                    _ => {
                        return Err(self.syntax(format!(
                            "object #{} of the bundle is not a JSON object (found {:?})",
                            self.index, b as char
                        )));
                    }
                },
                Top::BundleElement => {
                    self.push_byte(b)?;
                    match b {
                        b'"' => self.scan = Scan::Str,
                        b'{' | b'[' => {
                            self.depth += 1;
                            if self.depth > self.limits.max_depth {
                                return Err(SplitError::TooDeep { line: self.line, limit: self.limits.max_depth });
                            }
                        }
                        b'}' | b']' => {
                            self.depth -= 1;
                            if self.depth == 2 {
                                self.emit_buf(emit);
                                self.top = Top::BundleArray;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Handles a code byte inside a top-level object (buffered, or a bundle's head/tail).
    fn code_in_top_object(&mut self, b: u8, emit: &mut dyn FnMut(RawObject)) -> Result<(), SplitError> {
        let mut start_capture = false;
        if self.depth == 1 {
            // Recognise keys and the two values we care about at depth 1.
            match b {
                b'"' if !self.after_colon => {
                    self.in_key = true;
                    self.key_buf.clear();
                }
                b'"' if self.last_key == b"type" => {
                    start_capture = true;
                    self.value_buf.clear();
                }
                b':' => self.after_colon = true,
                b',' => {
                    self.after_colon = false;
                    self.last_key.clear();
                }
                b'[' if self.after_colon && self.last_key == b"objects" && self.top == Top::Object => {
                    // This top-level value is a bundle: stream its elements, drop what was buffered.
                    self.top = Top::BundleArray;
                    self.depth = 2;
                    self.buf.clear();
                    return Ok(());
                }
                _ => {}
            }
        }
        if b == b'"' {
            self.scan = Scan::Str;
        }
        self.push_byte(b)?;
        if start_capture {
            self.capture_value = true;
        }
        match b {
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth > self.limits.max_depth {
                    return Err(SplitError::TooDeep { line: self.line, limit: self.limits.max_depth });
                }
            }
            b'}' | b']' => {
                self.depth -= 1;
                if self.depth == 0 {
                    match self.top {
                        Top::Object => self.emit_buf(emit),
                        _ => {
                            if let Some(t) = self.bundle_type.take()
                                && t != "bundle"
                            {
                                return Err(SplitError::NotABundle { line: self.bundle_line, found: t });
                            }
                        }
                    }
                    self.top = Top::Between;
                    self.last_key.clear();
                    self.after_colon = false;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn push_byte(&mut self, b: u8) -> Result<(), SplitError> {
        if self.capture_value && self.scan != Scan::Escape {
            if b == b'"' && self.scan == Scan::Code {
                // Closing quote of the captured `type` value.
                self.capture_value = false;
                self.bundle_type = Some(String::from_utf8_lossy(&self.value_buf).into_owned());
            } else if self.value_buf.len() < 256 {
                self.value_buf.push(b);
            }
        }
        if self.buffering() {
            if self.buf.len() >= self.limits.max_object_bytes {
                return Err(SplitError::TooLarge {
                    index: self.index,
                    line: self.start_line,
                    limit: self.limits.max_object_bytes,
                });
            }
            self.buf.push(b);
        }
        Ok(())
    }

    fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), SplitError> {
        if self.buf.len() + bytes.len() > self.limits.max_object_bytes {
            return Err(SplitError::TooLarge {
                index: self.index,
                line: self.start_line,
                limit: self.limits.max_object_bytes,
            });
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn emit_buf(&mut self, emit: &mut dyn FnMut(RawObject)) {
        let bytes = std::mem::take(&mut self.buf);
        emit(RawObject { index: self.index, line: self.start_line, bytes });
        self.index += 1;
    }
}

/// Splits a whole in-memory input (convenience for tests and small bodies).
pub fn split_all(input: &[u8], limits: Limits) -> Result<Vec<RawObject>, SplitError> {
    let mut out = Vec::new();
    let mut s = Splitter::new(limits);
    s.feed(input, &mut |o| out.push(o))?;
    s.finish()?;
    Ok(out)
}

/// Removes insignificant whitespace from valid JSON without touching anything inside
/// strings, so stored objects are compact yet byte-identical in every token.
pub fn minify(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut in_str = false;
    let mut esc = false;
    for &b in json {
        if in_str {
            out.push(b);
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else if !b.is_ascii_whitespace() {
            if b == b'"' {
                in_str = true;
            }
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<String> {
        split_all(input.as_bytes(), Limits::default())
            .unwrap()
            .into_iter()
            .map(|o| String::from_utf8(o.bytes).unwrap())
            .collect()
    }

    #[test]
    fn splits_a_bundle_in_any_key_order() {
        let b = r#"{"objects": [{"a": "}]\"x"}, {"b": [1, {"c": 2}]}], "type": "bundle", "id": "bundle--1"}"#;
        assert_eq!(texts(b), vec![r#"{"a": "}]\"x"}"#, r#"{"b": [1, {"c": 2}]}"#]);
        let b = r#"{"type":"bundle","id":"bundle--1","objects":[]}"#;
        assert!(texts(b).is_empty());
    }

    #[test]
    fn splits_json_lines_with_line_numbers() {
        let input = "{\"type\":\"a\"}\n\n{\"type\":\"b\",\n\"x\":{\"objects\":[1]}}\n";
        let objs = split_all(input.as_bytes(), Limits::default()).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].line, 3);
        assert_eq!(objs[1].index, 1);
    }

    #[test]
    fn refuses_a_non_bundle_with_objects_array() {
        let err = split_all(br#"{"type":"report","objects":[{"a":1}]}"#, Limits::default()).unwrap_err();
        assert!(matches!(err, SplitError::NotABundle { .. }), "{err}");
    }

    #[test]
    fn reports_truncation_size_and_depth() {
        let err = split_all(br#"{"type":"bundle","objects":[{"a":"b"#, Limits::default()).unwrap_err();
        assert!(matches!(err, SplitError::Truncated { .. }), "{err}");
        let limits = Limits { max_object_bytes: 10, max_depth: 4 };
        let err = split_all(br#"{"objects":[{"a":"0123456789"}]}"#, limits).unwrap_err();
        assert!(matches!(err, SplitError::TooLarge { index: 0, .. }), "{err}");
        let deep = Limits { max_object_bytes: 1000, max_depth: 4 };
        let err = split_all(br#"{"objects":[{"a":[[[[1]]]]}]}"#, deep).unwrap_err();
        assert!(matches!(err, SplitError::TooDeep { .. }), "{err}");
        let err = split_all(b"[1,2]", limits).unwrap_err();
        assert!(matches!(err, SplitError::Syntax { .. }), "{err}");
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let input = br#"{"type":"bundle","objects":[{"k":"v\"}"},{"n":[1,2]}]}"#;
        let whole = split_all(input, Limits::default()).unwrap();
        let mut s = Splitter::new(Limits::default());
        let mut out = Vec::new();
        for b in input.iter() {
            s.feed(std::slice::from_ref(b), &mut |o| out.push(o)).unwrap();
        }
        s.finish().unwrap();
        assert_eq!(out.len(), whole.len());
        for (a, b) in out.iter().zip(&whole) {
            assert_eq!(a.bytes, b.bytes);
        }
    }

    #[test]
    fn minify_keeps_strings() {
        assert_eq!(minify(b"{ \"a b\" : [ 1 , \"x \\\" y\" ] }"), b"{\"a b\":[1,\"x \\\" y\"]}".to_vec());
    }
}
