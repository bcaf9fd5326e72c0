//! The messages on every request's path, encoded and decoded by hand.
//!
//! An actor runs in an interpreter, where every instruction costs: through
//! rmp-serde and serde's derived code, decoding an HTTP request with two
//! headers took about 46,000 wasm instructions, encoding the response
//! 23,000, and a key-value `Add` 15,000 (docs/benchmarks.md), several times
//! the host's own work per request. Here the same bytes are read and written
//! directly for [`http::Request`], [`http::Response`], [`AddRequest`] and
//! [`AddResponse`].
//!
//! The contract is rmp-serde's: [`encode`] writes exactly the bytes
//! `rmp_serde::to_vec_named` writes, and [`decode`] returns a value only for
//! the shape [`crate::serialize`] writes (a map keyed by field name, each
//! field once, strings valid UTF-8, bodies as `bin`), the same value
//! rmp-serde would; anything else (the positional array form, an unknown
//! key, a repeated one, a string where bytes are due) returns `None`, and
//! the caller hands the bytes to rmp-serde, which decodes them or names
//! what is wrong. The property tests and the `codec` fuzz target hold both
//! sides to it.

use std::any::Any;
use std::collections::BTreeMap;

use crate::http::{Request, Response};
use crate::keyvalue::{AddRequest, AddResponse};

/// `item` as rmp-serde encodes it, for the types this module knows;
/// `None` for the others.
pub(crate) fn encode<T: Any>(item: &T) -> Option<Vec<u8>> {
    let item = item as &dyn Any;
    if let Some(response) = item.downcast_ref::<Response>() {
        return Some(response_bytes(response));
    }
    if let Some(add) = item.downcast_ref::<AddRequest>() {
        let mut out = Vec::with_capacity(16 + add.key.len());
        write_map_len(&mut out, 2);
        write_str(&mut out, "key");
        write_str(&mut out, &add.key);
        write_str(&mut out, "value");
        write_sint(&mut out, i64::from(add.value));
        return Some(out);
    }
    None
}

/// `bytes` as a `T`, for the types this module knows and the shape
/// [`crate::serialize`] writes; `None` otherwise (rmp-serde decides).
pub(crate) fn decode<T: Any>(bytes: &[u8]) -> Option<T> {
    let mut slot: Option<T> = None;
    let any = &mut slot as &mut dyn Any;
    if let Some(request) = any.downcast_mut::<Option<Request>>() {
        *request = Some(request_from(bytes)?);
    } else if let Some(add) = any.downcast_mut::<Option<AddResponse>>() {
        let mut input = Reader(bytes);
        let value = match (input.map_len()?, input.str()?) {
            (1, "value") => i32::try_from(input.int()?).ok()?,
            _ => return None,
        };
        input.end()?;
        *add = Some(AddResponse { value });
    }
    slot
}

fn request_from(bytes: &[u8]) -> Option<Request> {
    let mut input = Reader(bytes);
    let (mut method, mut path, mut query_string, mut header, mut body) = (None, None, None, None, None);
    for _ in 0..input.map_len()? {
        match input.str()? {
            "method" if method.is_none() => method = Some(input.str()?.to_owned()),
            "path" if path.is_none() => path = Some(input.str()?.to_owned()),
            "queryString" if query_string.is_none() => query_string = Some(input.str()?.to_owned()),
            "header" if header.is_none() => header = Some(input.string_map()?),
            "body" if body.is_none() => body = Some(input.bin()?.to_vec()),
            _ => return None,
        }
    }
    input.end()?;
    Some(Request {
        method: method?,
        path: path?,
        query_string: query_string?,
        header: header.unwrap_or_default(),
        body: body.unwrap_or_default(),
    })
}

fn response_bytes(response: &Response) -> Vec<u8> {
    let headers: usize = response.header.iter().map(|(k, v)| k.len() + v.len() + 10).sum();
    let mut out = Vec::with_capacity(48 + response.status.len() + headers + response.body.len());
    write_map_len(&mut out, 4);
    write_str(&mut out, "statusCode");
    write_uint(&mut out, u64::from(response.status_code));
    write_str(&mut out, "status");
    write_str(&mut out, &response.status);
    write_str(&mut out, "header");
    write_map_len(&mut out, response.header.len());
    for (name, value) in &response.header {
        write_str(&mut out, name);
        write_str(&mut out, value);
    }
    write_str(&mut out, "body");
    write_bin(&mut out, &response.body);
    out
}

