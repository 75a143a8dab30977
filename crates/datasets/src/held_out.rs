//! The one list of what meta-training never sees: every meta-test source of the project's
//! database, and every glyph script the feature CNN does not train on, come from here.
//!
//! - Glyph scripts [`META_TEST_SCRIPTS`]: `digits` (its shapes are MNIST's classes, a meta-test
//!   set), `georgian` and `ethiopic` (meta-test sets), and `khmer`, `myanmar`, `sinhala` (kept
//!   unseen for future meta-test sets). Meta-training glyph tasks and the feature CNN use
//!   [`meta_train_scripts`].
//! - MNIST and scikit-learn's digits: meta-test only.
//! - Photos: [`crate::photos::PhotosSpec::meta_test`] pictures come from a Debian package that
//!   no meta-training picture comes from.
//! - Procedural textures: [`crate::procedural::ProceduralSpec::meta_test`] recipes have ids
//!   that no meta-training recipe has.
//!
//! The scikit-image sample photos are reserved for the project's evaluation and are never a
//! meta-training or meta-test source.

use crate::scripts::Script;

/// Glyph scripts that meta-training (database tasks and the feature CNN) never uses.
pub const META_TEST_SCRIPTS: [Script; 6] = [
    Script::Digits,
    Script::Georgian,
    Script::Ethiopic,
    Script::Khmer,
    Script::Myanmar,
    Script::Sinhala,
];

/// The default scripts minus [`META_TEST_SCRIPTS`].
pub fn meta_train_scripts() -> Vec<Script> {
    Script::defaults()
        .into_iter()
        .filter(|s| !META_TEST_SCRIPTS.contains(s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_train_and_meta_test_scripts_are_disjoint() {
        let train = meta_train_scripts();
        assert!(train.len() >= 15, "{train:?}");
        for s in META_TEST_SCRIPTS {
            assert!(!train.contains(&s), "{s:?}");
            assert!(Script::defaults().contains(&s), "{s:?} is a default script");
        }
    }
}
