//! The bundle on disk: where it is found at run time ([`locate_bundle`]) and what is checked
//! when its weights are read (shapes against the config, values finite).

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

use crate::error::{MetanasError, Result};

/// Environment variable naming the bundle directory [`locate_bundle`] returns.
pub const BUNDLE_ENV: &str = "METANAS_BUNDLE";

/// The bundle directory inside the repository, relative to its root.
pub const REPO_BUNDLE: &str = "crates/metanas/bundle";

/// The bundle to use when none is given, resolved at run time (nothing is compiled in):
///
/// 1. `$METANAS_BUNDLE`, when set (an error if it holds no `metad2a.json`);
/// 2. `crates/metanas/bundle` under the current directory or the nearest folder above it that
///    has one (anywhere inside a checkout of the repository);
/// 3. `bundle/` next to the running executable (an installed binary with its bundle).
///
/// A directory counts when it holds `metad2a.json`. [`MetanasError::BundleNotFound`] when none
/// does.
pub fn locate_bundle() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BUNDLE_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        if is_bundle(&dir) {
            return Ok(dir);
        }
        return Err(MetanasError::Bundle {
            message: format!(
                "${BUNDLE_ENV} names this directory, which holds no metad2a.json; point it at a \
                 bundle directory ({REPO_BUNDLE} in the repository) or unset it"
            ),
            path: dir,
        });
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    if let Some(dir) = cwd
        .ancestors()
        .map(|a| a.join(REPO_BUNDLE))
        .find(|d| is_bundle(d))
    {
        return Ok(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    if let Some(dir) = exe
        .parent()
        .map(|p| p.join("bundle"))
        .filter(|d| is_bundle(d))
    {
        return Ok(dir);
    }
    Err(MetanasError::BundleNotFound { cwd, exe })
}

fn is_bundle(dir: &Path) -> bool {
    dir.join("metad2a.json").is_file()
}

/// One parameter of a module: its path (`set_encoder.pool.output.weight`), shape, and how many
/// of its values are not finite.
struct ParamInfo {
    path: String,
    shape: Vec<usize>,
    total: usize,
    non_finite: usize,
}

/// Collects [`ParamInfo`] in visiting order; `values` also reads every value (for the
/// non-finite count), which initialises lazy parameters.
struct Scan {
    stack: Vec<String>,
    params: Vec<ParamInfo>,
    values: bool,
}

impl Scan {
    fn of<B: Backend, M: Module<B>>(module: &M, values: bool) -> Vec<ParamInfo> {
        let mut scan = Scan {
            stack: Vec::new(),
            params: Vec::new(),
            values,
        };
        module.visit(&mut scan);
        scan.params
    }
}

impl<B: Backend> ModuleVisitor<B> for Scan {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.stack.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let shape = param.lazy_shape().to_vec();
        let total = shape.iter().product();
        let non_finite = if self.values {
            param
                .val()
                .into_data()
                .iter::<f32>()
                .filter(|v| !v.is_finite())
                .count()
        } else {
            0
        };
        self.params.push(ParamInfo {
            path: self.stack.join("."),
            shape,
            total,
            non_finite,
        });
    }
}

/// Reads the weights at `path` (Burn's named MessagePack) into `module`, which was built from
/// the bundle's config, and checks them: every parameter keeps the shape the config gives it
/// ([`MetanasError::BundleMismatch`] otherwise) and every value is finite
/// ([`MetanasError::NonFiniteWeights`] otherwise).
pub(crate) fn load_checked<B: Backend, M: Module<B>>(
    module: M,
    path: &Path,
    device: &B::Device,
) -> Result<M> {
    let expected = Scan::of(&module, false);
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let loaded = module
        .load_file(path, &recorder, device)
        .map_err(|e| MetanasError::Bundle {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let found = Scan::of(&loaded, true);
    if found.len() != expected.len() {
        return Err(MetanasError::BundleMismatch {
            path: path.to_path_buf(),
            parameter: "number of parameters".into(),
            expected: vec![expected.len()],
            found: vec![found.len()],
        });
    }
    for (e, f) in expected.iter().zip(&found) {
        if e.shape != f.shape {
            return Err(MetanasError::BundleMismatch {
                path: path.to_path_buf(),
                parameter: e.path.clone(),
                expected: e.shape.clone(),
                found: f.shape.clone(),
            });
        }
    }
    if let Some(f) = found.iter().find(|f| f.non_finite > 0) {
        return Err(MetanasError::NonFiniteWeights {
            path: path.to_path_buf(),
            parameter: f.path.clone(),
            count: f.non_finite,
            total: f.total,
        });
    }
    Ok(loaded)
}
