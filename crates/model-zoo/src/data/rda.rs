//! A reader for R's XDR serialization (`.rda` / `.RData`, format versions 2 and 3), enough for data frames.
//!
//! Layout (R Internals, "Serialization Formats"): an optional gzip/bzip2/xz wrapper (only xz, the one
//! `r-cran-mlbench` uses, and uncompressed are accepted); the header `RDX2\n` or `RDX3\n`; the format tag `X\n`
//! (XDR = big-endian); three ints — format version, writer R version, minimal reader version — and, in version 3,
//! an int length plus the native-encoding string. Then one item: a pairlist of (tag symbol, value).
//!
//! Each item starts with an int of flags: type in bits 0–7, "is object" bit 8, "has attributes" bit 9, "has tag"
//! bit 10 (for CHARSXP bits 12+ carry the encoding). Types read here: 1 symbol (a CHARSXP follows), 2 pairlist
//! (attributes, tag, car, cdr), 9 CHARSXP (int length, −1 = NA, then bytes), 10 logical, 13 integer, 14 double,
//! 16 string vector, 19 list, 254 NULL, 255 reference to the n-th symbol read (n = flags >> 8, or a following int
//! when that is 0). Vector lengths are an int (−1 announces a 64-bit length in two ints); a vector's attributes
//! follow its payload as a pairlist.

use std::path::Path;

use crate::error::{Result, ZooError};

/// Integer NA in R.
pub const NA_INTEGER: i32 = i32::MIN;

/// The payload of an R object.
#[derive(Debug, Clone, PartialEq)]
pub enum RData {
    /// NULL.
    Null,
    /// A symbol (its name).
    Symbol(String),
    /// A pairlist of (tag, value).
    Pairlist(Vec<(Option<String>, RObject)>),
    /// A logical vector (NA = `i32::MIN`).
    Logical(Vec<i32>),
    /// An integer vector (NA = `i32::MIN`); factors are 1-based codes.
    Integer(Vec<i32>),
    /// A double vector.
    Double(Vec<f64>),
    /// A character vector (`None` = NA).
    Strings(Vec<Option<String>>),
    /// A generic vector (list; a data.frame is one).
    List(Vec<RObject>),
}

/// An R object: payload plus attributes (`names`, `levels`, `class`, `row.names`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct RObject {
    /// The payload.
    pub data: RData,
    /// Attributes in file order.
    pub attributes: Vec<(String, RObject)>,
}

impl RObject {
    /// The attribute called `name`.
    pub fn attr(&self, name: &str) -> Option<&RObject> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The strings of a character vector (NA as `None`), or `None` for other types.
    pub fn strings(&self) -> Option<&[Option<String>]> {
        match &self.data {
            RData::Strings(s) => Some(s),
            _ => None,
        }
    }
}

const MAX_DEPTH: usize = 64;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    symbols: Vec<String>,
    path: &'a Path,
}

