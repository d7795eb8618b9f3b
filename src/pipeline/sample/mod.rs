//! Sample generator: a realistic order-line extract with planted customer archetypes.
//!
//! The app's demo data and the source of test fixtures and benchmarks. [`write_sample`] streams a
//! CSV in the real 22-column format of FEATURES.md through a `BufWriter` (one customer's lines at
//! a time, never the file), and beside it `<stem>.truth.csv` (`customer_id,archetype`) naming the
//! archetype planted in every customer.
//!
//! Planted archetypes (CLUSTERING.md names) and the features they move, against a two-year window
//! ending [`END_LABEL`]:
//!
//! | archetype | orders | tenure (first order) | last order | returns | basket |
//! | --- | --- | --- | --- | --- | --- |
//! | High Returners | 6-12 | 200-600 days | 0-60 days | 40-70% of lines, partial, within ~4 days | 2-4 lines, some 2-3 units |
//! | Loyal Customers | 12-20 | 400-700 days | 0-20 days | 2-8% | 1-3 lines of 1 unit |
//! | Veteran Shoppers | 3-6 | 550-725 days | 150-400 days | 10-25% | 1-3 lines |
//! | New Customers | 2-4 | 15-80 days | 0-10 days | 5-20% | 1-3 lines |
//! | Frequent Buyers | 20-30 | 250-550 days | 0-20 days | 10-20% | 4-6 lines of 2-4 units |
//! | Outliers | bulk (hundreds of lines), full returns of 15-60 units, or resale volumes |
//!
//! 3% of customers place a single order (not eligible for segmentation; truth label
//! [`NOT_SEGMENTED`]). Unless [`SampleOptions::clean`], the file also uses every timestamp form of
//! FEATURES.md, case/whitespace variants of some e-mail addresses, and the dirty cases of the
//! cleaning table at small known rates, each counted exactly under its quality-report name in
//! [`SampleSummary::planted`]. A clean sample uses one timestamp form and one spelling per e-mail.

pub mod calendar;
mod catalog;
mod dirt;
mod periods;

use crate::pipeline::private_files;
use calendar::{DAY, TimeForm, push_padded, push_timestamp, push_u64};
use catalog::{Catalog, SKUS_PER_CLASS, csv_field};
pub use dirt::QUALITY_NAMES;
use dirt::{Dirt, Edit};
pub use periods::{MOVERS_FROM, MOVERS_TO, TwoPeriods, movers_path_for, write_two_periods};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The header of every generated extract (the real 22 columns, in their real order).
pub const HEADER: &str = "SALES_ORDER_NO,CUSTOMER_EMAILID,ORDER_DATE,SKU,SALES_QTY,RETURN_QTY,\
UNITS_RETURNED_FLAG,RETURN_DATE,RETURN_NO,RETURN_COMMENT,ORDERLINK,Q_CLS_ID,Q_SKU_DESC,Q_GMM_ID,\
Q_SKU_ID,CLASS_,DIVISION_,BRAND_,Q_CLR_DNUM,Q_CLR_DESC,VENDOR_STYLE,SIZE_";

/// The last instant of the generated window; every order and return lies at or before it.
pub const END_LABEL: &str = "2024-12-31 23:59:59";

/// Truth label of the single-order customers (not eligible, so never segmented), spelled as the
/// report and the app spell them.
pub use crate::pipeline::model::NOT_SEGMENTED;

/// The archetype names planted, as CLUSTERING.md spells them.
pub const PLANTED_ARCHETYPES: [&str; 6] = [
    "High Returners",
    "Loyal Customers",
    "Veteran Shoppers",
    "New Customers",
    "Frequent Buyers",
    "Outliers",
];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleOptions {
    /// Number of customers (about 40 order lines each on average).
    pub customers: usize,
    /// Seed: the same seed and options give the same bytes.
    pub seed: u64,
    /// No dirty rows, one timestamp form, one spelling per e-mail address.
    pub clean: bool,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self { customers: 20_000, seed: 42, clean: false }
    }
}

