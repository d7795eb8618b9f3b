//! Pseudonyms for sharing: a report or an export can name customers `C-3f9a1c0b7d2e4a61`
//! instead of by e-mail address.
//!
//! A pseudonym is HMAC-SHA-256 of the customer id (the trimmed, lower-cased e-mail) under a
//! secret key, shortened to 64 bits (16 hex digits) and prefixed `C-`. The key (32 random bytes)
//! is created once in the app's data folder (`pseudonym.key`, owner-only) and used by the app and
//! the command line alike, so the same customer has the same pseudonym in every analysis and
//! every period, and nobody without the key can tell which e-mail a pseudonym stands for (nor
//! test a guessed e-mail). 64 bits make a collision among a million customers a 1-in-30-million
//! event; every output is checked for one anyway.
//!
//! An optional lookup CSV (`pseudonym,customer_id`) maps pseudonyms back; it is written only
//! when asked, owner-only.

use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::private_files;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key's file name inside the data folder.
pub const KEY_FILE: &str = "pseudonym.key";
/// Every pseudonym starts with this.
pub const PREFIX: &str = "C-";
const KEY_BYTES: usize = 32;
/// Hex digits kept of the HMAC (64 bits).
const DIGITS: usize = 16;

/// The secret behind the pseudonyms.
#[derive(Clone)]
pub struct PseudonymKey {
    key: [u8; KEY_BYTES],
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(..)") // never print the secret
    }
}

impl PseudonymKey {
    /// A key from known bytes (tests).
    pub fn from_bytes(key: [u8; KEY_BYTES]) -> Self {
        Self { key }
    }

    /// The key in `data_dir`, created (owner-only) on first use. Two processes creating it at
    /// the same moment end up with the same key: the file appears atomically, first one wins.
    pub fn load_or_create(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Self::create(data_dir, &path),
            Err(err) => Err(key_error(&path, &err.to_string())),
        }
    }

    fn parse(text: &str, path: &Path) -> Result<Self> {
        let bytes = decode_hex(text.trim()).filter(|b| b.len() == KEY_BYTES).ok_or_else(|| {
            key_error(path, &format!("it does not hold {KEY_BYTES} bytes as hexadecimal digits"))
        })?;
        let mut key = [0; KEY_BYTES];
        key.copy_from_slice(&bytes);
        Ok(Self { key })
    }

    fn create(data_dir: &Path, path: &Path) -> Result<Self> {
        let mut key = [0; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let fail = |err: std::io::Error| key_error(path, &err.to_string());
        private_files::create_dir_all(data_dir).map_err(fail)?;
        let temp = data_dir.join(format!(".{KEY_FILE}.{}", std::process::id()));
        let written = private_files::create_new_file(&temp)
            .and_then(|mut f| writeln!(f, "{}", encode_hex(&key)).and_then(|_| f.sync_all()));
        let linked = written.and_then(|_| std::fs::hard_link(&temp, path));
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                tracing::info!("created the pseudonym key {}", path.display());
                Ok(Self { key })
            }
            // Another process made it first: use theirs.
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(fail)?;
                Self::parse(&text, path)
            }
            Err(err) => Err(fail(err)),
        }
    }

    /// The pseudonym of `customer_id` (`C-` and 16 hex digits).
    pub fn pseudonym(&self, customer_id: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(customer_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(PREFIX.len() + DIGITS);
        out.push_str(PREFIX);
        out.push_str(&encode_hex(&digest[..DIGITS / 2]));
        out
    }

    /// The pseudonym of every customer in `customer_ids`; an error if two would share one.
    pub fn pseudonyms<'a>(
        &self,
        customer_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, String>> {
        let mut by_customer = HashMap::new();
        let mut taken = std::collections::HashSet::new();
        for id in customer_ids {
            if by_customer.contains_key(id) {
                continue;
            }
            let pseudonym = self.pseudonym(id);
            if !taken.insert(pseudonym.clone()) {
                return Err(PipelineError::Data(format!(
                    "two customers have the same pseudonym {pseudonym}; write this output without \
                     pseudonyms, or make a new key (earlier pseudonyms will then not match)"
                )));
            }
            by_customer.insert(id.to_string(), pseudonym);
        }
        Ok(by_customer)
    }
}

