//! The shipped pretrained feature extractors, chosen by name (a command-line flag) or by the id a
//! bundle recorded when it was trained.
//!
//! | name | extractor | features |
//! |---|---|---|
//! | `cnn` | [`CnnExtractor`]: the 64-d feature CNN in `weights/` (glyphs and clothing, 16 px) | 64 |
//! | `efficientnet:RES` | [`EfficientNetExtractor`] at `RES` px (ImageNet EfficientNet-Lite0; `scripts/setup-data.sh` installs it) | 1280 |
//! | `efficientnet` | the same at [`EFFICIENTNET_META_RESOLUTION`] (32 px) | 1280 |
//!
//! ```
//! use set_encoder::Pretrained;
//! assert_eq!("efficientnet:64".parse::<Pretrained>()?, Pretrained::EfficientNet { resolution: 64 });
//! assert_eq!(Pretrained::from_id("efficientnet-lite0-32px-3d33e86837f912f2")?,
//!            Pretrained::EfficientNet { resolution: 32 });
//! assert_eq!(Pretrained::from_id("cnn-v1-c8850966af62280c")?, Pretrained::Cnn);
//! assert!("resnet".parse::<Pretrained>().is_err());
//! # Ok::<(), set_encoder::SetEncoderError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use burn::tensor::backend::Backend;
use datasets::FeatureExtractor;

use crate::{CnnExtractor, EfficientNetExtractor, Result, SetEncoderError};

/// Smallest and largest resolution accepted for EfficientNet-Lite0 (its stride is 32; below 8 px
/// the last stages see a single pixel).
pub const EFFICIENTNET_RESOLUTIONS: std::ops::RangeInclusive<usize> = 8..=512;

/// The resolution `efficientnet` names for describing datasets: 32 px, chosen by meta-test
/// quality per second (docs/results/extractors.md: at equal budget 64 px gave the same
/// regret within one standard error for 2.5× the feature time; 224 px costs ≈ 50× 32 px and
/// was not affordable). [`EfficientNetExtractor`] itself defaults to ImageNet's 224 px.
pub const EFFICIENTNET_META_RESOLUTION: usize = 32;

/// A shipped pretrained extractor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pretrained {
    /// The small feature CNN shipped in the crate ([`CnnExtractor::pretrained`]).
    Cnn,
    /// EfficientNet-Lite0's ImageNet features at `resolution` px
    /// ([`EfficientNetExtractor::pretrained`]).
    EfficientNet {
        /// Side images are resized to.
        resolution: usize,
    },
}

impl Pretrained {
    /// The extractor whose [`FeatureExtractor::id`] is `id` (what a bundle records). The
    /// weights' digest in the id is not checked here: the bundle compares the whole id with the
    /// loaded extractor's.
    pub fn from_id(id: &str) -> Result<Self> {
        let unknown = |why: &str| SetEncoderError::UnknownExtractor {
            name: id.to_string(),
            why: why.to_string(),
        };
        if id.starts_with("cnn-") {
            return Ok(Self::Cnn);
        }
        if let Some(rest) = id.strip_prefix("efficientnet-lite0-") {
            let px = rest.split_once("px-").map(|(px, _)| px).ok_or_else(|| {
                unknown("an EfficientNet id reads efficientnet-lite0-RESpx-DIGEST")
            })?;
            return Self::efficientnet(px).map_err(|_| unknown("its resolution is not valid"));
        }
        Err(unknown(
            "no shipped extractor has this id (bundles record `cnn-…` or `efficientnet-lite0-…`)",
        ))
    }

    fn efficientnet(px: &str) -> Result<Self> {
        let resolution = px
            .parse::<usize>()
            .ok()
            .filter(|r| EFFICIENTNET_RESOLUTIONS.contains(r))
            .ok_or_else(|| SetEncoderError::UnknownExtractor {
                name: format!("efficientnet:{px}"),
                why: "the resolution must be a whole number of pixels in 8..=512".into(),
            })?;
        Ok(Self::EfficientNet { resolution })
    }

    /// Loads the extractor on `device` (EfficientNet's weights from the data folder: a typed
    /// error naming `scripts/setup-data.sh` when they are missing).
    pub fn load<B: Backend>(&self, device: &B::Device) -> Result<Box<dyn FeatureExtractor>> {
        Ok(match *self {
            Self::Cnn => Box::new(CnnExtractor::<B>::pretrained(device)?),
            Self::EfficientNet { resolution } => Box::new(
                EfficientNetExtractor::<B>::pretrained(device)?.with_resolution(resolution),
            ),
        })
    }
}

impl FromStr for Pretrained {
    type Err = SetEncoderError;

    /// `cnn`, `efficientnet` ([`EFFICIENTNET_META_RESOLUTION`], 32 px) or `efficientnet:RES`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "cnn" => Ok(Self::Cnn),
            "efficientnet" => Ok(Self::EfficientNet {
                resolution: EFFICIENTNET_META_RESOLUTION,
            }),
            other => match other.strip_prefix("efficientnet:") {
                Some(px) => Self::efficientnet(px),
                None => Err(SetEncoderError::UnknownExtractor {
                    name: other.to_string(),
                    why: "not a shipped extractor".into(),
                }),
            },
        }
    }
}

impl fmt::Display for Pretrained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cnn => f.write_str("cnn"),
            Self::EfficientNet { resolution } => write!(f, "efficientnet:{resolution}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip_through_display() {
        for p in [Pretrained::Cnn, Pretrained::EfficientNet { resolution: 32 }] {
            assert_eq!(p.to_string().parse::<Pretrained>().unwrap(), p);
        }
        assert_eq!(
            "efficientnet".parse::<Pretrained>().unwrap(),
            Pretrained::EfficientNet { resolution: 32 }
        );
    }

    #[test]
    fn bad_names_and_ids_are_typed_errors() {
        for bad in [
            "",
            "resnet18",
            "efficientnet:0",
            "efficientnet:4",
            "efficientnet:x",
        ] {
            let e = bad.parse::<Pretrained>().unwrap_err();
            assert!(
                matches!(e, SetEncoderError::UnknownExtractor { .. }),
                "{bad}: {e}"
            );
            assert!(e.to_string().contains("efficientnet:RES"), "{e}");
        }
        for bad in [
            "",
            "resnet-v1",
            "efficientnet-lite0-",
            "efficientnet-lite0-2px-ab",
        ] {
            assert!(Pretrained::from_id(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// Any text parses to a valid choice or a typed error, never a panic.
        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Pretrained>();
            let _ = Pretrained::from_id(&s);
        }

        /// The id an EfficientNet extractor writes maps back to its resolution.
        #[test]
        fn efficientnet_ids_map_back(r in 8usize..=512) {
            let id = format!("efficientnet-lite0-{r}px-3d33e86837f912f2");
            prop_assert_eq!(Pretrained::from_id(&id).unwrap(), Pretrained::EfficientNet { resolution: r });
        }
    }
}