/// What [`write_sample`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSummary {
    /// Data lines written (header excluded; malformed, rejected and duplicate rows included).
    pub rows_written: u64,
    /// Customers generated (single-order ones included).
    pub customers: u64,
    /// Dirty cases planted, by quality-report name; every name of [`QUALITY_NAMES`] is present.
    pub planted: BTreeMap<String, u64>,
    /// Customers per truth label.
    pub archetypes: BTreeMap<String, u64>,
    /// `<stem>.truth.csv` beside the extract.
    pub truth_path: PathBuf,
}

/// Everything that can go wrong generating a sample.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("a sample needs at least one customer")]
    NoCustomers,
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The archetype planted in a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Planted {
    HighReturner,
    Loyal,
    Veteran,
    New,
    Frequent,
    Outlier,
    SingleOrder,
}

impl Planted {
    /// Customer shares, in the order of [`Planted::ALL`].
    const SHARES: [f64; 7] = [0.18, 0.20, 0.22, 0.18, 0.16, 0.03, 0.03];
    const ALL: [Planted; 7] = [
        Planted::HighReturner,
        Planted::Loyal,
        Planted::Veteran,
        Planted::New,
        Planted::Frequent,
        Planted::Outlier,
        Planted::SingleOrder,
    ];

    fn label(self) -> &'static str {
        match self {
            Planted::SingleOrder => NOT_SEGMENTED,
            other => PLANTED_ARCHETYPES[other as usize],
        }
    }

    fn draw(rng: &mut Xoshiro256PlusPlus) -> Self {
        let mut u: f64 = rng.r#gen();
        for (kind, share) in Self::ALL.iter().zip(Self::SHARES) {
            if u < share {
                return *kind;
            }
            u -= share;
        }
        Planted::Veteran
    }
}

/// How one customer buys and returns (drawn per customer from its archetype's ranges).
struct Behaviour {
    orders: usize,
    first_days_ago: f64,
    last_days_ago: f64,
    lines_per_order: (usize, usize),
    /// Share of lines with more than one unit, and that unit range.
    multi_unit_share: f64,
    multi_units: (u32, u32),
    /// Base line return probability (adjusted by the class's rate unless `exact_returns`).
    return_prob: f64,
    exact_returns: bool,
    /// Share of returned multi-unit lines that come back only in part.
    partial_share: f64,
    /// Typical days from order to return.
    return_delay_days: f64,
    favourite_classes: Vec<usize>,
}

fn uniform(rng: &mut Xoshiro256PlusPlus, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.r#gen::<f64>()
}

/// A standard normal draw (Box-Muller).
fn standard_normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>();
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `count` distinct classes, drawn from `pool`.
fn pick_classes(rng: &mut Xoshiro256PlusPlus, pool: &[usize], count: usize) -> Vec<usize> {
    let mut pool = pool.to_vec();
    let count = count.min(pool.len());
    for i in 0..count {
        let j = rng.gen_range(i..pool.len());
        pool.swap(i, j);
    }
    pool.truncate(count);
    pool
}

/// The ranges an archetype's customers are drawn from (days are days before the end).
struct Ranges {
    orders: (usize, usize),
    first_order_days_ago: (f64, f64),
    last_order_days_ago: (f64, f64),
    lines_per_order: (usize, usize),
    return_prob: (f64, f64),
    return_delay_days: (f64, f64),
    classes: (usize, usize),
    multi_unit_share: f64,
    multi_units: (u32, u32),
    partial_share: f64,
}

