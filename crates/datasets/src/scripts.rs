//! [`Script`]: named character sets, the classes of the glyph source.

/// A set of characters; each character becomes one glyph class.
///
/// Named scripts list letters (and digits where noted) that render on their own: combining marks
/// are left out, and so are letters that look like a letter of an earlier default script (Greek
/// `Α`, Cyrillic `А`, Armenian `օ`, ...), so that no two classes share a shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Script {
    /// `A`–`Z`.
    LatinUpper,
    /// `a`–`z`.
    LatinLower,
    /// `0`–`9`.
    Digits,
    /// Greek capitals and small letters not shaped like Latin ones.
    Greek,
    /// Russian-alphabet Cyrillic letters not shaped like Latin or Greek ones.
    Cyrillic,
    /// Armenian capitals and small letters not shaped like Latin ones.
    Armenian,
    /// Georgian Mkhedruli letters.
    Georgian,
    /// Hebrew letters, final forms included.
    Hebrew,
    /// Arabic letters (isolated forms; alef left out, it is a bare stroke).
    Arabic,
    /// Devanagari vowels, consonants and digits (`०` left out).
    Devanagari,
    /// Bengali vowels and consonants.
    Bengali,
    /// Gujarati vowels and consonants.
    Gujarati,
    /// Gurmukhi vowels and consonants.
    Gurmukhi,
    /// Tamil vowels and consonants.
    Tamil,
    /// Telugu vowels and consonants.
    Telugu,
    /// Kannada vowels and consonants.
    Kannada,
    /// Malayalam vowels and consonants.
    Malayalam,
    /// Sinhala vowels and consonants.
    Sinhala,
    /// Thai consonants.
    Thai,
    /// Lao consonants.
    Lao,
    /// Khmer consonants and independent vowels.
    Khmer,
    /// Myanmar consonants.
    Myanmar,
    /// Tibetan consonants.
    Tibetan,
    /// Ethiopic syllables of the first order (one per consonant).
    Ethiopic,
    /// Any characters, given as a string.
    Custom(String),
}

impl Script {
    /// The scripts used when a [`GlyphsSpec`](crate::GlyphsSpec) names none.
    pub fn defaults() -> Vec<Script> {
        use Script::*;
        vec![
            LatinUpper, LatinLower, Digits, Greek, Cyrillic, Armenian, Georgian, Hebrew, Arabic,
            Devanagari, Bengali, Gujarati, Gurmukhi, Tamil, Telugu, Kannada, Malayalam, Sinhala,
            Thai, Lao, Khmer, Myanmar, Tibetan, Ethiopic,
        ]
    }

