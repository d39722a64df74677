//! The byte-level BPE tokenizer (DESIGN §3): trained on the prepared corpus with the
//! `tokenizers` crate, `ByteLevel` pre-tokenizer without prefix space and no normalizer, so
//! `decode(encode(text)) == text` exactly.

use std::path::Path;

use mixagent_shard::write_atomic;
use sha2::{Digest, Sha256};
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    Tokenizer, TokenizerBuilder,
};

use crate::CorpusError;

/// The end-of-document token appended after every document in the shards.
pub const EOS_TOKEN: &str = "<|endoftext|>";

/// A loaded tokenizer with its fingerprint.
pub struct CorpusTokenizer {
    /// The tokenizer.
    pub inner: Tokenizer,
    /// First 8 bytes of the SHA-256 of its JSON, as 16 hex digits.
    pub fingerprint: String,
    /// The id of [`EOS_TOKEN`].
    pub eos_id: u32,
    json: String,
}

impl std::fmt::Debug for CorpusTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorpusTokenizer")
            .field("fingerprint", &self.fingerprint)
            .field("vocab_size", &self.vocab_size())
            .field("eos_id", &self.eos_id)
            .finish()
    }
}

impl CorpusTokenizer {
    /// Trains a byte-level BPE of `vocab_size` tokens on `texts`.
    pub fn train<'a>(
        texts: impl Iterator<Item = &'a str> + Send,
        vocab_size: u32,
    ) -> Result<Self, CorpusError> {
        let err = |e: tokenizers::Error| CorpusError::Tokenizer {
            path: "<training>".into(),
            message: e.to_string(),
        };
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size as usize)
            .min_frequency(2)
            .show_progress(false)
            .special_tokens(vec![AddedToken::from(EOS_TOKEN, true)])
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build();
        let mut tk = TokenizerBuilder::<
            BPE,
            NormalizerWrapper,
            PreTokenizerWrapper,
            PostProcessorWrapper,
            DecoderWrapper,
        >::new()
        .with_model(BPE::default())
        .with_normalizer(None)
        .with_pre_tokenizer(Some(ByteLevel::new(false, true, true).into()))
        .with_post_processor(None)
        .with_decoder(Some(ByteLevel::new(false, true, true).into()))
        .build()
        .map_err(err)?;
        tk.train(&mut trainer, texts).map_err(err)?;
        let tokenizer = Tokenizer::from(tk);
        let json = tokenizer.to_string(false).map_err(err)?;
        Self::from_json(json, Path::new("<training>"))
    }

    /// Loads a `tokenizer.json`.
    pub fn load(path: &Path) -> Result<Self, CorpusError> {
        let json = std::fs::read_to_string(path).map_err(|e| CorpusError::io(path, e))?;
        Self::from_json(json, path)
    }

    fn from_json(json: String, path: &Path) -> Result<Self, CorpusError> {
        let inner: Tokenizer =
            json.parse().map_err(|e: tokenizers::Error| CorpusError::Tokenizer {
                path: path.into(),
                message: format!("{e}: not a tokenizers JSON file"),
            })?;
        let eos_id = inner.token_to_id(EOS_TOKEN).ok_or_else(|| CorpusError::Tokenizer {
            path: path.into(),
            message: format!(
                "has no `{EOS_TOKEN}` token; mixagent tokenizers need it as end-of-document"
            ),
        })?;
        Ok(CorpusTokenizer { fingerprint: fingerprint(&json), eos_id, inner, json })
    }

    /// Vocabulary size, special tokens included.
    pub fn vocab_size(&self) -> u32 {
        self.inner.get_vocab_size(true) as u32
    }

    /// Writes the tokenizer JSON atomically.
    pub fn save(&self, path: &Path) -> Result<(), CorpusError> {
        Ok(write_atomic(path, self.json.as_bytes())?)
    }

    /// Token ids of many texts (parallel inside `tokenizers`).
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, CorpusError> {
        let enc = self.inner.encode_batch(texts.to_vec(), false).map_err(|e| {
            CorpusError::Tokenizer { path: "<encode>".into(), message: e.to_string() }
        })?;
        Ok(enc.into_iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Text of token ids.
    pub fn decode(&self, ids: &[u32]) -> Result<String, CorpusError> {
        self.inner
            .decode(ids, false)
            .map_err(|e| CorpusError::Tokenizer { path: "<decode>".into(), message: e.to_string() })
    }
}

/// First 8 bytes of SHA-256, as 16 hex digits.
fn fingerprint(json: &str) -> String {
    let d = Sha256::digest(json.as_bytes());
    format!("{:016x}", u64::from_be_bytes(d[..8].try_into().expect("8 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_and_round_trips_exactly() {
        let texts: Vec<String> = (0..300)
            .map(|i| format!("  The quick brown fox {i} jumps over the lazy dog.\n\tdef f(x): return x ** {i}  # ünïcode ∑ 🦀\n"))
            .collect();
        let tk = CorpusTokenizer::train(texts.iter().map(String::as_str), 400).unwrap();
        assert!(tk.vocab_size() <= 400 && tk.vocab_size() > 256);
        for t in &texts[..20] {
            let ids = tk.encode_batch(&[t.as_str()]).unwrap().remove(0);
            assert!(ids.len() < t.len(), "BPE should compress");
            assert_eq!(&tk.decode(&ids).unwrap(), t);
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        tk.save(&p).unwrap();
        let back = CorpusTokenizer::load(&p).unwrap();
        assert_eq!(back.fingerprint, tk.fingerprint);
        assert_eq!(back.eos_id, tk.eos_id);
        std::fs::write(&p, "{not json").unwrap();
        assert!(CorpusTokenizer::load(&p).unwrap_err().to_string().contains("tokenizer.json"));
    }
}