/// Reads msgpack from a byte slice; every method is `None` on anything
/// but the one marker family it reads.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if self.0.len() < len {
            return None;
        }
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(taken)
    }

    fn be(&mut self, len: usize) -> Option<u64> {
        Some(self.take(len)?.iter().fold(0u64, |n, b| n << 8 | u64::from(*b)))
    }

    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }

    fn map_len(&mut self) -> Option<usize> {
        let len = match self.byte()? {
            marker @ 0x80..=0x8f => u64::from(marker & 0x0f),
            0xde => self.be(2)?,
            0xdf => self.be(4)?,
            _ => return None,
        };
        usize::try_from(len).ok()
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = match self.byte()? {
            marker @ 0xa0..=0xbf => u64::from(marker & 0x1f),
            0xd9 => self.be(1)?,
            0xda => self.be(2)?,
            0xdb => self.be(4)?,
            _ => return None,
        };
        std::str::from_utf8(self.take(usize::try_from(len).ok()?)?).ok()
    }

    fn bin(&mut self) -> Option<&'a [u8]> {
        let len = match self.byte()? {
            0xc4 => self.be(1)?,
            0xc5 => self.be(2)?,
            0xc6 => self.be(4)?,
            _ => return None,
        };
        self.take(usize::try_from(len).ok()?)
    }

    fn int(&mut self) -> Option<i64> {
        Some(match self.byte()? {
            marker @ 0x00..=0x7f => i64::from(marker),
            marker @ 0xe0..=0xff => i64::from(marker as i8),
            0xcc => self.be(1)? as i64,
            0xcd => self.be(2)? as i64,
            0xce => self.be(4)? as i64,
            0xcf => i64::try_from(self.be(8)?).ok()?,
            0xd0 => i64::from(self.be(1)? as u8 as i8),
            0xd1 => i64::from(self.be(2)? as u16 as i16),
            0xd2 => i64::from(self.be(4)? as u32 as i32),
            0xd3 => self.be(8)? as i64,
            _ => return None,
        })
    }

    fn string_map(&mut self) -> Option<BTreeMap<String, String>> {
        let mut map = BTreeMap::new();
        for _ in 0..self.map_len()? {
            let name = self.str()?;
            let value = self.str()?;
            // A repeated key: the last value, as serde's map keeps it.
            map.insert(name.to_owned(), value.to_owned());
        }
        Some(map)
    }
}

fn write_map_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=15 => out.push(0x80 | len as u8),
        _ => write_len(out, len, None, 0xde, 0xdf),
    }
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    match text.len() {
        len @ 0..=31 => out.push(0xa0 | len as u8),
        len => write_len(out, len, Some(0xd9), 0xda, 0xdb),
    }
    out.extend_from_slice(text.as_bytes());
}

fn write_bin(out: &mut Vec<u8>, bytes: &[u8]) {
    write_len(out, bytes.len(), Some(0xc4), 0xc5, 0xc6);
    out.extend_from_slice(bytes);
}

/// `len` in the narrowest of the forms a family has: after the marker
/// `m8` in one byte (where the family has one), `m16` in two or `m32` in
/// four, big-endian.
fn write_len(out: &mut Vec<u8>, len: usize, m8: Option<u8>, m16: u8, m32: u8) {
    match (len, m8) {
        (0..=0xff, Some(m8)) => out.extend_from_slice(&[m8, len as u8]),
        (0..=0xffff, _) => {
            out.push(m16);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(m32);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

/// The most compact unsigned form, as rmp's `write_uint`.
fn write_uint(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0x7f => out.push(n as u8),
        0x80..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(0xcf);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// The most compact form, as rmp's `write_sint`: non-negative numbers as
/// [`write_uint`] writes them, negative ones in the smallest signed form.
fn write_sint(out: &mut Vec<u8>, n: i64) {
    match n {
        0.. => write_uint(out, n as u64),
        -32..=-1 => out.push(n as i8 as u8),
        -128..=-33 => out.extend_from_slice(&[0xd0, n as i8 as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend_from_slice(&(n as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xd2);
            out.extend_from_slice(&(n as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_form_is_written_as_rmp_serde_writes_it() {
        // fixstr/str8/str16/str32, fixmap/map16, bin8/bin16/bin32.
        for (text, headers, body) in [(1, 0, 0), (40, 3, 200), (300, 20, 70_000), (70_000, 16, 300)] {
            let response = Response {
                status_code: 70_000,
                status: "s".repeat(text),
                header: (0..headers).map(|i| (format!("h{i}"), "v".repeat(text.min(500)))).collect(),
                body: vec![7; body],
            };
            assert_eq!(encode(&response).unwrap(), rmp_serde::to_vec_named(&response).unwrap(), "{text} {headers} {body}");
            let request = Request { method: "GET".into(), path: "p".repeat(text), query_string: String::new(), header: response.header.clone(), body: response.body.clone() };
            assert_eq!(decode::<Request>(&rmp_serde::to_vec_named(&request).unwrap()), Some(request));
        }
    }
}
