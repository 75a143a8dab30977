//! Reading files that may be gzip-compressed, with errors that say where decompression failed.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads `path`, decompressing it if it starts with the gzip magic bytes.
///
/// `what` names the data for the [`Error::MissingData`] raised when the file does not exist.
pub fn read_maybe_gzip(path: &Path, what: &str) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e, what))?;
    decompress_if_gzip(&raw, path)
}

/// Decompresses `bytes` if they start with the gzip magic bytes; returns them unchanged otherwise.
///
/// Truncated or corrupt gzip data gives [`Error::Corrupt`] whose offset counts the decompressed
/// bytes produced before the failure.
pub fn decompress_if_gzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes.to_vec());
    }
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
    // Files here are at most tens of MB; guess a 4× ratio to avoid most reallocations.
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4));
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::corrupt(
                    path,
                    out.len() as u64,
                    format!("gzip data truncated or corrupt (offset in decompressed data): {e}"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn plain_bytes_pass_through() {
        assert_eq!(decompress_if_gzip(b"abc", Path::new("x")).unwrap(), b"abc");
    }

    #[test]
    fn gzip_round_trips() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            decompress_if_gzip(&gzip(&data), Path::new("x")).unwrap(),
            data
        );
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let gz = gzip(&data);
        let err = decompress_if_gzip(&gz[..gz.len() / 2], Path::new("f.gz")).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        assert!(err.to_string().starts_with("f.gz: byte "), "{err}");
    }

    #[test]
    fn missing_file_names_the_setup_command() {
        let err = read_maybe_gzip(Path::new("/nonexistent/x.gz"), "Fashion-MNIST").unwrap_err();
        assert!(matches!(err, Error::MissingData { .. }));
        assert!(err.to_string().contains("scripts/setup-data.sh"), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_gzip_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut bytes = GZIP_MAGIC.to_vec();
            bytes.extend(tail);
            let _ = decompress_if_gzip(&bytes, Path::new("x"));
        }

        #[test]
        fn truncated_gzip_is_always_an_error(cut in 1usize..40) {
            let gz = gzip(b"some IDX-like content 0123456789 0123456789");
            let keep = gz.len().saturating_sub(cut).max(2);
            prop_assert!(decompress_if_gzip(&gz[..keep], Path::new("x")).is_err());
        }

        #[test]
        fn corrupted_gzip_never_panics(at in 2usize..60, value in any::<u8>()) {
            let mut gz = gzip(b"some IDX-like content 0123456789 0123456789");
            let at = at % gz.len();
            gz[at] = value;
            let _ = decompress_if_gzip(&gz, Path::new("x"));
        }
    }
}
