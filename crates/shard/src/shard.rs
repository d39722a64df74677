//! Token shard files: a 64-byte little-endian header, the tokens (`u16` or `u32`) zero-padded
//! to a multiple of 8 bytes, then the start offset (`u64`) of every document. Memory-mapped for reading.
//!
//! ```text
//! 0..8   magic "MIXSHARD"       24..32 n_tokens (u64)
//! 8..12  format version (u32)   32..40 n_docs (u64)
//! 12..16 token bytes: 2 or 4    40..48 tokenizer fingerprint (u64)
//! 16..20 vocab size (u32)       48..60 reserved, zero
//! 20..24 CRC-32 of the payload  60..64 CRC-32 of bytes 0..60
//! ```

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::{AtomicFile, ShardError};

/// The first eight bytes of every shard.
pub const SHARD_MAGIC: [u8; 8] = *b"MIXSHARD";
/// The shard format version this build writes and reads.
pub const SHARD_VERSION: u32 = 1;
/// Size of the header; the token payload starts here (page-aligned mmap + 64 keeps `u32` aligned).
pub const HEADER_BYTES: usize = 64;

/// The decoded header of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardHeader {
    /// Bytes per token: 2 (`u16`) or 4 (`u32`).
    pub token_bytes: u32,
    /// Vocabulary size; every token is below it.
    pub vocab_size: u32,
    /// CRC-32 of everything after the header.
    pub payload_crc: u32,
    /// Number of tokens.
    pub n_tokens: u64,
    /// Number of documents.
    pub n_docs: u64,
    /// Fingerprint of the tokenizer that produced the tokens.
    pub tokenizer_fingerprint: u64,
}

impl ShardHeader {
    fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut h = [0u8; HEADER_BYTES];
        h[0..8].copy_from_slice(&SHARD_MAGIC);
        h[8..12].copy_from_slice(&SHARD_VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&self.token_bytes.to_le_bytes());
        h[16..20].copy_from_slice(&self.vocab_size.to_le_bytes());
        h[20..24].copy_from_slice(&self.payload_crc.to_le_bytes());
        h[24..32].copy_from_slice(&self.n_tokens.to_le_bytes());
        h[32..40].copy_from_slice(&self.n_docs.to_le_bytes());
        h[40..48].copy_from_slice(&self.tokenizer_fingerprint.to_le_bytes());
        let crc = crc32fast::hash(&h[0..60]);
        h[60..64].copy_from_slice(&crc.to_le_bytes());
        h
    }

    fn decode(path: &Path, h: &[u8]) -> Result<Self, ShardError> {
        if h.len() < HEADER_BYTES {
            return Err(ShardError::Truncated {
                path: path.into(),
                expected: HEADER_BYTES as u64,
                got: h.len() as u64,
            });
        }
        if h[0..8] != SHARD_MAGIC {
            return Err(ShardError::BadMagic { path: path.into() });
        }
        let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != SHARD_VERSION {
            return Err(ShardError::Version {
                path: path.into(),
                found: version,
                expected: SHARD_VERSION,
            });
        }
        if crc32fast::hash(&h[0..60]) != u32_at(60) {
            return Err(ShardError::Corrupt {
                path: path.into(),
                what: "header checksum mismatch".into(),
            });
        }
        let header = ShardHeader {
            token_bytes: u32_at(12),
            vocab_size: u32_at(16),
            payload_crc: u32_at(20),
            n_tokens: u64_at(24),
            n_docs: u64_at(32),
            tokenizer_fingerprint: u64_at(40),
        };
        if !matches!(header.token_bytes, 2 | 4) {
            let what = format!("token width {} bytes", header.token_bytes);
            return Err(ShardError::Corrupt { path: path.into(), what });
        }
        Ok(header)
    }

    /// File size implied by the header (saturating, so absurd values cannot overflow).
    fn file_bytes(&self) -> u64 {
        (HEADER_BYTES as u64)
            .saturating_add(pad8(self.n_tokens.saturating_mul(u64::from(self.token_bytes))))
            .saturating_add(self.n_docs.saturating_mul(8))
    }
}

/// Rounds a byte count up to a multiple of 8 (so the `u64` document index is aligned).
fn pad8(n: u64) -> u64 {
    n.saturating_add(7) & !7
}

/// Token element types the sampler can write windows into (`u32` for pure-Rust consumers,
/// `i64` for libtorch's index tensors).
pub trait TokenOut: Copy + Default + Send + 'static {
    /// Converts a stored `u16` token.
    fn from_u16(t: u16) -> Self;
    /// Converts a stored `u32` token.
    fn from_u32(t: u32) -> Self;
}

impl TokenOut for u32 {
    fn from_u16(t: u16) -> Self {
        u32::from(t)
    }
    fn from_u32(t: u32) -> Self {
        t
    }
}

impl TokenOut for i64 {
    fn from_u16(t: u16) -> Self {
        i64::from(t)
    }
    fn from_u32(t: u32) -> Self {
        i64::from(t)
    }
}

/// A validated, memory-mapped shard.
pub struct Shard {
    path: PathBuf,
    header: ShardHeader,
    map: Mmap,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard").field("path", &self.path).field("header", &self.header).finish()
    }
}