const HIGH_RETURNER: Ranges = Ranges {
    orders: (6, 12),
    first_order_days_ago: (200.0, 600.0),
    last_order_days_ago: (0.0, 60.0),
    lines_per_order: (2, 4),
    return_prob: (0.45, 0.65),
    return_delay_days: (2.0, 6.0),
    classes: (4, 6),
    multi_unit_share: 0.4,
    multi_units: (2, 3),
    partial_share: 0.6,
};
const LOYAL: Ranges = Ranges {
    orders: (12, 20),
    first_order_days_ago: (400.0, 700.0),
    last_order_days_ago: (0.0, 20.0),
    lines_per_order: (1, 3),
    return_prob: (0.02, 0.08),
    return_delay_days: (12.0, 25.0),
    classes: (2, 3),
    multi_unit_share: 0.05,
    ..TYPICAL
};
const VETERAN: Ranges = Ranges {
    orders: (3, 6),
    first_order_days_ago: (550.0, 725.0),
    last_order_days_ago: (150.0, 400.0),
    classes: (3, 6),
    ..TYPICAL
};
const NEW: Ranges = Ranges {
    orders: (2, 4),
    first_order_days_ago: (15.0, 80.0),
    last_order_days_ago: (0.0, 10.0),
    return_prob: (0.05, 0.20),
    return_delay_days: (8.0, 20.0),
    classes: (2, 4),
    ..TYPICAL
};
const FREQUENT: Ranges = Ranges {
    orders: (20, 30),
    first_order_days_ago: (250.0, 550.0),
    last_order_days_ago: (0.0, 20.0),
    lines_per_order: (4, 6),
    return_prob: (0.10, 0.20),
    return_delay_days: (8.0, 18.0),
    classes: (8, 12),
    multi_unit_share: 1.0,
    multi_units: (2, 4),
    partial_share: 0.3,
};
const SINGLE_ORDER: Ranges = Ranges {
    orders: (1, 1),
    first_order_days_ago: (5.0, 720.0),
    last_order_days_ago: (0.0, 0.0),
    classes: (1, 3),
    return_prob: (0.05, 0.25),
    ..TYPICAL
};
/// Defaults the archetypes above start from.
const TYPICAL: Ranges = Ranges {
    orders: (3, 6),
    first_order_days_ago: (30.0, 725.0),
    last_order_days_ago: (0.0, 400.0),
    lines_per_order: (1, 3),
    return_prob: (0.10, 0.25),
    return_delay_days: (10.0, 25.0),
    classes: (3, 6),
    multi_unit_share: 0.1,
    multi_units: (2, 2),
    partial_share: 0.2,
};

impl Behaviour {
    fn draw(kind: Planted, catalog: &Catalog, rng: &mut Xoshiro256PlusPlus) -> Self {
        let all: Vec<usize> = (0..catalog.classes.len()).collect();
        let ranges = match kind {
            Planted::HighReturner => &HIGH_RETURNER,
            Planted::Loyal => &LOYAL,
            Planted::Veteran => &VETERAN,
            Planted::New => &NEW,
            Planted::Frequent => &FREQUENT,
            Planted::SingleOrder => &SINGLE_ORDER,
            Planted::Outlier => return Self::outlier(rng, &all),
        };
        // High Returners favour the classes that come back most.
        let pool = if kind == Planted::HighReturner { &catalog.by_return_rate[..12] } else { &all };
        Self::from_ranges(ranges, pool, rng)
    }

    fn from_ranges(r: &Ranges, class_pool: &[usize], rng: &mut Xoshiro256PlusPlus) -> Self {
        let orders = rng.gen_range(r.orders.0..=r.orders.1);
        let first_days_ago = uniform(rng, r.first_order_days_ago.0, r.first_order_days_ago.1);
        let latest = r.last_order_days_ago.1.min(first_days_ago * 0.8);
        let last_days_ago = uniform(rng, r.last_order_days_ago.0.min(latest), latest);
        let class_count = rng.gen_range(r.classes.0..=r.classes.1);
        Behaviour {
            orders,
            first_days_ago,
            last_days_ago,
            lines_per_order: r.lines_per_order,
            multi_unit_share: r.multi_unit_share,
            multi_units: r.multi_units,
            return_prob: uniform(rng, r.return_prob.0, r.return_prob.1),
            exact_returns: false,
            partial_share: r.partial_share,
            return_delay_days: uniform(rng, r.return_delay_days.0, r.return_delay_days.1),
            favourite_classes: pick_classes(rng, class_pool, class_count),
        }
    }

