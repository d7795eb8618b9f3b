//! The input file as DuckDB's CSV reader must be given it.
//!
//! - **A literal path.** DuckDB expands `*`, `?` and `[...]` in a file name as a glob, so a file
//!   literally named `x*.csv` would also load `xy.csv`. The path is made absolute (so a leading
//!   `~` or a URL-like prefix is never interpreted) and its glob characters are escaped as
//!   one-character classes (`[*]`, `[?]`, `[[]`), which match only themselves.
//! - **Compression.** DuckDB reads gzip and zstd extracts itself, but the dialect and the encoding
//!   must be judged on the *decompressed* text: the compression is recognised by its magic bytes
//!   (whatever the file is called) and passed to the reader explicitly, and the first MiB of text
//!   is decompressed here for sniffing.
//! - **Sniffing.** The delimiter is the most frequent of `,` `;` tab `|` in the header line
//!   (outside quotes), and the encoding is UTF-8 when the first MiB is valid UTF-8, else Latin-1.

use crate::pipeline::error::{PipelineError, Result};
use crate::pipeline::store::literal;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How much decompressed text is read for sniffing.
const HEAD_BYTES: u64 = 1 << 20;

/// The compression of an input file, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn from_magic(magic: &[u8]) -> Self {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The value of `read_csv`'s `compression` option.
    pub fn reader_option(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// An input file, checked, with its compression and the start of its text.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The path as the user gave it (for messages).
    pub path: PathBuf,
    pub compression: Compression,
    /// The file's size in bytes (compressed, for a compressed file).
    pub bytes: u64,
    /// The absolute path, glob characters escaped, as a SQL string literal for `read_csv`.
    reader_path: String,
    /// Up to [`HEAD_BYTES`] of the decompressed text.
    head: Vec<u8>,
}

fn unreadable(path: &Path, reason: impl Into<String>) -> PipelineError {
    PipelineError::InputUnreadable { path: path.display().to_string(), reason: reason.into() }
}

/// Why a file cannot be read, in words (the OS error kind, not its raw text).
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "there is no such file".into(),
        std::io::ErrorKind::PermissionDenied => "you are not allowed to read it".into(),
        _ => e.to_string(),
    }
}

impl InputFile {
    /// Check that `path` is a readable, non-empty file and read the start of its text.
    pub fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| unreadable(path, io_reason(&e)))?;
        if meta.is_dir() {
            return Err(unreadable(path, "it is a folder, not a file"));
        }
        if meta.len() == 0 {
            return Err(PipelineError::EmptyInput { path: path.display().to_string() });
        }
        let absolute = std::fs::canonicalize(path).map_err(|e| unreadable(path, io_reason(&e)))?;
        let reader_path = literal(&escape_glob(&absolute)?);
        let mut magic = Vec::with_capacity(4);
        std::fs::File::open(path)
            .and_then(|f| f.take(4).read_to_end(&mut magic))
            .map_err(|e| unreadable(path, io_reason(&e)))?;
        let compression = Compression::from_magic(&magic);
        let head = read_head(path, compression).map_err(|e| {
            PipelineError::Data(format!(
                "{} looks {} compressed, but it cannot be decompressed ({e}). Check that the \
                 download or copy is complete, or decompress it yourself and load the CSV.",
                path.display(),
                compression.reader_option()
            ))
        })?;
        Ok(Self { path: path.to_path_buf(), compression, bytes: meta.len(), reader_path, head })
    }

    /// The path for `read_csv(...)`, quoted.
    pub fn reader_path(&self) -> &str {
        &self.reader_path
    }

    /// Is the start of the text valid UTF-8 (the reader's encoding is chosen from this)?
    pub fn looks_like_utf8(&self) -> bool {
        match std::str::from_utf8(&self.head) {
            Ok(_) => true,
            // An error in the last 3 bytes may be a character cut at the buffer's end.
            Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > self.head.len(),
        }
    }

    /// The delimiter of the header line: the most frequent of `,` `;` tab `|` outside quotes
    /// (comma when there is none). The header has at least 14 fields, so this is unambiguous
    /// where DuckDB's sniffer can be misled by a few rows with quoted delimiters.
    pub fn header_delimiter(&self) -> char {
        let text = String::from_utf8_lossy(&self.head);
        let line = text.trim_start_matches('\u{feff}').lines().next().unwrap_or("");
        let mut counts = [(',', 0usize), (';', 0), ('\t', 0), ('|', 0)];
        let mut quoted = false;
        for ch in line.chars() {
            if ch == '"' {
                quoted = !quoted;
            } else if !quoted && let Some(c) = counts.iter_mut().find(|(d, _)| *d == ch) {
                c.1 += 1;
            }
        }
        counts.iter().max_by_key(|(_, n)| *n).filter(|(_, n)| *n > 0).map_or(',', |(d, _)| *d)
    }
}

/// The first [`HEAD_BYTES`] of the decompressed text.
fn read_head(path: &Path, compression: Compression) -> std::io::Result<Vec<u8>> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let reader: Box<dyn Read> = match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Compression::Zstd => Box::new(
            ruzstd::decoding::StreamingDecoder::new(file)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?,
        ),
    };
    let mut head = Vec::with_capacity(HEAD_BYTES as usize);
    reader.take(HEAD_BYTES).read_to_end(&mut head)?;
    Ok(head)
}

/// The path with DuckDB's glob characters escaped, so it names exactly one file.
fn escape_glob(path: &Path) -> Result<String> {
    let text = path.to_str().ok_or_else(|| {
        unreadable(path, "its name is not valid Unicode; rename the file (or its folder)")
    })?;
    if cfg!(not(windows)) && text.contains('\\') {
        return Err(unreadable(
            path,
            "its name contains a backslash, which the CSV reader takes for a folder separator; \
             rename the file (or its folder) without it",
        ));
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '*' | '?' | '[' => {
                escaped.push('[');
                escaped.push(ch);
                escaped.push(']');
            }
            _ => escaped.push(ch),
        }
    }
    Ok(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_become_one_character_classes() {
        let escaped = escape_glob(Path::new("/data/x*[1]?.csv")).unwrap();
        assert_eq!(escaped, "/data/x[*][[]1][?].csv");
    }

    #[test]
    fn compression_is_recognised_by_magic_bytes() {
        assert_eq!(Compression::from_magic(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(Compression::from_magic(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(Compression::from_magic(b"SALE"), Compression::None);
        assert_eq!(Compression::from_magic(&[]), Compression::None);
    }

    #[test]
    fn the_head_of_a_gzip_file_is_sniffed_decompressed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.csv.gz");
        let text = "A;B,C,D\n\"x;y\",2,3,4\n".repeat(2);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, text.as_bytes()).unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        let input = InputFile::open(&path).unwrap();
        assert_eq!(input.compression, Compression::Gzip);
        assert_eq!(input.header_delimiter(), ',');
        assert!(input.looks_like_utf8());
    }
}