impl Shard {
    /// Opens and validates a shard: magic, version, header checksum, size, payload checksum
    /// and, if given, the tokenizer fingerprint it must carry.
    pub fn open(
        path: impl AsRef<Path>,
        expect_fingerprint: Option<u64>,
    ) -> Result<Self, ShardError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| ShardError::io(path, e))?;
        // SAFETY: the map is read-only and shards are never modified in place: `prepare`
        // writes a new file and renames it over the old one, so the mapped inode is immutable.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(|e| ShardError::io(path, e))?;
        let header = ShardHeader::decode(path, &map)?;
        let expected = header.file_bytes();
        if expected != map.len() as u64 {
            return Err(ShardError::Truncated {
                path: path.into(),
                expected,
                got: map.len() as u64,
            });
        }
        if let Some(fp) = expect_fingerprint {
            if fp != header.tokenizer_fingerprint {
                return Err(ShardError::FingerprintMismatch {
                    path: path.into(),
                    found: header.tokenizer_fingerprint,
                    expected: fp,
                });
            }
        }
        if crc32fast::hash(&map[HEADER_BYTES..]) != header.payload_crc {
            return Err(ShardError::Corrupt {
                path: path.into(),
                what: "payload checksum mismatch".into(),
            });
        }
        let shard = Shard { path: path.into(), header, map };
        shard.check_doc_index()?;
        Ok(shard)
    }

    fn check_doc_index(&self) -> Result<(), ShardError> {
        let mut prev = 0;
        for (i, &s) in self.doc_starts().iter().enumerate() {
            if s < prev || s > self.header.n_tokens || (i == 0 && s != 0) {
                let what = format!("document index entry {i} = {s} is out of order");
                return Err(ShardError::Corrupt { path: self.path.clone(), what });
            }
            prev = s;
        }
        Ok(())
    }

    /// The header.
    pub fn header(&self) -> &ShardHeader {
        &self.header
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.header.n_tokens as usize
    }

    /// Whether the shard has no tokens.
    pub fn is_empty(&self) -> bool {
        self.header.n_tokens == 0
    }

    fn payload(&self) -> &[u8] {
        let end = HEADER_BYTES + self.len() * self.header.token_bytes as usize;
        &self.map[HEADER_BYTES..end]
    }

    /// Start offset (in tokens) of each document.
    pub fn doc_starts(&self) -> &[u64] {
        let tokens = self.header.n_tokens * u64::from(self.header.token_bytes);
        bytemuck::cast_slice(&self.map[HEADER_BYTES + pad8(tokens) as usize..])
    }

    /// Copies `out.len()` tokens starting at token `start` into `out`, widening them.
    /// Panics if the range is out of bounds (callers index windows they computed from `len`).
    #[inline]
    pub fn copy_to<T: TokenOut>(&self, start: usize, out: &mut [T]) {
        let end = start + out.len();
        match self.header.token_bytes {
            2 => {
                let src: &[u16] = bytemuck::cast_slice(self.payload());
                for (o, &t) in out.iter_mut().zip(&src[start..end]) {
                    *o = T::from_u16(t);
                }
            }
            _ => {
                let src: &[u32] = bytemuck::cast_slice(self.payload());
                for (o, &t) in out.iter_mut().zip(&src[start..end]) {
                    *o = T::from_u32(t);
                }
            }
        }
    }

    /// Hints the CPU to pull tokens `start..start + len` into cache (for the row after the one
    /// being copied: random windows are the sampler's only cache misses).
    #[inline]
    pub fn prefetch(&self, start: usize, len: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let tb = self.header.token_bytes as usize;
            let bytes = &self.map[HEADER_BYTES + start * tb..HEADER_BYTES + (start + len) * tb];
            for line in bytes.chunks(64) {
                // SAFETY: a prefetch is only a hint; it cannot fault and reads no memory into
                // Rust values. SSE is part of the x86_64 baseline.
                #[allow(unsafe_code)]
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        line.as_ptr().cast(),
                    );
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (start, len);
    }

    /// All tokens, widened to `u32` (allocates; for tests and tools, not the hot path).
    pub fn to_vec(&self) -> Vec<u32> {
        let mut v = vec![0u32; self.len()];
        self.copy_to(0, &mut v);
        v
    }
}

/// Writes one shard atomically: documents are appended, the header is filled in on `finish`.
pub struct ShardWriter {
    file: AtomicFile,
    path: PathBuf,
    header: ShardHeader,
    crc: crc32fast::Hasher,
    doc_starts: Vec<u64>,
}

impl ShardWriter {
    /// Starts a shard at `path`; the token width is 2 bytes if `vocab_size` ≤ 65,536, else 4.
    pub fn create(
        path: impl AsRef<Path>,
        vocab_size: u32,
        tokenizer_fingerprint: u64,
    ) -> Result<Self, ShardError> {
        let path = path.as_ref().to_path_buf();
        let mut file = AtomicFile::create(&path)?;
        file.writer().write_all(&[0u8; HEADER_BYTES]).map_err(|e| ShardError::io(&path, e))?;
        let token_bytes = if vocab_size <= 1 << 16 { 2 } else { 4 };
        let header = ShardHeader {
            token_bytes,
            vocab_size,
            payload_crc: 0,
            n_tokens: 0,
            n_docs: 0,
            tokenizer_fingerprint,
        };
        Ok(ShardWriter {
            file,
            path,
            header,
            crc: crc32fast::Hasher::new(),
            doc_starts: Vec::new(),
        })
    }

