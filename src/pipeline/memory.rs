//! The run's memory budget, and how much each stage used of it.
//!
//! One number bounds an analysis: `store.memory_limit`, or, when it is empty, half of the
//! machine's RAM and at most 8 GiB ([`MemoryBudget::for_limit`]). DuckDB gets three quarters of
//! it as its own `memory_limit` and spills to the analysis's spill folder beyond that; the rest
//! is headroom for what the pipeline holds in Rust (the clustering matrix, the K-means and DBSCAN
//! working sets), which stays far below it at a million customers (25 columns of f64: 200 MB).
//!
//! [`StageMeter`] measures a stage's peak resident memory (Linux: the kernel's high-water mark,
//! reset when the stage starts; elsewhere the resident size when it ends), so the CLI and the
//! app can say which stage used how much, and warn when one came close to the budget.

use crate::pipeline::progress::Stage;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// The automatic budget never exceeds this, however large the machine.
pub const AUTO_BUDGET_CAP: u64 = 8 * GIB;
/// Used when the machine's RAM cannot be read.
const FALLBACK_BUDGET: u64 = 4 * GIB;
/// DuckDB's share of the budget, in quarters.
const DUCKDB_QUARTERS: u64 = 3;
/// A stage whose peak reaches this share of the budget gets a warning.
const NEAR_LIMIT_SHARE: f64 = 0.9;

/// How much memory one analysis may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    pub bytes: u64,
    /// Whether the configuration named it (else: half the RAM, at most 8 GiB).
    pub configured: bool,
}

/// `store.memory_limit` is not a size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "store.memory_limit is \"{0}\", which is not an amount of memory. Write it as e.g. \"4GB\" or \
     \"512MB\", or leave it empty to use half of this computer's memory (at most 8 GB)."
)]
pub struct BadMemoryLimit(pub String);

impl MemoryBudget {
    /// The budget `store.memory_limit` asks for: that amount, or when it is empty (or "auto")
    /// the automatic one.
    pub fn for_limit(memory_limit: &str) -> Result<Self, BadMemoryLimit> {
        let text = memory_limit.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("auto") {
            return Ok(Self::automatic(total_ram_bytes()));
        }
        parse_size(text)
            .filter(|&b| b > 0)
            .map(|bytes| Self { bytes, configured: true })
            .ok_or_else(|| BadMemoryLimit(text.to_string()))
    }

    /// Half of `total_ram` (unknown: 4 GiB), at most [`AUTO_BUDGET_CAP`].
    pub fn automatic(total_ram: Option<u64>) -> Self {
        let bytes = total_ram.map_or(FALLBACK_BUDGET, |ram| (ram / 2).min(AUTO_BUDGET_CAP));
        Self { bytes, configured: false }
    }

    /// DuckDB's own `memory_limit` (three quarters of the budget), as DuckDB reads it.
    pub fn duckdb_limit(&self) -> String {
        format!("{}MiB", (self.bytes / 4 * DUCKDB_QUARTERS / MIB).max(64))
    }

    /// Whether `bytes` comes within 10% of the budget.
    pub fn is_near(&self, bytes: u64) -> bool {
        bytes as f64 >= NEAR_LIMIT_SHARE * self.bytes as f64
    }

    /// "8.0 GB" (binary units, as task managers show them).
    pub fn describe(&self) -> String {
        format_bytes(self.bytes)
    }
}

/// "4GB", "512 MiB", "1.5gb", "800000KB", "2T" -> bytes. DuckDB's units: KB/MB/GB/TB are
/// treated as their binary values, as DuckDB does for `memory_limit` (1000-based KB etc. differ
/// by 7% at most, well inside a budget's precision).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kib" => KIB,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => GIB,
        "t" | "tb" | "tib" => 1024 * GIB,
        _ => return None,
    };
    let bytes = value * scale as f64;
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

/// "1.3 GB", "420 MB" (binary units).
pub fn format_bytes(bytes: u64) -> String {
    if bytes >= GIB {
        format!("{:.1} GB", bytes as f64 / GIB as f64)
    } else {
        format!("{} MB", bytes.div_ceil(MIB))
    }
}

/// The machine's RAM, when the system says (read once).
pub fn total_ram_bytes() -> Option<u64> {
    static TOTAL: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(|| {
        let mut system = sysinfo::System::new();
        system.refresh_memory_specifics(sysinfo::MemoryRefreshKind::nothing().with_ram());
        Some(system.total_memory()).filter(|&b| b > 0)
    })
}

/// This process's resident memory now.
pub fn resident_bytes() -> Option<u64> {
    let pid = sysinfo::get_current_pid().ok()?;
    let mut system = sysinfo::System::new();
    system.refresh_processes_specifics(
        sysinfo::ProcessesToUpdate::Some(&[pid]),
        false,
        sysinfo::ProcessRefreshKind::nothing().with_memory(),
    );
    system.process(pid).map(|p| p.memory()).filter(|&b| b > 0)
}

/// This process's resident memory, read at most twice a second however often it is asked (a
/// progress sink asks on every update).
#[derive(Debug)]
pub struct ResidentSampler {
    last: std::sync::Mutex<Option<(std::time::Instant, Option<u64>)>>,
}

