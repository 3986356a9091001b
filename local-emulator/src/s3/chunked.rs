//! `Content-Encoding: aws-chunked`: how AWS SDKs stream an object with a checksum trailer
//! (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`) or signed chunks
//! (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`). The body is `<hex size>[;chunk-signature=…]\r\n`,
//! the data, `\r\n`, repeated; a zero-size chunk ends it, followed by trailer lines and an
//! empty line. Decoded incrementally, with every line bounded.

/// Longest chunk header or trailer line accepted.
const MAX_LINE: usize = 1024;
/// Most trailer bytes accepted.
const MAX_TRAILERS: usize = 8 * 1024;

#[derive(Debug)]
enum State {
    Header,
    Data { left: u64 },
    DataEnd,
    Trailers,
    Done,
}

#[derive(Debug)]
pub struct Decoder {
    state: State,
    line: Vec<u8>,
    trailer_bytes: usize,
    /// Trailer headers, names lower-case.
    pub trailers: Vec<(String, String)>,
    /// Chunks that carried a `chunk-signature`.
    pub signed_chunks: u64,
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            state: State::Header,
            line: Vec::new(),
            trailer_bytes: 0,
            trailers: Vec::new(),
            signed_chunks: 0,
        }
    }
}

impl Decoder {
    /// Decodes `input`, handing each run of payload bytes to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), String> {
        while !input.is_empty() {
            match &mut self.state {
                State::Data { left } => {
                    let n = (*left).min(input.len() as u64) as usize;
                    out(&input[..n]);
                    *left -= n as u64;
                    input = &input[n..];
                    if *left == 0 {
                        self.state = State::DataEnd;
                    }
                }
                State::Done => return Err("data after the end of the chunked body".into()),
                _ => {
                    let Some(line) = self.take_line(&mut input)? else {
                        continue;
                    };
                    self.on_line(&line)?;
                }
            }
        }
        Ok(())
    }

    /// A complete line, once its `\r\n` has arrived.
    fn take_line(&mut self, input: &mut &[u8]) -> Result<Option<Vec<u8>>, String> {
        match input.iter().position(|&b| b == b'\n') {
            Some(at) => {
                self.line.extend_from_slice(&input[..at]);
                *input = &input[at + 1..];
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Ok(Some(line))
            }
            None => {
                self.line.extend_from_slice(input);
                *input = &[];
                if self.line.len() > MAX_LINE {
                    return Err("a chunk header line is too long".into());
                }
                Ok(None)
            }
        }
    }

    fn on_line(&mut self, line: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(line).map_err(|_| "a chunk line is not text")?;
        match self.state {
            State::Header => {
                let (size, extensions) = text.split_once(';').unwrap_or((text, ""));
                let size = u64::from_str_radix(size.trim(), 16)
                    .map_err(|_| format!("bad chunk size {size:?}"))?;
                if extensions.trim().starts_with("chunk-signature=") {
                    self.signed_chunks += 1;
                }
                self.state = if size == 0 {
                    State::Trailers
                } else {
                    State::Data { left: size }
                };
            }
            State::DataEnd => {
                if !line.is_empty() {
                    return Err("a chunk is longer than its declared size".into());
                }
                self.state = State::Header;
            }
            State::Trailers => {
                if line.is_empty() {
                    self.state = State::Done;
                    return Ok(());
                }
                self.trailer_bytes += line.len();
                if self.trailer_bytes > MAX_TRAILERS {
                    return Err("the trailers are too long".into());
                }
                let (name, value) = text.split_once(':').ok_or("a trailer without a colon")?;
                self.trailers
                    .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
            State::Data { .. } | State::Done => unreachable!("lines are read between chunks"),
        }
        Ok(())
    }

    /// Whether the body ended properly (a final chunk; its trailers, if any, complete).
    pub fn is_complete(&self) -> bool {
        // Some clients end with the zero chunk and no trailer section at all.
        matches!(self.state, State::Done)
            || (matches!(self.state, State::Trailers)
                && self.line.is_empty()
                && self.trailer_bytes == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(body: &[u8], piece: usize) -> Result<(Vec<u8>, Decoder), String> {
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        for chunk in body.chunks(piece) {
            decoder.feed(chunk, &mut |b| out.extend_from_slice(b))?;
        }
        Ok((out, decoder))
    }

    #[test]
    fn unsigned_with_a_trailer_in_any_split() {
        let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        for piece in 1..body.len() {
            let (out, decoder) = decode_in_pieces(body, piece).unwrap();
            assert_eq!(out, b"hello world");
            assert!(decoder.is_complete());
            assert_eq!(
                decoder.trailers,
                [("x-amz-checksum-crc32".into(), "DUoRhQ==".into())]
            );
        }
    }

    #[test]
    fn signed_chunks_and_malformed_bodies() {
        let body = b"3;chunk-signature=abc\r\nhey\r\n0;chunk-signature=def\r\n\r\n";
        let (out, decoder) = decode_in_pieces(body, 4).unwrap();
        assert_eq!(out, b"hey");
        assert_eq!(decoder.signed_chunks, 2);
        assert!(decoder.is_complete());
        assert!(decode_in_pieces(b"zz\r\n", 2).is_err());
        assert!(decode_in_pieces(b"2\r\nabc\r\n", 3).is_err());
        assert!(decode_in_pieces(&[b'1'; 2000], 100).is_err());
        let (_, cut) = decode_in_pieces(b"5\r\nhel", 3).unwrap();
        assert!(!cut.is_complete());
    }
}