    /// Appends one document's tokens.
    pub fn push_doc(&mut self, tokens: &[u32]) -> Result<(), ShardError> {
        self.doc_starts.push(self.header.n_tokens);
        let mut buf = Vec::with_capacity(tokens.len() * self.header.token_bytes as usize);
        for &t in tokens {
            if t >= self.header.vocab_size {
                return Err(ShardError::TokenOutOfRange {
                    path: self.path.clone(),
                    token: t,
                    vocab_size: self.header.vocab_size,
                });
            }
            if self.header.token_bytes == 2 {
                buf.extend_from_slice(&(t as u16).to_le_bytes());
            } else {
                buf.extend_from_slice(&t.to_le_bytes());
            }
        }
        self.crc.update(&buf);
        self.file.writer().write_all(&buf).map_err(|e| ShardError::io(&self.path, e))?;
        self.header.n_tokens += tokens.len() as u64;
        self.header.n_docs += 1;
        Ok(())
    }

    /// Tokens written so far.
    pub fn n_tokens(&self) -> u64 {
        self.header.n_tokens
    }

    /// Writes the document index and header, then renames the file into place.
    pub fn finish(mut self) -> Result<ShardHeader, ShardError> {
        let tokens = self.header.n_tokens * u64::from(self.header.token_bytes);
        let mut index = vec![0u8; (pad8(tokens) - tokens) as usize];
        index.extend(self.doc_starts.iter().flat_map(|s| s.to_le_bytes()));
        self.crc.update(&index);
        let path = self.path.clone();
        let w = self.file.writer();
        w.write_all(&index).map_err(|e| ShardError::io(&path, e))?;
        self.header.payload_crc = self.crc.clone().finalize();
        w.seek(SeekFrom::Start(0)).map_err(|e| ShardError::io(&path, e))?;
        w.write_all(&self.header.encode()).map_err(|e| ShardError::io(&path, e))?;
        self.file.commit()?;
        Ok(self.header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fs;

    fn write(dir: &Path, vocab: u32, docs: &[Vec<u32>]) -> PathBuf {
        let p = dir.join("s.bin");
        let mut w = ShardWriter::create(&p, vocab, 0xfeed).unwrap();
        for d in docs {
            w.push_doc(d).unwrap();
        }
        w.finish().unwrap();
        p
    }

    proptest! {
        #[test]
        fn round_trip(docs in prop::collection::vec(prop::collection::vec(0u32..70_000, 0..50), 0..20), wide in any::<bool>()) {
            let dir = tempfile::tempdir().unwrap();
            let vocab = if wide { 70_000 } else { 65_536 };
            let docs: Vec<Vec<u32>> = docs.into_iter().map(|d| d.into_iter().map(|t| t % vocab).collect()).collect();
            let p = write(dir.path(), vocab, &docs);
            let s = Shard::open(&p, Some(0xfeed)).unwrap();
            prop_assert_eq!(s.header().token_bytes, if wide { 4 } else { 2 });
            prop_assert_eq!(s.to_vec(), docs.concat());
            let mut starts = Vec::new();
            let mut off = 0u64;
            for d in &docs { starts.push(off); off += d.len() as u64; }
            prop_assert_eq!(s.doc_starts(), &starts[..]);
        }
    }

    #[test]
    fn bad_files_give_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), 1000, &[vec![1, 2, 3], vec![4, 5]]);
        let good = fs::read(&p).unwrap();

        let check = |bytes: &[u8], want: &str| {
            let q = dir.path().join("bad.bin");
            fs::write(&q, bytes).unwrap();
            let e = Shard::open(&q, Some(0xfeed)).unwrap_err().to_string();
            assert!(
                e.contains(want) && e.contains("bad.bin") && e.contains("mixagent prepare"),
                "{e}"
            );
        };
        check(&good[..good.len() - 3], "truncated");
        check(&good[..10], "truncated");
        let mut b = good.clone();
        b[0] = b'X';
        check(&b, "bad magic");
        let mut b = good.clone();
        b[8] = 9;
        check(&b, "format version 9");
        let mut b = good.clone();
        b[25] ^= 1;
        check(&b, "header checksum");
        let mut b = good.clone();
        b[HEADER_BYTES + 1] ^= 0x40;
        check(&b, "payload checksum");

        let e = Shard::open(&p, Some(0xbeef)).unwrap_err().to_string();
        assert!(e.contains("tokenizer fingerprint"), "{e}");
        let e = ShardWriter::create(dir.path().join("t.bin"), 10, 0)
            .unwrap()
            .push_doc(&[11])
            .unwrap_err();
        assert!(e.to_string().contains("token 11 outside"));
    }
}
