//! The TANS bundle on disk: `tans.json` (format, version, extractor, configs, what it was
//! trained on and how well it did), `model.mpk` (the [`TansNet`] weights, Burn's named
//! MessagePack, full precision) and `zoo-embeddings.json` (every zoo network's embedding, by
//! the SHA-256 of its blob). Written atomically, checked when read.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use super::error::{Result, TansError};
use super::net::TansNet;
use crate::error::MetanasError;

/// Bundle format name written to `tans.json`.
pub const BUNDLE_FORMAT: &str = "metanas-tans";
/// Current bundle version; [`load`](super::Tans::load) refuses others.
pub const BUNDLE_VERSION: u32 = 1;
/// Environment variable naming the TANS bundle directory.
pub const TANS_BUNDLE_ENV: &str = "METANAS_TANS_BUNDLE";
/// The TANS bundle inside the repository, relative to its root.
pub const REPO_TANS_BUNDLE: &str = "crates/metanas/bundle-tans";
/// The zoo inside the repository, relative to its root.
pub const REPO_ZOO: &str = "crates/model-zoo/data/zoo";

const META_FILE: &str = "tans.json";
const MODEL_FILE: &str = "model.mpk";
const EMBEDDINGS_FILE: &str = "zoo-embeddings.json";

/// One zoo network's embedding, keyed by its blob.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZooEmbedding {
    /// SHA-256 of the network's blob (its weights).
    pub sha256: String,
    /// Its embedding (unit norm).
    pub embedding: Vec<f32>,
}

#[derive(Serialize, Deserialize)]
struct EmbeddingsFile {
    format: String,
    dim: usize,
    entries: Vec<ZooEmbedding>,
}

