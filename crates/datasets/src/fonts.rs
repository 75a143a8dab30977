//! Font discovery and loading for the glyph source.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, GlyphId};
use sha2::Digest;

use crate::error::{Error, Result};

/// A parsed font file.
pub struct LoadedFont {
    /// The font file.
    pub path: PathBuf,
    /// The file name without extension, e.g. `DejaVuSans-Bold`.
    pub name: String,
    /// The parsed font.
    pub font: FontVec,
    /// SHA-256 of the font file's bytes, hex.
    pub digest: String,
}

impl std::fmt::Debug for LoadedFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedFont")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LoadedFont {
    /// Reads and parses a font file (the first face of a collection).
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::from_bytes(bytes, path)
    }

    /// Parses a font file's content; `path` names the font and labels errors.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<Self> {
        let digest = crate::fingerprint::hex(&sha2::Sha256::digest(&bytes));
        let font = FontVec::try_from_vec(bytes).map_err(|e| Error::BadFont {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        Ok(Self {
            path: path.to_path_buf(),
            name,
            font,
            digest,
        })
    }

    /// The glyph drawing `c`, if the font maps `c` to a glyph with a non-empty outline.
    ///
    /// Checking the outline, not just the glyph id, rejects fonts that map a character to an
    /// empty placeholder.
    pub fn drawable_glyph(&self, c: char) -> Option<GlyphId> {
        let id = self.font.glyph_id(c);
        if id.0 == 0 {
            return None;
        }
        // `outline` is `None` for glyphs with empty bounds (ab_glyph checks them).
        let outline = self.font.outline(id)?;
        (!outline.curves.is_empty()).then_some(id)
    }
}

/// Font files (`.ttf`, `.otf`, any case) under `dirs`, searched recursively, sorted by path.
///
/// Folders that do not exist are skipped, so a machine without fonts gives an empty list.
pub fn discover_fonts(dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for dir in dirs {
        if dir.is_dir() {
            walk(dir, &mut found)?;
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let io_err = |e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("ttf") || e.eq_ignore_ascii_case("otf"))
        {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_font_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(font) = LoadedFont::from_bytes(bytes, Path::new("x.ttf")) {
                for c in ['A', 'ж', '\u{0}'] {
                    let _ = font.drawable_glyph(c);
                }
            }
        }

        #[test]
        fn corrupted_real_font_never_panics(at in any::<usize>(), value in any::<u8>()) {
            let path = Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
            if let Ok(mut bytes) = std::fs::read(path) {
                // Corrupt the table directory and the first tables, where parsing starts.
                let at = at % bytes.len().min(4096);
                bytes[at] = value;
                if let Ok(font) = LoadedFont::from_bytes(bytes, path) {
                    for c in ['A', 'g', '€'] {
                        let _ = font.drawable_glyph(c);
                    }
                }
            }
        }
    }

    #[test]
    fn missing_dirs_give_no_fonts() {
        assert!(discover_fonts(&[PathBuf::from("/nonexistent/fonts")])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn garbage_is_a_bad_font() {
        let path =
            std::env::temp_dir().join(format!("datasets-test-{}-bad.ttf", std::process::id()));
        std::fs::write(&path, b"definitely not a font").unwrap();
        let err = LoadedFont::open(&path).unwrap_err();
        assert!(matches!(err, Error::BadFont { .. }), "{err}");
        std::fs::remove_file(path).unwrap();
    }
}