    /// One of three anomalies, each with its own extreme values, spread wide so outliers do not
    /// form a dense group of their own.
    fn outlier(rng: &mut Xoshiro256PlusPlus, all: &[usize]) -> Self {
        let first_days_ago = uniform(rng, 30.0, 725.0);
        let last_days_ago = uniform(rng, 0.0, first_days_ago * 0.5);
        let class_count = rng.gen_range(3..=20);
        let favourite_classes = pick_classes(rng, all, class_count);
        let (orders, lines, units, return_prob, delay) = match rng.gen_range(0..3) {
            // Bulk buyer: hundreds of lines, erratic returns.
            0 => (rng.gen_range(30..=80), (4, 10), (1, 6), uniform(rng, 0.0, 0.8), (1.0, 40.0)),
            // Returns everything it buys, in huge quantities, at once or months later.
            1 => {
                let delay = if rng.gen_bool(0.5) { (0.5, 2.0) } else { (60.0, 120.0) };
                (rng.gen_range(3..=10), (2, 6), (15, 60), 1.0, delay)
            }
            // Reseller: large volumes of multiple units, never returns.
            _ => (rng.gen_range(40..=120), (2, 5), (5, 20), 0.0, (10.0, 20.0)),
        };
        Behaviour {
            orders,
            first_days_ago,
            last_days_ago,
            lines_per_order: lines,
            multi_unit_share: 1.0,
            multi_units: units,
            return_prob,
            exact_returns: true,
            partial_share: 0.0,
            return_delay_days: uniform(rng, delay.0, delay.1),
            favourite_classes,
        }
    }

    /// Order times, ascending: the first and last at the drawn ages, the rest uniform between.
    fn order_times(&self, end: i64, rng: &mut Xoshiro256PlusPlus) -> Vec<i64> {
        let to_time = |days_ago: f64| end - (days_ago * DAY as f64) as i64;
        let mut times = vec![to_time(self.first_days_ago)];
        if self.orders >= 2 {
            times.push(to_time(self.last_days_ago));
            for _ in 2..self.orders {
                times.push(to_time(uniform(rng, self.last_days_ago, self.first_days_ago)));
            }
        }
        times.sort_unstable();
        times
    }

    fn units(&self, rng: &mut Xoshiro256PlusPlus) -> u32 {
        if rng.r#gen::<f64>() < self.multi_unit_share {
            rng.gen_range(self.multi_units.0..=self.multi_units.1)
        } else {
            1
        }
    }

    fn line_return_prob(&self, catalog: &Catalog, class: usize) -> f64 {
        if self.exact_returns {
            return self.return_prob;
        }
        let class_effect = 0.5 * (catalog.classes[class].return_rate - catalog.mean_return_rate);
        (self.return_prob + class_effect).clamp(0.0, 0.98)
    }
}

const RETURN_COMMENTS: [&str; 6] = [
    "Too small",
    "Too big",
    "Not as pictured",
    "Quality, not as expected",
    "Changed my mind",
    "Arrived damaged",
];

const FIRST_NAMES: [&str; 16] = [
    "emma", "olivia", "ava", "mia", "sophia", "isabella", "amelia", "harper", "liam", "noah",
    "lucas", "grace", "chloe", "zoe", "nora", "hazel",
];
const LAST_NAMES: [&str; 12] = [
    "smith", "johnson", "garcia", "miller", "davis", "lopez", "wilson", "moore", "taylor", "clark",
    "lewis", "walker",
];
const DOMAINS: [&str; 5] =
    ["example.com", "mail.example.org", "shop.example.net", "example.co.uk", "inbox.example.com"];

/// The generator's state while it streams one file.
struct Generator {
    rng: Xoshiro256PlusPlus,
    catalog: Catalog,
    clean: bool,
    end: i64,
    next_order_no: u64,
    next_return_no: u64,
    rows_written: u64,
    planted: BTreeMap<String, u64>,
    buf: Vec<u8>,
}

