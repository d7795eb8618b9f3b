//! Two periods of the same customers, for trying and testing "what changed since last time":
//! the second extract repeats the first line for line, except that a share of the Loyal
//! Customers (the planted movers) now buy and return like High Returners.
//!
//! Both files come from one generator pass. A mover's second-period lines are drawn from a
//! random stream of its own (seeded by the seed and the customer's index) and the main stream
//! is left where the first period left it, so every customer after a mover is generated
//! exactly as in the first period. The second period's truth file names each customer's
//! archetype in that period, and `<stem>.movers.csv` lists the movers.

use super::{Generator, Planted, SampleError, SampleOptions, SampleSummary, truth_path_for};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The archetype whose customers move.
pub const MOVERS_FROM: &str = "Loyal Customers";
/// What they become.
pub const MOVERS_TO: &str = "High Returners";

/// What [`write_two_periods`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoPeriods {
    /// The first period, as [`super::write_sample`] would have written it.
    pub first: SampleSummary,
    pub second_rows_written: u64,
    /// Customers who changed behaviour.
    pub movers: u64,
    /// `<stem>.movers.csv` beside the second extract (`customer_id,from,to`).
    pub movers_path: PathBuf,
    /// `<stem>.truth.csv` beside the second extract.
    pub second_truth_path: PathBuf,
}

/// `<dir>/<stem>.movers.csv` for a second-period extract.
pub fn movers_path_for(second_csv: &Path) -> PathBuf {
    let stem = second_csv.file_stem().map_or_else(|| "second".into(), |s| s.to_string_lossy());
    second_csv.with_file_name(format!("{stem}.movers.csv"))
}

/// Open a buffered output file.
fn create(path: &Path) -> Result<BufWriter<File>, SampleError> {
    let file = File::create(path)
        .map_err(|source| SampleError::Write { path: path.display().to_string(), source })?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> SampleError + '_ {
    move |source| SampleError::Write { path: path.display().to_string(), source }
}

/// Write the first period to `first_csv` (identical to [`super::write_sample`] with the same
/// options) and the second to `second_csv`, where `movers` (0..=1) of the Loyal Customers
/// have become High Returners.
pub fn write_two_periods(
    first_csv: &Path,
    second_csv: &Path,
    opts: &SampleOptions,
    movers: f64,
) -> Result<TwoPeriods, SampleError> {
    if opts.customers == 0 {
        return Err(SampleError::NoCustomers);
    }
    let share = if movers.is_finite() { movers.clamp(0.0, 1.0) } else { 0.0 };
    let (truth1_path, truth2_path) = (truth_path_for(first_csv), truth_path_for(second_csv));
    let movers_path = movers_path_for(second_csv);
    let (mut out1, mut out2) = (create(first_csv)?, create(second_csv)?);
    let (mut truth1, mut truth2) = (create(&truth1_path)?, create(&truth2_path)?);
    let mut moved_list = create(&movers_path)?;
    let mut generator = Generator::new(opts);
    let mut mover_draws = Xoshiro256PlusPlus::seed_from_u64(opts.seed ^ 0x5EC0_4D5E);
    let mut archetypes: BTreeMap<String, u64> = BTreeMap::new();
    let (mut second_rows, mut moved) = (0u64, 0u64);
    writeln!(out1, "{}", super::HEADER).map_err(io_err(first_csv))?;
    writeln!(out2, "{}", super::HEADER).map_err(io_err(second_csv))?;
    writeln!(truth1, "customer_id,archetype").map_err(io_err(&truth1_path))?;
    writeln!(truth2, "customer_id,archetype").map_err(io_err(&truth2_path))?;
    writeln!(moved_list, "customer_id,from,to").map_err(io_err(&movers_path))?;
    let mut lines = Vec::with_capacity(1 << 14);
    for index in 0..opts.customers {
        let kind = Planted::draw(&mut generator.rng);
        lines.clear();
        let rows_before = generator.rows_written;
        let email = generator.write_customer(&mut lines, index, kind).map_err(io_err(first_csv))?;
        out1.write_all(&lines).map_err(io_err(first_csv))?;
        writeln!(truth1, "{email},{}", kind.label()).map_err(io_err(&truth1_path))?;
        *archetypes.entry(kind.label().to_string()).or_insert(0) += 1;
        let moves = kind == Planted::Loyal && mover_draws.r#gen::<f64>() < share;
        let second_kind = if moves { Planted::HighReturner } else { kind };
        if moves {
            lines.clear();
            write_mover(&mut generator, &mut lines, &email, opts.seed, index)
                .map_err(io_err(second_csv))?;
            writeln!(moved_list, "{email},{MOVERS_FROM},{MOVERS_TO}")
                .map_err(io_err(&movers_path))?;
            moved += 1;
            second_rows += lines.iter().filter(|b| **b == b'\n').count() as u64;
        } else {
            second_rows += generator.rows_written - rows_before;
        }
        out2.write_all(&lines).map_err(io_err(second_csv))?;
        writeln!(truth2, "{email},{}", second_kind.label()).map_err(io_err(&truth2_path))?;
    }
    for (w, path) in [(&mut out1, first_csv), (&mut out2, second_csv)] {
        w.flush().map_err(io_err(path))?;
    }
    for (w, path) in [(&mut truth1, &truth1_path), (&mut truth2, &truth2_path)] {
        w.flush().map_err(io_err(path))?;
    }
    moved_list.flush().map_err(io_err(&movers_path))?;
    Ok(TwoPeriods {
        first: SampleSummary {
            rows_written: generator.rows_written,
            customers: opts.customers as u64,
            planted: generator.planted,
            archetypes,
            truth_path: truth1_path,
        },
        second_rows_written: second_rows,
        movers: moved,
        movers_path,
        second_truth_path: truth2_path,
    })
}

/// A mover's second-period lines, from its own random stream; the generator's main stream,
/// row count and dirt counts are left as the first period left them.
fn write_mover(
    generator: &mut Generator,
    out: &mut Vec<u8>,
    email: &str,
    seed: u64,
    index: usize,
) -> std::io::Result<()> {
    let own = Xoshiro256PlusPlus::seed_from_u64(crate::pipeline::cluster::derive_seed(
        seed,
        &[0x4D0F, index as u64],
    ));
    let main = std::mem::replace(&mut generator.rng, own);
    let (rows, planted) = (generator.rows_written, generator.planted.clone());
    let written = generator.write_lines(out, email, Planted::HighReturner);
    generator.rng = main;
    generator.rows_written = rows;
    generator.planted = planted;
    written
}