fn key_error(path: &Path, reason: &str) -> PipelineError {
    PipelineError::PseudonymKey { path: path.display().to_string(), reason: reason.to_string() }
}

/// `<dir>/<stem> pseudonym lookup.csv` beside an output: where the app writes the lookup.
pub fn lookup_path_beside(output: &Path) -> PathBuf {
    let stem = output.file_stem().map_or_else(|| "ReturnScope".into(), |s| s.to_string_lossy());
    output.with_file_name(format!("{stem} pseudonym lookup.csv"))
}

/// Write `pseudonym,customer_id` for every pair, sorted by pseudonym, owner-only.
pub fn write_lookup_csv(path: &Path, by_customer: &HashMap<String, String>) -> Result<()> {
    let mut rows: Vec<(&String, &String)> = by_customer.iter().map(|(c, p)| (p, c)).collect();
    rows.sort();
    let fail = |err: std::io::Error| PipelineError::Write {
        path: path.display().to_string(),
        reason: err.to_string(),
    };
    let mut out = std::io::BufWriter::new(private_files::create_file(path).map_err(fail)?);
    writeln!(out, "pseudonym,customer_id").map_err(fail)?;
    for (pseudonym, customer) in rows {
        writeln!(out, "{pseudonym},{}", csv_field(customer)).map_err(fail)?;
    }
    out.flush().map_err(fail)
}

/// RFC 4180 quoting when the text holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_hmac_sha256_shortened_and_prefixed() {
        // RFC 4231 test case 2: HMAC-SHA-256(key "Jefe", "what do ya want for nothing?") starts
        // 5bdcc146bf60754e; a 32-byte key is the 4 bytes padded with zeros, as HMAC pads it.
        let mut key = [0; KEY_BYTES];
        key[..4].copy_from_slice(b"Jefe");
        let key = PseudonymKey::from_bytes(key);
        assert_eq!(key.pseudonym("what do ya want for nothing?"), "C-5bdcc146bf60754e");
        assert_ne!(key.pseudonym("a@x.com"), key.pseudonym("b@x.com"));
        let other = PseudonymKey::from_bytes([7; KEY_BYTES]);
        assert_ne!(key.pseudonym("a@x.com"), other.pseudonym("a@x.com"), "the key matters");
    }

    #[test]
    fn the_key_is_created_once_owner_only_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("returnscope");
        let first = PseudonymKey::load_or_create(&data_dir).unwrap();
        let again = PseudonymKey::load_or_create(&data_dir).unwrap();
        assert_eq!(first.pseudonym("a@x.com"), again.pseudonym("a@x.com"));
        let path = data_dir.join(KEY_FILE);
        assert!(!private_files::is_shared(&path).unwrap());
        assert!(!private_files::is_shared(&data_dir).unwrap());
        assert_eq!(std::fs::read_dir(&data_dir).unwrap().count(), 1, "no temporary file left");
        std::fs::write(&path, "not hex").unwrap();
        let err = PseudonymKey::load_or_create(&data_dir).unwrap_err().to_string();
        assert!(err.contains(KEY_FILE) && err.contains("hexadecimal"), "{err}");
    }

    #[test]
    fn the_lookup_maps_pseudonyms_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = PseudonymKey::from_bytes([1; KEY_BYTES]);
        let map = key.pseudonyms(["b@x.com", "a@x.com", "a@x.com"]).unwrap();
        assert_eq!(map.len(), 2);
        let path = dir.path().join("lookup.csv");
        write_lookup_csv(&path, &map).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut expected = [
            format!("{},a@x.com", key.pseudonym("a@x.com")),
            format!("{},b@x.com", key.pseudonym("b@x.com")),
        ];
        expected.sort();
        assert_eq!(text, format!("pseudonym,customer_id\n{}\n", expected.join("\n")));
        assert!(!private_files::is_shared(&path).unwrap());
    }
}