impl Generator {
    fn new(opts: &SampleOptions) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed);
        let catalog = Catalog::generate(&mut rng);
        Generator {
            rng,
            catalog,
            clean: opts.clean,
            end: calendar::timestamp(2024, 12, 31, 23, 59, 59),
            next_order_no: 9_000_001,
            next_return_no: 100_000_001,
            rows_written: 0,
            planted: QUALITY_NAMES.iter().map(|n| (n.to_string(), 0)).collect(),
            buf: Vec::with_capacity(512),
        }
    }

    fn email(&mut self, index: usize) -> String {
        let first = FIRST_NAMES[self.rng.gen_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[self.rng.gen_range(0..LAST_NAMES.len())];
        let domain = DOMAINS[self.rng.gen_range(0..DOMAINS.len())];
        format!("{first}.{last}{index}@{domain}")
    }

    /// Spellings of `email` used on this customer's lines: itself, plus (in a dirty sample, for
    /// 3% of customers) case and whitespace variants that FEATURES.md folds into one customer.
    fn spellings(&mut self, email: &str) -> Vec<String> {
        let mut spellings = vec![email.to_string()];
        if !self.clean && self.rng.gen_bool(0.03) {
            let mut capitalised = email.to_string();
            if let Some(first) = capitalised.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            spellings.push(capitalised);
            spellings.push(format!(" {}", email.to_ascii_uppercase()));
            spellings.push(format!("{email}  "));
        }
        spellings
    }

    fn order_form(&mut self) -> TimeForm {
        if self.clean {
            return TimeForm::Canonical;
        }
        match self.rng.gen_range(0..1000) {
            0..900 => TimeForm::Canonical,
            900..930 => TimeForm::IsoT,
            930..950 => TimeForm::IsoTMicros,
            950..970 => TimeForm::DateOnly,
            970..985 => TimeForm::UsMinutes,
            _ => TimeForm::UsSeconds,
        }
    }

    fn return_form(&mut self) -> TimeForm {
        if self.clean {
            return TimeForm::Canonical;
        }
        match self.rng.gen_range(0..100) {
            0..94 => TimeForm::Canonical,
            94..97 => TimeForm::IsoT,
            _ => TimeForm::UsSeconds,
        }
    }

    /// A SKU of one of the customer's classes, not yet on this order.
    fn pick_sku(&mut self, behaviour: &Behaviour, taken: &[usize]) -> Option<usize> {
        let favourites = &behaviour.favourite_classes;
        for _ in 0..8 {
            // Earlier favourites and lower SKU indices are more popular (squared uniforms).
            let u: f64 = self.rng.r#gen();
            let class = favourites[((u * u) * favourites.len() as f64) as usize];
            let v: f64 = self.rng.r#gen();
            let sku = class * SKUS_PER_CLASS + ((v * v) * SKUS_PER_CLASS as f64) as usize;
            if !taken.contains(&sku) {
                return Some(sku);
            }
        }
        None
    }

    /// Write one customer's lines (counting rows and dirt); returns its e-mail, the customer_id.
    fn write_customer(
        &mut self,
        out: &mut impl Write,
        index: usize,
        kind: Planted,
    ) -> std::io::Result<String> {
        let email = self.email(index);
        self.write_lines(out, &email, kind)?;
        Ok(email)
    }

    /// Write the lines of a customer with this e-mail and archetype.
    fn write_lines(
        &mut self,
        out: &mut impl Write,
        email: &str,
        kind: Planted,
    ) -> std::io::Result<()> {
        let spellings = self.spellings(email);
        let behaviour = Behaviour::draw(kind, &self.catalog, &mut self.rng);
        let times = behaviour.order_times(self.end, &mut self.rng);
        let mut skus_in_order: Vec<usize> = Vec::with_capacity(16);
        for order_time in times {
            let order_no = self.next_order_no;
            self.next_order_no += 1;
            let order_form = self.order_form();
            let delay = (behaviour.return_delay_days
                * (0.35 * standard_normal(&mut self.rng)).exp())
            .max(0.5);
            let return_time = order_time + (delay * DAY as f64) as i64;
            let return_form = self.return_form();
            let mut return_no = 0;
            let lines =
                self.rng.gen_range(behaviour.lines_per_order.0..=behaviour.lines_per_order.1);
            skus_in_order.clear();
            for _ in 0..lines {
                let Some(sku) = self.pick_sku(&behaviour, &skus_in_order) else { continue };
                skus_in_order.push(sku);
                let units = behaviour.units(&mut self.rng);
                let class = self.catalog.skus[sku].class;
                let p = behaviour.line_return_prob(&self.catalog, class);
                let mut returned = 0;
                // A return after the extract's end has not happened yet.
                if return_time <= self.end && self.rng.r#gen::<f64>() < p {
                    returned = if units >= 2 && self.rng.r#gen::<f64>() < behaviour.partial_share {
                        self.rng.gen_range(1..units)
                    } else {
                        units
                    };
                    if return_no == 0 {
                        return_no = self.next_return_no;
                        self.next_return_no += 1;
                    }
                }
                let comment = (returned > 0 && self.rng.gen_bool(0.3))
                    .then(|| RETURN_COMMENTS[self.rng.gen_range(0..RETURN_COMMENTS.len())]);
                let spelling = if spellings.len() > 1 && self.rng.gen_bool(0.4) {
                    self.rng.gen_range(1..spellings.len())
                } else {
                    0
                };
                let line = LineRec {
                    order_no,
                    order_time,
                    order_form,
                    sku,
                    units,
                    returned,
                    return_time,
                    return_form,
                    return_no,
                    comment,
                };
                self.emit(out, &line, &spellings[spelling])?;
            }
        }
        Ok(())
    }

    /// Write a line, with at most one planted dirty case (never in a clean sample).
    fn emit(&mut self, out: &mut impl Write, rec: &LineRec, email: &str) -> std::io::Result<()> {
        let dirt =
            if self.clean { None } else { Dirt::draw(&mut self.rng, rec.units, rec.returned) };
        let edit = dirt.map_or(Edit::None, |d| d.edit_of_line(&mut self.rng));
        self.render(rec, email, edit);
        out.write_all(&self.buf)?;
        self.rows_written += 1;
        let Some(dirt) = dirt else { return Ok(()) };
        *self.planted.entry(dirt.quality_name().to_string()).or_insert(0) += 1;
        if let Some(extra) = dirt.extra_row(&mut self.rng) {
            match extra {
                Edit::Malformed { drop_field } => {
                    self.render(rec, email, Edit::None);
                    dirt::make_malformed(&mut self.buf, drop_field);
                }
                Edit::None => {} // duplicate: the buffer still holds the clean row
                other => self.render(rec, email, other),
            }
            out.write_all(&self.buf)?;
            self.rows_written += 1;
        }
        Ok(())
    }

    fn render(&mut self, rec: &LineRec, email: &str, edit: Edit) {
        let sku = &self.catalog.skus[rec.sku];
        let buf = &mut self.buf;
        buf.clear();
        if edit != Edit::EmptyOrderNo {
            push_order_no(buf, rec.order_no);
        }
        buf.push(b',');
        if edit != Edit::EmptyEmail {
            buf.extend_from_slice(email.as_bytes());
        }
        buf.push(b',');
        match edit {
            Edit::OrderDateText(text) => buf.extend_from_slice(text.as_bytes()),
            _ => push_timestamp(buf, rec.order_time, rec.order_form),
        }
        buf.extend_from_slice(b",\"");
        buf.extend_from_slice(sku.code.as_bytes());
        buf.extend_from_slice(b"\",");
        match edit {
            Edit::SalesQtyText(text) => buf.extend_from_slice(text.as_bytes()),
            _ => push_quantity(buf, rec.units),
        }
        buf.push(b',');
        let returned = rec.returned > 0;
        match edit {
            Edit::ReturnQtyText(text) => buf.extend_from_slice(text.as_bytes()),
            Edit::ReturnQtyOverSold => push_quantity(buf, rec.units + 1),
            Edit::FlipFlag if !returned => push_quantity(buf, 0),
            _ if returned => push_quantity(buf, rec.returned),
            _ => {}
        }
        let says_returned = returned != (edit == Edit::FlipFlag);
        buf.extend_from_slice(if says_returned { &b",Yes,"[..] } else { &b",No,"[..] });
        if returned {
            match edit {
                Edit::NoReturnDate => {}
                Edit::ReturnDateText(text) => buf.extend_from_slice(text.as_bytes()),
                Edit::ReturnBeforeOrder => {
                    push_timestamp(buf, rec.order_time - 2 * DAY, TimeForm::Canonical)
                }
                _ => push_timestamp(buf, rec.return_time, rec.return_form),
            }
            buf.extend_from_slice(b",N");
            push_padded(buf, rec.return_no, 9);
            buf.push(b',');
            if let Some(comment) = rec.comment {
                buf.extend_from_slice(csv_field(comment).as_bytes());
            }
        } else {
            buf.extend_from_slice(b",,");
        }
        buf.push(b',');
        push_order_no(buf, rec.order_no);
        buf.extend_from_slice(sku.code.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(sku.head.as_bytes());
        buf.push(b',');
        if edit != Edit::NoClass {
            buf.extend_from_slice(sku.class_field.as_bytes());
        }
        buf.push(b',');
        buf.extend_from_slice(sku.rest.as_bytes());
        buf.push(b'\n');
    }
}

