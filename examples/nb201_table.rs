//! Write the NAS-Bench-201 table this crate derives, for all 15,625 cells in official index order:
//! `index,arch_str,canonical_id,params_c10,flops_c10,params_c100,flops_c100,params_in16,flops_in16`.
//!
//! ```text
//! cargo run --release --example nb201_table -- nb201.csv
//! ```
//! `canonical_id` is the smallest index in the cell's isomorphism class; params are in millions,
//! FLOPs in millions of multiply-adds. Nothing is read from the benchmark: every column is
//! computed from the cell's structure.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use search_space::{MacroConfig, Nb201Arch};

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: nb201_table OUT.csv");
        return ExitCode::FAILURE;
    };
    match write_table(std::path::Path::new(&out)) {
        Ok(()) => {
            println!("wrote 15625 rows to {}", out.to_string_lossy());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", out.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}

fn write_table(path: &std::path::Path) -> std::io::Result<()> {
    let configs = [
        MacroConfig::nb201_cifar10(),
        MacroConfig::nb201_cifar100(),
        MacroConfig::nb201_imagenet16_120(),
    ];
    // Write beside the target and rename, so a failed run never leaves half a table.
    let tmp = path.with_extension("csv.partial");
    let mut w = BufWriter::new(std::fs::File::create(&tmp)?);
    writeln!(
        w,
        "index,arch_str,canonical_id,params_c10,flops_c10,params_c100,flops_c100,params_in16,flops_in16"
    )?;
    for (index, arch) in Nb201Arch::all().enumerate() {
        write!(w, "{index},{arch},{}", arch.canonical_id())?;
        for config in &configs {
            let cost = arch.cost(config);
            write!(w, ",{},{}", cost.params, cost.flops)?;
        }
        writeln!(w)?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(tmp, path)
}
