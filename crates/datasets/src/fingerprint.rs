//! Content fingerprints: what a task's images are drawn from, so that a task rebuilt elsewhere is
//! either the same task or a typed error, never a silently different one.
//!
//! A class's fingerprint is a SHA-256 (shortened to 16 hex digits, 64 bits) over whatever fixes
//! its images: the font files and glyph ids of a glyph class, the file of a photo class, or
//! the decoded pixels of every image of an in-memory class. See
//! [`Source::class_fingerprint`](crate::Source::class_fingerprint) and
//! [`TaskSpec::pin`](crate::TaskSpec::pin).

use sha2::{Digest, Sha256};

/// Hex digits kept of a SHA-256 in a fingerprint.
pub const FINGERPRINT_HEX: usize = 16;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An incremental fingerprint: SHA-256, shortened to [`FINGERPRINT_HEX`] hex digits.
#[derive(Clone, Debug, Default)]
pub struct Fingerprinter(Sha256);

impl Fingerprinter {
    /// An empty fingerprint.
    pub fn new() -> Self {
        Self(Sha256::new())
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Feeds an image: its shape, then its pixel values' bits.
    pub fn update_image(&mut self, image: &crate::SourceImage) {
        for n in [image.channels, image.height, image.width] {
            self.update(&(n as u64).to_le_bytes());
        }
        for v in &image.pixels {
            self.update(&v.to_bits().to_le_bytes());
        }
    }

    /// The fingerprint.
    pub fn finish(self) -> String {
        let mut s = hex(&self.0.finalize());
        s.truncate(FINGERPRINT_HEX);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_and_sensitivity() {
        // SHA-256("abc") = ba7816bf8f01cfea...
        let mut f = Fingerprinter::new();
        f.update(b"abc");
        assert_eq!(f.finish(), "ba7816bf8f01cfea");
        let a = crate::SourceImage::gray(1, 1, vec![0.5]);
        let b = crate::SourceImage::gray(1, 1, vec![0.5000001]);
        let fp = |img| {
            let mut f = Fingerprinter::new();
            f.update_image(img);
            f.finish()
        };
        assert_ne!(fp(&a), fp(&b));
        assert_eq!(fp(&a), fp(&a.clone()));
    }
}
