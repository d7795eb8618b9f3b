//! The dirty cases of FEATURES.md's cleaning table, planted at small known rates.
//!
//! Each planted case is built so that it breaks exactly the rule it is counted under (the first
//! matching rule in table order), which makes the counts in [`super::SampleSummary::planted`]
//! exact: rejected and malformed rows are extra copies of a real line with one field spoiled (so
//! the customer's clean lines stay as generated); duplicates are exact copies of a line with no
//! dirt; the `fixed_*`, `flag_mismatch` and `missing_*` cases edit one field of a real (clean) line
//! and only where the edit cannot trigger another rule.

use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The quality-report names the generator can plant: validation's counts in their order
/// (FEATURES.md's cleaning table, then malformed rows), all but `after_as_of`, which depends on
/// the as_of a run chooses rather than on the file.
pub const QUALITY_NAMES: [&str; 11] = plantable_names();

const fn plantable_names() -> [&'static str; 11] {
    let mut names = [""; 11];
    let mut i = 0;
    while i < names.len() {
        names[i] = crate::pipeline::validate::QUALITY_COUNTS[i].0;
        i += 1;
    }
    names
}

/// One dirty case; the discriminant indexes [`QUALITY_NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dirt {
    BadOrderDate,
    BadSalesQty,
    MissingKey,
    Duplicate,
    BadReturnQty,
    ReturnOverSold,
    FlagMismatch,
    InvalidReturnDate,
    MissingReturnDate,
    MissingClass,
    Malformed,
}

/// How a rendered row departs from the line it was generated from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    None,
    OrderDateText(&'static str),
    SalesQtyText(&'static str),
    EmptyEmail,
    EmptyOrderNo,
    /// A RETURN_QTY that is no valid quantity, on a line that was not returned.
    ReturnQtyText(&'static str),
    /// RETURN_QTY one unit above SALES_QTY, on a line returned in full.
    ReturnQtyOverSold,
    /// The flag says the opposite of RETURN_QTY (written as `0.0000` on lines not returned).
    FlipFlag,
    ReturnDateText(&'static str),
    ReturnBeforeOrder,
    NoReturnDate,
    NoClass,
    /// A row with one field too few (`drop_field`) or one too many.
    Malformed {
        drop_field: bool,
    },
}

/// (case, probability per generated line). A case whose precondition the line does not meet is
/// not planted, so cases that need a returned line (~20% of lines) get higher draw rates. The
/// effective total stays below 1% of rows.
const RATES: [(Dirt, f64); 11] = [
    (Dirt::BadOrderDate, 0.0008),
    (Dirt::BadSalesQty, 0.0008),
    (Dirt::MissingKey, 0.0005),
    (Dirt::Duplicate, 0.0015),
    (Dirt::BadReturnQty, 0.0006),
    (Dirt::ReturnOverSold, 0.002),
    (Dirt::FlagMismatch, 0.0008),
    (Dirt::InvalidReturnDate, 0.002),
    (Dirt::MissingReturnDate, 0.002),
    (Dirt::MissingClass, 0.0008),
    (Dirt::Malformed, 0.0003),
];

fn pick<T: Copy>(rng: &mut Xoshiro256PlusPlus, options: &[T]) -> T {
    options[rng.gen_range(0..options.len())]
}

impl Dirt {
    /// The quality-report name this case is counted under.
    pub fn quality_name(self) -> &'static str {
        QUALITY_NAMES[self as usize]
    }

    /// Draw the case (if any) planted on a line with `units` sold and `returned` units back.
    pub fn draw(rng: &mut Xoshiro256PlusPlus, units: u32, returned: u32) -> Option<Dirt> {
        let mut u: f64 = rng.r#gen();
        let (dirt, _) = RATES.iter().find(|(_, rate)| {
            let hit = u < *rate;
            u -= rate;
            hit
        })?;
        let fits = match dirt {
            Dirt::BadReturnQty => returned == 0,
            Dirt::ReturnOverSold => returned > 0 && returned == units,
            Dirt::InvalidReturnDate | Dirt::MissingReturnDate => returned > 0,
            _ => true,
        };
        fits.then_some(*dirt)
    }

    /// The edit of the real line itself (`Edit::None` for cases planted as an extra row).
    pub fn edit_of_line(self, rng: &mut Xoshiro256PlusPlus) -> Edit {
        match self {
            Dirt::BadReturnQty => Edit::ReturnQtyText(pick(rng, &["-1.0000", "abc", "n/a"])),
            Dirt::ReturnOverSold => Edit::ReturnQtyOverSold,
            Dirt::FlagMismatch => Edit::FlipFlag,
            Dirt::InvalidReturnDate => {
                if rng.gen_bool(0.5) {
                    Edit::ReturnBeforeOrder
                } else {
                    Edit::ReturnDateText(pick(
                        rng,
                        &["2024-02-30 10:00:00.000", "13/45/2023", "soon"],
                    ))
                }
            }
            Dirt::MissingReturnDate => Edit::NoReturnDate,
            Dirt::MissingClass => Edit::NoClass,
            _ => Edit::None,
        }
    }

    /// The extra row written after the real line, if this case is planted as one
    /// (`Edit::None` = an exact copy).
    pub fn extra_row(self, rng: &mut Xoshiro256PlusPlus) -> Option<Edit> {
        match self {
            Dirt::BadOrderDate => Some(Edit::OrderDateText(pick(
                rng,
                &["", "2023-02-29 10:15:00.000", "N/A", "31/12/2023"],
            ))),
            Dirt::BadSalesQty => Some(Edit::SalesQtyText(pick(
                rng,
                &["", "0.0000", "-1.0000", "abc", "\"1,000\"", "NaN"],
            ))),
            Dirt::MissingKey => Some(pick(rng, &[Edit::EmptyEmail, Edit::EmptyOrderNo])),
            Dirt::Duplicate => Some(Edit::None),
            Dirt::Malformed => Some(Edit::Malformed { drop_field: rng.gen_bool(0.5) }),
            _ => None,
        }
    }
}

/// Turn a rendered row (ending in `\n`) into one with a field too few or too many. The last
/// field (SIZE_) never holds a comma or quote, so quotes stay balanced.
pub fn make_malformed(row: &mut Vec<u8>, drop_field: bool) {
    row.pop();
    if drop_field {
        if let Some(last_comma) = row.iter().rposition(|&b| b == b',') {
            row.truncate(last_comma);
        }
    } else {
        row.extend_from_slice(b",EXTRA");
    }
    row.push(b'\n');
}
