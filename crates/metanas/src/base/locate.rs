//! Where the shipped BASE bundle is found at run time ([`locate_base_bundle`]), as
//! [`crate::metad2a::locate_bundle`] finds MetaD2A's: nothing is compiled in.

use std::path::{Path, PathBuf};

use super::BaseError;

/// Environment variable naming the BASE bundle directory [`locate_base_bundle`] returns.
pub const BASE_BUNDLE_ENV: &str = "METANAS_BASE_BUNDLE";

/// The shipped BASE bundle inside the repository, relative to its root.
pub const REPO_BASE_BUNDLE: &str = "crates/metanas/bundle-base";

/// The BASE bundle to use when none is given:
///
/// 1. `$METANAS_BASE_BUNDLE`, when set (an error if it holds no `base.json`);
/// 2. `crates/metanas/bundle-base` under the current directory or the nearest folder above it
///    that has one (anywhere inside a checkout of the repository);
/// 3. `bundle-base/` next to the running executable (an installed binary with its bundle).
///
/// A directory counts when it holds `base.json`; [`BaseError::NotFound`] when none does.
pub fn locate_base_bundle() -> Result<PathBuf, BaseError> {
    if let Some(dir) = std::env::var_os(BASE_BUNDLE_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        if is_bundle(&dir) {
            return Ok(dir);
        }
        return Err(BaseError::bundle(
            &dir,
            format!(
                "${BASE_BUNDLE_ENV} names this directory, which holds no base.json; point it at \
                 a BASE bundle ({REPO_BASE_BUNDLE} in the repository) or unset it"
            ),
        ));
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    if let Some(dir) = cwd
        .ancestors()
        .map(|a| a.join(REPO_BASE_BUNDLE))
        .find(|d| is_bundle(d))
    {
        return Ok(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    if let Some(dir) = exe
        .parent()
        .map(|p| p.join("bundle-base"))
        .filter(|d| is_bundle(d))
    {
        return Ok(dir);
    }
    Err(BaseError::NotFound { cwd, exe })
}

fn is_bundle(dir: &Path) -> bool {
    dir.join("base.json").is_file()
}