/// A line as the generator decided it (before rendering and dirt).
struct LineRec {
    order_no: u64,
    order_time: i64,
    order_form: TimeForm,
    sku: usize,
    units: u32,
    returned: u32,
    return_time: i64,
    return_form: TimeForm,
    return_no: u64,
    comment: Option<&'static str>,
}

fn push_order_no(buf: &mut Vec<u8>, order_no: u64) {
    buf.extend_from_slice(b"FP");
    push_padded(buf, order_no, 8);
}

/// A whole number of units in the extract's four-decimal form (`2.0000`).
fn push_quantity(buf: &mut Vec<u8>, units: u32) {
    push_u64(buf, u64::from(units));
    buf.extend_from_slice(b".0000");
}

/// The truth file's path: `<dir>/<stem>.truth.csv`.
pub fn truth_path_for(out_csv: &Path) -> PathBuf {
    let stem = out_csv.file_stem().map_or_else(|| "sample".into(), |s| s.to_string_lossy());
    out_csv.with_file_name(format!("{stem}.truth.csv"))
}

/// Write a sample extract to `out_csv` and its truth to `<stem>.truth.csv` beside it.
///
/// Deterministic: the same options give the same bytes. 100k customers (~4M lines) take a few
/// seconds; memory stays at one customer's lines.
pub fn write_sample(out_csv: &Path, opts: &SampleOptions) -> Result<SampleSummary, SampleError> {
    if opts.customers == 0 {
        return Err(SampleError::NoCustomers);
    }
    let truth_path = truth_path_for(out_csv);
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| SampleError::Write { path, source }
    };
    let mut out = BufWriter::with_capacity(
        1 << 20,
        private_files::create_file(out_csv).map_err(io_err(out_csv))?,
    );
    let mut truth = BufWriter::with_capacity(
        1 << 16,
        private_files::create_file(&truth_path).map_err(io_err(&truth_path))?,
    );
    let mut generator = Generator::new(opts);
    let mut archetypes: BTreeMap<String, u64> = BTreeMap::new();
    writeln!(out, "{HEADER}").map_err(io_err(out_csv))?;
    writeln!(truth, "customer_id,archetype").map_err(io_err(&truth_path))?;
    for index in 0..opts.customers {
        let kind = Planted::draw(&mut generator.rng);
        let email = generator.write_customer(&mut out, index, kind).map_err(io_err(out_csv))?;
        writeln!(truth, "{email},{}", kind.label()).map_err(io_err(&truth_path))?;
        *archetypes.entry(kind.label().to_string()).or_insert(0) += 1;
    }
    out.flush().map_err(io_err(out_csv))?;
    truth.flush().map_err(io_err(&truth_path))?;
    Ok(SampleSummary {
        rows_written: generator.rows_written,
        customers: opts.customers as u64,
        planted: generator.planted,
        archetypes,
        truth_path,
    })
}

#[cfg(test)]
mod tests;