impl Default for ResidentSampler {
    fn default() -> Self {
        Self { last: std::sync::Mutex::new(None) }
    }
}

impl ResidentSampler {
    const EVERY: std::time::Duration = std::time::Duration::from_millis(500);

    pub fn sample(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *last {
            Some((at, bytes)) if at.elapsed() < Self::EVERY => bytes,
            _ => {
                let bytes = resident_bytes();
                *last = Some((std::time::Instant::now(), bytes));
                bytes
            }
        }
    }
}

/// CPU time (user + system) of this process so far, in seconds (Linux; 0 elsewhere). On a shared
/// machine wall time varies with the neighbours' load, CPU time much less: benchmarks print both.
pub fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// This process's peak resident memory since the last [`reset_peak`] (Linux only).
fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * KIB)
}

/// Starts a new peak measurement (Linux: writing 5 to clear_refs resets the high-water mark).
/// False where the peak cannot be reset; the stage's end is then measured instead.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// How much memory one stage used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StageMemory {
    pub stage: Stage,
    /// The stage's peak resident memory (or, where no peak can be read, its memory at the end).
    pub peak_bytes: u64,
}

impl StageMemory {
    /// Whether the stage came within 10% of the budget.
    pub fn near_limit(&self, budget: &MemoryBudget) -> bool {
        budget.is_near(self.peak_bytes)
    }

    /// A warning in words when the stage came close to the budget, else None.
    pub fn warning(&self, budget: &MemoryBudget) -> Option<String> {
        self.near_limit(budget).then(|| {
            format!(
                "{} used {} of the {} memory budget; the database spilled to disk beyond it, \
                 which is slower. If this computer has memory to spare, raise store.memory_limit \
                 in the configuration; otherwise close other programs.",
                capitalised(self.stage.title()),
                format_bytes(self.peak_bytes),
                budget.describe()
            )
        })
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// Measures one stage's peak memory: start it when the stage starts, finish when it ends.
#[derive(Debug)]
pub struct StageMeter {
    stage: Stage,
    peak_resets: bool,
}

impl StageMeter {
    pub fn start(stage: Stage) -> Self {
        Self { stage, peak_resets: reset_peak() }
    }

    pub fn finish(self) -> StageMemory {
        let peak = if self.peak_resets { peak_resident_bytes() } else { None };
        StageMemory { stage: self.stage, peak_bytes: peak.or_else(resident_bytes).unwrap_or(0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_duckdb_reads_them() {
        assert_eq!(parse_size("4GB"), Some(4 * GIB));
        assert_eq!(parse_size("512 MiB"), Some(512 * MIB));
        assert_eq!(parse_size("1.5gb"), Some(3 * GIB / 2));
        assert_eq!(parse_size("2048"), Some(2048));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("4 parsecs"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn the_automatic_budget_is_half_the_ram_at_most_8_gb() {
        assert_eq!(MemoryBudget::automatic(Some(24 * GIB)).bytes, 8 * GIB);
        assert_eq!(MemoryBudget::automatic(Some(8 * GIB)).bytes, 4 * GIB);
        assert_eq!(MemoryBudget::automatic(None).bytes, 4 * GIB);
        let auto = MemoryBudget::for_limit("").unwrap();
        assert!(!auto.configured && auto.bytes <= AUTO_BUDGET_CAP && auto.bytes > 0);
    }

    #[test]
    fn a_configured_limit_wins_and_a_bad_one_says_what_to_write() {
        let b = MemoryBudget::for_limit(" 2GB ").unwrap();
        assert_eq!((b.bytes, b.configured), (2 * GIB, true));
        assert_eq!(b.duckdb_limit(), "1536MiB");
        let e = MemoryBudget::for_limit("plenty").unwrap_err().to_string();
        assert!(e.contains("\"plenty\"") && e.contains("4GB"), "{e}");
    }

    #[test]
    fn a_stage_near_the_budget_is_named_in_the_warning() {
        let budget = MemoryBudget { bytes: 8 * GIB, configured: false };
        let near = StageMemory { stage: Stage::Features, peak_bytes: 15 * GIB / 2 };
        let w = near.warning(&budget).unwrap();
        assert!(w.starts_with("Features used 7.5 GB of the 8.0 GB"), "{w}");
        let fine = StageMemory { stage: Stage::Features, peak_bytes: 2 * GIB };
        assert_eq!(fine.warning(&budget), None);
    }

    #[test]
    fn this_process_s_memory_and_the_machine_s_are_read() {
        let resident = resident_bytes().expect("resident memory");
        let ram = total_ram_bytes().expect("RAM");
        assert!(resident > MIB && resident < ram, "{resident} of {ram}");
        let sampler = ResidentSampler::default();
        assert!(sampler.sample().is_some());
    }

    #[test]
    fn a_stage_meter_sees_an_allocation_made_during_the_stage() {
        let meter = StageMeter::start(Stage::Cluster);
        let block = vec![1u8; 64 * MIB as usize];
        std::hint::black_box(&block);
        let used = meter.finish();
        drop(block);
        assert!(used.peak_bytes >= 64 * MIB, "{used:?}");
    }
}