fn bundle_err(path: &Path, e: impl std::fmt::Display) -> TansError {
    TansError::Bundle {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Finds a TANS bundle: `$METANAS_TANS_BUNDLE`, then `crates/metanas/bundle-tans` under the
/// current directory or a folder above it, then `bundle-tans/` next to the executable.
pub fn locate_tans_bundle() -> Result<PathBuf> {
    let is_bundle = |d: &Path| d.join(META_FILE).is_file();
    if let Some(dir) = std::env::var_os(TANS_BUNDLE_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return if is_bundle(&dir) {
            Ok(dir)
        } else {
            Err(bundle_err(
                &dir,
                format!("${TANS_BUNDLE_ENV} names this directory, which holds no {META_FILE}"),
            ))
        };
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    if let Some(dir) = cwd
        .ancestors()
        .map(|a| a.join(REPO_TANS_BUNDLE))
        .find(|d| is_bundle(d))
    {
        return Ok(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    if let Some(dir) = exe
        .parent()
        .map(|p| p.join("bundle-tans"))
        .filter(|d| is_bundle(d))
    {
        return Ok(dir);
    }
    Err(bundle_err(
        &cwd,
        format!(
            "no TANS bundle: ${TANS_BUNDLE_ENV} is not set, no {REPO_TANS_BUNDLE} here or above, \
             no bundle-tans/ next to {}; give the bundle's directory",
            exe.display()
        ),
    ))
}

/// Finds the shipped zoo: `crates/model-zoo/data/zoo` under the current directory or a folder
/// above it.
pub fn locate_zoo() -> Result<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_default();
    cwd.ancestors()
        .map(|a| a.join(REPO_ZOO))
        .find(|d| d.join(model_zoo::zoo::INDEX_FILE).is_file())
        .ok_or_else(|| {
            TansError::Data(format!(
                "no zoo found: no {REPO_ZOO} in {} or a folder above it; give the zoo's \
                 directory (--zoo DIR)",
                cwd.display()
            ))
        })
}

/// Writes the three files into `dir/.writing/`, then renames them into place.
pub(crate) fn save<B: Backend, M: Serialize>(
    dir: &Path,
    net: &TansNet<B>,
    meta: &M,
    embeddings: &[ZooEmbedding],
    dim: usize,
) -> Result<()> {
    let tmp = dir.join(".writing");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| bundle_err(&tmp, e))?;
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    net.clone()
        .save_file(tmp.join("model"), &recorder)
        .map_err(|e| bundle_err(&tmp, e))?;
    let json = serde_json::to_string_pretty(meta).map_err(|e| bundle_err(dir, e))?;
    std::fs::write(tmp.join(META_FILE), json + "\n").map_err(|e| bundle_err(&tmp, e))?;
    let file = EmbeddingsFile {
        format: format!("{BUNDLE_FORMAT}-zoo-embeddings"),
        dim,
        entries: embeddings.to_vec(),
    };
    let json = serde_json::to_string(&file).map_err(|e| bundle_err(dir, e))?;
    std::fs::write(tmp.join(EMBEDDINGS_FILE), json + "\n").map_err(|e| bundle_err(&tmp, e))?;
    for name in [MODEL_FILE, EMBEDDINGS_FILE, META_FILE] {
        std::fs::rename(tmp.join(name), dir.join(name))
            .map_err(|e| bundle_err(&dir.join(name), e))?;
    }
    std::fs::remove_dir(&tmp).map_err(|e| bundle_err(&tmp, e))
}

/// Reads `tans.json` as `M`, checking format and version first.
pub(crate) fn read_meta<M: serde::de::DeserializeOwned>(dir: &Path) -> Result<M> {
    let path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| bundle_err(&path, e))?;
    let head: serde_json::Value = serde_json::from_str(&text).map_err(|e| bundle_err(&path, e))?;
    let (format, version) = (
        head.get("format").and_then(|v| v.as_str()).unwrap_or(""),
        head.get("version").and_then(|v| v.as_u64()).unwrap_or(0),
    );
    if format != BUNDLE_FORMAT || version != u64::from(BUNDLE_VERSION) {
        return Err(bundle_err(
            &path,
            format!(
                "format `{format}` v{version}, this build reads {BUNDLE_FORMAT} v{BUNDLE_VERSION}"
            ),
        ));
    }
    serde_json::from_value(head).map_err(|e| bundle_err(&path, e))
}

/// Reads `zoo-embeddings.json`: every embedding of width `dim`, finite.
pub(crate) fn read_embeddings(dir: &Path, dim: usize) -> Result<Vec<ZooEmbedding>> {
    let path = dir.join(EMBEDDINGS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| bundle_err(&path, e))?;
    let file: EmbeddingsFile = serde_json::from_str(&text).map_err(|e| bundle_err(&path, e))?;
    if file.dim != dim {
        return Err(bundle_err(
            &path,
            format!("embeddings of width {}, the model's are {dim}", file.dim),
        ));
    }
    for e in &file.entries {
        if e.embedding.len() != dim {
            return Err(bundle_err(
                &path,
                format!(
                    "the embedding of blob {} has {} values, not {dim}",
                    e.sha256,
                    e.embedding.len()
                ),
            ));
        }
        let bad = e.embedding.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            return Err(TansError::NonFinite {
                path,
                what: format!("the embedding of blob {}", e.sha256),
                count: bad,
            });
        }
    }
    Ok(file.entries)
}

/// Reads `model.mpk` into `net` (built from the bundle's config) and checks every parameter's
/// shape against the config and every value for finiteness, with MetaD2A's bundle check
/// ([`crate::metad2a::bundle::load_checked`]), its errors told as TANS's.
pub(crate) fn load_net<B: Backend>(
    net: TansNet<B>,
    dir: &Path,
    device: &B::Device,
) -> Result<TansNet<B>> {
    let path = dir.join(MODEL_FILE);
    crate::metad2a::bundle::load_checked(net, &path, device).map_err(|e| match e {
        MetanasError::BundleMismatch {
            path,
            parameter,
            expected,
            found,
        } => TansError::BundleMismatch {
            path,
            parameter,
            expected,
            found,
        },
        MetanasError::NonFiniteWeights {
            path,
            parameter,
            count,
            ..
        } => TansError::NonFinite {
            path,
            what: parameter,
            count,
        },
        other => bundle_err(&path, other),
    })
}
