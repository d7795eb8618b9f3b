//! Property: shuffling the input rows and changing the case and surrounding spaces of e-mail
//! addresses changes no feature value.

use crate::common::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use returnscope::pipeline::Analysis;
use returnscope::pipeline::sample::{SampleOptions, write_sample};

fn silver_dump(a: &Analysis) -> Vec<String> {
    let mut stmt = a
        .store()
        .conn()
        .prepare("SELECT CAST(s AS VARCHAR) FROM silver_customer_features s ORDER BY customer_id")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|r| r.unwrap()).collect()
}

/// Shuffle the data lines and re-case / pad the e-mail column (field 2; generated e-mails contain
/// no commas or quotes).
fn perturb(csv: &str, seed: u64) -> String {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let header = lines.remove(0);
    lines.shuffle(&mut rng);
    for line in &mut lines {
        let mut fields: Vec<String> = line.splitn(3, ',').map(str::to_string).collect();
        if fields.len() == 3 {
            fields[1] = match rng.gen_range(0..3) {
                0 => fields[1].to_uppercase(),
                1 => format!("\"  {}  \"", fields[1]),
                _ => fields[1].clone(),
            };
            *line = fields.join(",");
        }
    }
    format!("{header}\n{}\n", lines.join("\n"))
}

#[test]
fn shuffled_rows_and_recased_emails_give_identical_features() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("orig.csv");
    write_sample(&original, &SampleOptions { customers: 400, seed: 9, clean: true }).unwrap();
    let text = std::fs::read_to_string(&original).unwrap();
    let config = small_config(Some("2024-12-31 00:00:00"));
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let a = run_to_features(&a_dir, &text, &config);
    let b = run_to_features(&b_dir, &perturb(&text, 4), &config);
    let (x, y) = (silver_dump(&a), silver_dump(&b));
    assert_eq!(x.len(), 400);
    assert_eq!(x.len(), y.len());
    if let Some((l, r)) = x.iter().zip(&y).find(|(l, r)| l != r) {
        panic!("features changed:\n{l}\n{r}");
    }
}
