//! [`BaseError`]: why BASE could not meta-train, adapt, or read a bundle.

use std::path::PathBuf;

/// Why BASE refused its input or could not read or write its files.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    /// A configuration value that cannot work.
    #[error("BASE config: {field} = {value}: {why}")]
    Config {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        why: &'static str,
    },
    /// Meta-training was given no task.
    #[error("BASE meta-training needs at least one task")]
    NoTasks,
    /// A task's images do not fit the supernet.
    #[error(
        "task {task}: {what}; build tasks with `TaskSpec::with_channels(3)` at the config's \
         resolution ({resolution} px) and at most {max_classes} classes"
    )]
    Task {
        /// Which task (its position, or `new` for the adaptation task).
        task: String,
        /// What does not fit.
        what: String,
        /// The supernet's resolution.
        resolution: usize,
        /// The supernet's classifier outputs.
        max_classes: usize,
    },
    /// The training loss stopped being finite.
    #[error(
        "BASE diverged at {stage} step {step} (loss {loss}); lower the learning rates \
         (weight_lr, arch_lr)"
    )]
    Diverged {
        /// `meta-training iteration N` or `adaptation`.
        stage: String,
        /// The inner step.
        step: usize,
        /// The loss.
        loss: f64,
    },
    /// No BASE bundle was found where [`locate_base_bundle`](super::locate_base_bundle) looks.
    #[error(
        "no BASE bundle found: set $METANAS_BASE_BUNDLE to a bundle directory, run inside a \
         checkout of the repository (crates/metanas/bundle-base, searched from {} upwards), or \
         put bundle-base/ next to {}",
        cwd.display(),
        exe.display()
    )]
    NotFound {
        /// The directory searched from.
        cwd: PathBuf,
        /// The running executable.
        exe: PathBuf,
    },
    /// A bundle or checkpoint could not be written or read.
    #[error("BASE bundle {}: {message}", path.display())]
    Bundle {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl BaseError {
    pub(crate) fn bundle(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        BaseError::Bundle {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}
