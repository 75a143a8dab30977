//! Budgeted search: spend `k` training runs on the new dataset and let the measurements correct
//! the prediction.
//!
//! A user can usually afford to train a few cells on their own data, and those measurements are
//! the most dataset-specific signal there is. [`run_budget`] chooses, measures and updates until
//! the budget is spent, and answers with a *measured* cell and its accuracy, with the whole
//! trace. The method of this module, [`BudgetMethod::PredictorGp`], is a Gaussian process over
//! the candidate pool whose mean is MetaD2A's predicted accuracy and whose kernel is on the
//! predictor's own (dataset, cell) embedding ([`gp`]), with the next cell chosen by expected
//! improvement (in the spirit of TNAS, ICLR 2023, which runs BO with a deep kernel over a
//! meta-learned embedding). The baselines at the same budget are [`BudgetMethod::Random`],
//! regularised evolution ([`BudgetMethod::Rea`]) and fixed rankings ([`BudgetMethod::Ranked`]:
//! the predictor's top-k trained without updating, the global-best cells of the meta-training
//! tasks).
//!
//! [`MetaD2A::search_with_budget`](crate::MetaD2A::search_with_budget) runs it on a user's task
//! (MetaD2A's candidates, measured by training with the protocol); the harness
//! ([`evaluate::budget_curves`](crate::evaluate::budget_curves)) runs every method on the
//! meta-test sets, measuring by the database's runs.

mod error;
pub mod gp;
mod search;

pub use error::{BudgetError, MeasureError};
pub use gp::{GpHyper, GpPool, Posterior};
pub use search::{run_budget, BudgetMethod, BudgetStep, BudgetTrace};