impl Reader<'_> {
    fn err(&self, reason: impl Into<String>) -> ZooError {
        ZooError::Rda { path: self.path.to_path_buf(), reason: format!("{} (at byte {} of the decompressed stream)", reason.into(), self.pos) }
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            self.err(format!("truncated: need {n} more bytes, {} left", self.bytes.len() - self.pos))
        })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn int(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn length(&mut self) -> Result<usize> {
        let n = self.int()?;
        let len = if n == -1 {
            let hi = self.int()? as u32 as u64;
            let lo = self.int()? as u32 as u64;
            (hi << 32) | lo
        } else if n < 0 {
            return Err(self.err(format!("negative vector length {n}")));
        } else {
            n as u64
        };
        // Each element takes at least one byte; a longer length than the bytes left is corruption.
        if len > (self.bytes.len() - self.pos) as u64 {
            return Err(self.err(format!("vector length {len} exceeds the {} bytes left", self.bytes.len() - self.pos)));
        }
        Ok(len as usize)
    }

    fn charsxp(&mut self) -> Result<Option<String>> {
        let flags = self.int()?;
        if flags & 0xff != 9 {
            return Err(self.err(format!("expected a CHARSXP (type 9), found type {}", flags & 0xff)));
        }
        self.charsxp_body()
    }

    fn charsxp_body(&mut self) -> Result<Option<String>> {
        let n = self.int()?;
        if n == -1 {
            return Ok(None);
        }
        if n < 0 {
            return Err(self.err(format!("negative string length {n}")));
        }
        let b = self.take(n as usize)?;
        Ok(Some(String::from_utf8_lossy(b).into_owned()))
    }

    fn attributes(&mut self, depth: usize) -> Result<Vec<(String, RObject)>> {
        let obj = self.item(depth + 1)?;
        match obj.data {
            RData::Pairlist(items) => Ok(items.into_iter().map(|(t, v)| (t.unwrap_or_default(), v)).collect()),
            RData::Null => Ok(Vec::new()),
            other => Err(self.err(format!("attributes must be a pairlist, found {}", kind(&other)))),
        }
    }

    fn item(&mut self, depth: usize) -> Result<RObject> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("nesting deeper than {MAX_DEPTH}")));
        }
        let flags = self.int()?;
        let ty = flags & 0xff;
        let has_attr = flags & (1 << 9) != 0;
        let has_tag = flags & (1 << 10) != 0;
        let plain = |data| RObject { data, attributes: Vec::new() };
        match ty {
            254 => Ok(plain(RData::Null)),
            1 => {
                let name = self.charsxp()?.unwrap_or_default();
                self.symbols.push(name.clone());
                Ok(plain(RData::Symbol(name)))
            }
            255 => {
                let mut idx = (flags >> 8) as usize;
                if idx == 0 {
                    idx = self.int()? as usize;
                }
                let name = self
                    .symbols
                    .get(idx.wrapping_sub(1))
                    .cloned()
                    .ok_or_else(|| self.err(format!("reference {idx} to an unknown symbol ({} read)", self.symbols.len())))?;
                Ok(plain(RData::Symbol(name)))
            }
            2 => {
                // A pairlist is a chain of cells; read it iteratively.
                let mut items = Vec::new();
                let mut attributes = Vec::new();
                let (mut has_attr, mut has_tag) = (has_attr, has_tag);
                loop {
                    if has_attr {
                        let a = self.attributes(depth)?;
                        if attributes.is_empty() {
                            attributes = a;
                        }
                    }
                    let tag = if has_tag {
                        match self.item(depth + 1)?.data {
                            RData::Symbol(s) => Some(s),
                            RData::Null => None,
                            other => return Err(self.err(format!("pairlist tag must be a symbol, found {}", kind(&other)))),
                        }
                    } else {
                        None
                    };
                    let car = self.item(depth + 1)?;
                    items.push((tag, car));
                    let next = self.int()?;
                    match next & 0xff {
                        254 => break,
                        2 => {
                            has_attr = next & (1 << 9) != 0;
                            has_tag = next & (1 << 10) != 0;
                        }
                        t => return Err(self.err(format!("pairlist continues with type {t}, expected 2 or 254"))),
                    }
                }
                Ok(RObject { data: RData::Pairlist(items), attributes })
            }
            9 => Ok(plain(match self.charsxp_body()? {
                Some(s) => RData::Strings(vec![Some(s)]),
                None => RData::Strings(vec![None]),
            })),
            10 | 13 => {
                let n = self.length()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.int()?);
                }
                let data = if ty == 10 { RData::Logical(v) } else { RData::Integer(v) };
                let attributes = if has_attr { self.attributes(depth)? } else { Vec::new() };
                Ok(RObject { data, attributes })
            }
            14 => {
                let n = self.length()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    let b = self.take(8)?;
                    v.push(f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
                }
                let attributes = if has_attr { self.attributes(depth)? } else { Vec::new() };
                Ok(RObject { data: RData::Double(v), attributes })
            }
            16 => {
                let n = self.length()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.charsxp()?);
                }
                let attributes = if has_attr { self.attributes(depth)? } else { Vec::new() };
                Ok(RObject { data: RData::Strings(v), attributes })
            }
            19 => {
                let n = self.length()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.item(depth + 1)?);
                }
                let attributes = if has_attr { self.attributes(depth)? } else { Vec::new() };
                Ok(RObject { data: RData::List(v), attributes })
            }
            t => Err(self.err(format!("unsupported SEXP type {t} (flags 0x{flags:08x})"))),
        }
    }
}

fn kind(d: &RData) -> &'static str {
    match d {
        RData::Null => "NULL",
        RData::Symbol(_) => "symbol",
        RData::Pairlist(_) => "pairlist",
        RData::Logical(_) => "logical vector",
        RData::Integer(_) => "integer vector",
        RData::Double(_) => "double vector",
        RData::Strings(_) => "character vector",
        RData::List(_) => "list",
    }
}

/// Removes an xz wrapper if present (magic `FD 37 7A 58 5A 00`); gzip and bzip2 wrappers are reported as unsupported.
pub fn decompress(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let bad = |reason: String| ZooError::Rda { path: path.to_path_buf(), reason };
    if bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(bytes), &mut out)
            .map_err(|e| bad(format!("corrupt xz stream: {e}")))?;
        Ok(out)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        Err(bad("gzip-compressed .rda is not supported; re-save with compress = \"xz\" or none".to_string()))
    } else if bytes.starts_with(b"BZh") {
        Err(bad("bzip2-compressed .rda is not supported; re-save with compress = \"xz\" or none".to_string()))
    } else {
        Ok(bytes.to_vec())
    }
}

