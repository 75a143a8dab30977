//! The IDX format of (Fashion-)MNIST: a big-endian header, then unsigned bytes.
//!
//! Layout: two zero bytes, a type code (`0x08` = unsigned byte, the only one supported), the
//! number of dimensions `d`, `d` big-endian `u32` sizes, then the values row-major.

use std::path::Path;

use crate::error::{Error, Result};

/// Type code of unsigned-byte data.
const TYPE_U8: u8 = 0x08;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Size of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// `dims.iter().product()` values, row-major.
    pub data: Vec<u8>,
}

/// Parses an IDX file's (decompressed) content; `path` only labels errors.
///
/// Takes the bytes by value so the data need not be copied.
pub fn parse_idx(mut bytes: Vec<u8>, path: &Path) -> Result<IdxArray> {
    let corrupt = |offset: usize, message: String| Error::corrupt(path, offset as u64, message);
    if bytes.len() < 4 {
        return Err(corrupt(
            bytes.len(),
            format!("truncated IDX header ({} bytes)", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(corrupt(
            0,
            "not an IDX file: the first two bytes must be zero".into(),
        ));
    }
    if bytes[2] != TYPE_U8 {
        return Err(corrupt(
            2,
            format!(
                "unsupported IDX type code {:#04x} (only 0x08, unsigned byte)",
                bytes[2]
            ),
        ));
    }
    let ndim = usize::from(bytes[3]);
    if ndim == 0 {
        return Err(corrupt(3, "IDX array with zero dimensions".into()));
    }
    let header_len = 4 + 4 * ndim;
    if bytes.len() < header_len {
        return Err(corrupt(
            bytes.len(),
            format!("truncated IDX header: {ndim} dimensions need {header_len} bytes"),
        ));
    }
    let mut dims = Vec::with_capacity(ndim);
    let mut count: usize = 1;
    for d in 0..ndim {
        let at = 4 + 4 * d;
        let size =
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        count = count
            .checked_mul(size)
            .ok_or_else(|| corrupt(at, "IDX dimensions overflow".into()))?;
        dims.push(size);
    }
    let available = bytes.len() - header_len;
    if available < count {
        return Err(corrupt(
            bytes.len(),
            format!(
                "truncated IDX data: dimensions {dims:?} need {count} bytes, found {available}"
            ),
        ));
    }
    if available > count {
        return Err(corrupt(
            header_len + count,
            format!("{} unexpected bytes after the IDX data", available - count),
        ));
    }
    bytes.drain(..header_len);
    Ok(IdxArray { dims, data: bytes })
}

/// Parses an IDX file of images `[n, rows, cols]`: returns `(pixels, n, rows, cols)`.
pub fn parse_idx_images(bytes: Vec<u8>, path: &Path) -> Result<(Vec<u8>, usize, usize, usize)> {
    let array = parse_idx(bytes, path)?;
    match array.dims[..] {
        [n, rows, cols] => Ok((array.data, n, rows, cols)),
        _ => Err(Error::corrupt(
            path,
            3,
            format!(
                "expected 3 IDX dimensions for images, found {:?}",
                array.dims
            ),
        )),
    }
}

/// Parses an IDX file of labels `[n]`.
pub fn parse_idx_labels(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    let array = parse_idx(bytes, path)?;
    match array.dims[..] {
        [_] => Ok(array.data),
        _ => Err(Error::corrupt(
            path,
            3,
            format!(
                "expected 1 IDX dimension for labels, found {:?}",
                array.dims
            ),
        )),
    }
}

/// Encodes an IDX array (used by tests and to write small fixtures).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, TYPE_U8, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_images_and_labels() {
        let bytes = encode_idx(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let (pixels, n, rows, cols) = parse_idx_images(bytes, Path::new("i")).unwrap();
        assert_eq!((n, rows, cols), (2, 2, 3));
        assert_eq!(pixels, (1..=12).collect::<Vec<u8>>());
        assert_eq!(
            parse_idx_labels(encode_idx(&[3], &[7, 8, 9]), Path::new("l")).unwrap(),
            vec![7, 8, 9]
        );
    }

    #[test]
    fn truncation_reports_file_and_offset() {
        let mut bytes = encode_idx(&[2, 2, 2], &[0; 8]);
        bytes.truncate(bytes.len() - 3);
        let err = parse_idx_images(bytes, Path::new("t.idx")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.idx: byte 21: truncated IDX data: dimensions [2, 2, 2] need 8 bytes, found 5"
        );
    }

    #[test]
    fn wrong_rank_and_type_are_errors() {
        assert!(parse_idx_images(encode_idx(&[4], &[0; 4]), Path::new("x")).is_err());
        assert!(parse_idx_labels(encode_idx(&[1, 1], &[0]), Path::new("x")).is_err());
        let mut bytes = encode_idx(&[1], &[0]);
        bytes[2] = 0x0d;
        assert!(parse_idx(bytes, Path::new("x")).is_err());
    }

    #[test]
    fn huge_dimensions_do_not_overflow() {
        let bytes = encode_idx(
            &[u32::MAX as usize, u32::MAX as usize, u32::MAX as usize],
            &[],
        );
        assert!(parse_idx(bytes, Path::new("x")).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_idx(bytes.clone(), Path::new("x"));
            let _ = parse_idx_images(bytes.clone(), Path::new("x"));
            let _ = parse_idx_labels(bytes, Path::new("x"));
        }

        #[test]
        fn truncated_files_are_errors(n in 1usize..4, rows in 1usize..5, cols in 1usize..5, cut in 1usize..200) {
            let bytes = encode_idx(&[n, rows, cols], &vec![9; n * rows * cols]);
            let keep = bytes.len().saturating_sub(cut);
            prop_assert!(parse_idx_images(bytes[..keep].to_vec(), Path::new("x")).is_err());
        }

        #[test]
        fn corrupted_headers_never_panic(at in 0usize..16, value in any::<u8>()) {
            let mut bytes = encode_idx(&[2, 2, 2], &[1; 8]);
            bytes[at] = value;
            if let Ok(array) = parse_idx(bytes, Path::new("x")) {
                prop_assert_eq!(array.data.len(), array.dims.iter().product::<usize>());
            }
        }
    }
}