    /// A short name (`"latin_upper"`, `"custom"`, ...).
    pub fn name(&self) -> &'static str {
        use Script::*;
        match self {
            LatinUpper => "latin_upper",
            LatinLower => "latin_lower",
            Digits => "digits",
            Greek => "greek",
            Cyrillic => "cyrillic",
            Armenian => "armenian",
            Georgian => "georgian",
            Hebrew => "hebrew",
            Arabic => "arabic",
            Devanagari => "devanagari",
            Bengali => "bengali",
            Gujarati => "gujarati",
            Gurmukhi => "gurmukhi",
            Tamil => "tamil",
            Telugu => "telugu",
            Kannada => "kannada",
            Malayalam => "malayalam",
            Sinhala => "sinhala",
            Thai => "thai",
            Lao => "lao",
            Khmer => "khmer",
            Myanmar => "myanmar",
            Tibetan => "tibetan",
            Ethiopic => "ethiopic",
            Custom(_) => "custom",
        }
    }

    /// Candidate characters in code-point order (custom: in the given order).
    ///
    /// Candidates may include unassigned code points inside a block; the glyph source keeps only
    /// characters that enough fonts actually draw.
    pub fn chars(&self) -> Vec<char> {
        use Script::*;
        let (ranges, excluded): (&[(u32, u32)], &[u32]) = match self {
            LatinUpper => (&[(0x41, 0x5A)], &[]),
            LatinLower => (&[(0x61, 0x7A)], &[]),
            Digits => (&[(0x30, 0x39)], &[]),
            Greek => (
                &[(0x391, 0x3A9), (0x3B1, 0x3C9)],
                // Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ ο
                &[
                    0x391, 0x392, 0x395, 0x396, 0x397, 0x399, 0x39A, 0x39C, 0x39D, 0x39F, 0x3A1,
                    0x3A4, 0x3A5, 0x3A7, 0x3BF,
                ],
            ),
            Cyrillic => (
                &[(0x410, 0x44F)],
                // А В Г Е К М Н О П Р С Т Ф Х а е о р с у х
                &[
                    0x410, 0x412, 0x413, 0x415, 0x41A, 0x41C, 0x41D, 0x41E, 0x41F, 0x420, 0x421,
                    0x422, 0x424, 0x425, 0x430, 0x435, 0x43E, 0x440, 0x441, 0x443, 0x445,
                ],
            ),
            Armenian => (
                &[(0x531, 0x556), (0x561, 0x586)],
                // Ս Օ զ հ ո ս ց օ
                &[0x54D, 0x555, 0x566, 0x570, 0x578, 0x57D, 0x581, 0x585],
            ),
            Georgian => (&[(0x10D0, 0x10F0)], &[]),
            Hebrew => (&[(0x5D0, 0x5EA)], &[]),
            Arabic => (&[(0x621, 0x63A), (0x641, 0x64A)], &[0x627]),
            Devanagari => (&[(0x904, 0x939), (0x967, 0x96F)], &[]),
            Bengali => (&[(0x985, 0x9B9)], &[]),
            Gujarati => (&[(0xA85, 0xAB9)], &[]),
            Gurmukhi => (&[(0xA05, 0xA39)], &[]),
            Tamil => (&[(0xB85, 0xBB9)], &[]),
            Telugu => (&[(0xC05, 0xC39)], &[]),
            Kannada => (&[(0xC85, 0xCB9)], &[]),
            Malayalam => (&[(0xD05, 0xD3A)], &[]),
            Sinhala => (&[(0xD85, 0xDC6)], &[]),
            Thai => (&[(0xE01, 0xE2E)], &[]),
            Lao => (&[(0xE81, 0xEAE)], &[]),
            Khmer => (&[(0x1780, 0x17B3)], &[]),
            Myanmar => (&[(0x1000, 0x1021)], &[]),
            Tibetan => (&[(0xF40, 0xF6C)], &[]),
            Ethiopic => {
                return (0x1200..=0x1358)
                    .step_by(8)
                    .filter_map(char::from_u32)
                    .collect()
            }
            Custom(chars) => return chars.chars().collect(),
        };
        ranges
            .iter()
            .flat_map(|&(first, last)| first..=last)
            .filter(|cp| !excluded.contains(cp))
            .filter_map(char::from_u32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_scripts_exclude_lookalikes() {
        assert_eq!(Script::LatinUpper.chars().len(), 26);
        let greek = Script::Greek.chars();
        assert!(greek.contains(&'Ω') && !greek.contains(&'Α') && !greek.contains(&'ο'));
        let cyrillic = Script::Cyrillic.chars();
        assert!(cyrillic.contains(&'Ж') && !cyrillic.contains(&'А'));
        assert_eq!(Script::Custom("xyz".into()).chars(), vec!['x', 'y', 'z']);
    }

    #[test]
    fn default_scripts_do_not_overlap() {
        let mut all: Vec<char> = Script::defaults().iter().flat_map(Script::chars).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn serialises_as_snake_case() {
        assert_eq!(
            serde_json::to_string(&Script::LatinUpper).unwrap(),
            "\"latin_upper\""
        );
        let custom: Script = serde_json::from_str(r#"{"custom":"ab"}"#).unwrap();
        assert_eq!(custom, Script::Custom("ab".into()));
    }
}