/// Parses an `.rda` file into its (name, object) pairs.
pub fn read_rda(bytes: &[u8], path: &Path) -> Result<Vec<(String, RObject)>> {
    let raw = decompress(bytes, path)?;
    let mut r = Reader { bytes: &raw, pos: 0, symbols: Vec::new(), path };
    let magic = r.take(5)?.to_vec();
    let version = match magic.as_slice() {
        b"RDX2\n" => 2,
        b"RDX3\n" => 3,
        other => return Err(r.err(format!("header {:?}, expected \"RDX2\\n\" or \"RDX3\\n\"", String::from_utf8_lossy(other)))),
    };
    let fmt = r.take(2)?.to_vec();
    if fmt != b"X\n" {
        return Err(r.err(format!("format {:?}, only XDR (\"X\\n\") is supported", String::from_utf8_lossy(&fmt))));
    }
    let ser_version = r.int()?;
    if ser_version != version {
        return Err(r.err(format!("serialization version {ser_version} does not match header RDX{version}")));
    }
    let _writer = r.int()?;
    let _min_reader = r.int()?;
    if version == 3 {
        let n = r.int()?;
        if n < 0 {
            return Err(r.err(format!("negative native-encoding length {n}")));
        }
        r.take(n as usize)?;
    }
    let top = r.item(0)?;
    match top.data {
        RData::Pairlist(items) => Ok(items.into_iter().map(|(t, v)| (t.unwrap_or_default(), v)).collect()),
        other => Err(r.err(format!("top level is a {}, expected a pairlist of named objects", kind(&other)))),
    }
}

/// Writes objects in the same format (uncompressed, version 2); used to make test fixtures.
pub fn encode_rda(objects: &[(&str, RObject)]) -> Vec<u8> {
    fn int(out: &mut Vec<u8>, v: i32) {
        out.extend_from_slice(&v.to_be_bytes());
    }
    fn chars(out: &mut Vec<u8>, s: &Option<String>) {
        int(out, 9 | (1 << 15));
        match s {
            None => int(out, -1),
            Some(s) => {
                int(out, s.len() as i32);
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    fn symbol(out: &mut Vec<u8>, s: &str) {
        int(out, 1);
        chars(out, &Some(s.to_string()));
    }
    fn pairlist(out: &mut Vec<u8>, items: &[(String, RObject)]) {
        if items.is_empty() {
            int(out, 254);
            return;
        }
        for (tag, v) in items {
            int(out, 2 | (1 << 10));
            symbol(out, tag);
            obj(out, v);
        }
        int(out, 254);
    }
    fn obj(out: &mut Vec<u8>, o: &RObject) {
        let attr = if o.attributes.is_empty() { 0 } else { 1 << 9 };
        match &o.data {
            RData::Null => int(out, 254),
            RData::Symbol(s) => symbol(out, s),
            RData::Pairlist(items) => {
                let items: Vec<(String, RObject)> = items.iter().map(|(t, v)| (t.clone().unwrap_or_default(), v.clone())).collect();
                pairlist(out, &items);
            }
            RData::Logical(v) | RData::Integer(v) => {
                int(out, if matches!(o.data, RData::Logical(_)) { 10 } else { 13 } | attr);
                int(out, v.len() as i32);
                v.iter().for_each(|&x| int(out, x));
            }
            RData::Double(v) => {
                int(out, 14 | attr);
                int(out, v.len() as i32);
                v.iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
            }
            RData::Strings(v) => {
                int(out, 16 | attr);
                int(out, v.len() as i32);
                v.iter().for_each(|s| chars(out, s));
            }
            RData::List(v) => {
                int(out, 19 | attr);
                int(out, v.len() as i32);
                v.iter().for_each(|x| obj(out, x));
            }
        }
        if !o.attributes.is_empty() && !matches!(o.data, RData::Null | RData::Symbol(_) | RData::Pairlist(_)) {
            pairlist(out, &o.attributes);
        }
    }
    let mut out = b"RDX2\nX\n".to_vec();
    int(&mut out, 2);
    int(&mut out, 0x0004_0201);
    int(&mut out, 0x0002_0300);
    let items: Vec<(String, RObject)> = objects.iter().map(|(n, o)| (n.to_string(), o.clone())).collect();
    pairlist(&mut out, &items);
    out
}
