//! Customer e-mails stay private: what the real binary creates is owner-only, pseudonymized
//! outputs carry no e-mail, pseudonyms are stable across analyses and do not collide, the logs
//! hold no e-mail, and `returnscope delete` removes exactly the analysis's files.

use crate::common::write;
use calamine::{Reader, open_workbook_auto};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary with its app data folder (the pseudonym key) in `data_home`.
fn returnscope(args: &[&str], cwd: &Path, data_home: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_returnscope"))
        .args(args)
        .current_dir(cwd)
        .env("XDG_DATA_HOME", data_home)
        .env("HOME", data_home)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.code() != Some(1),
        "returnscope {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file and folder under `root` (not `root` itself).
fn tree(root: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            found.insert(path);
        }
    }
    found
}

/// The customer ids (first column) of a CSV with a header.
fn first_column(csv: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(csv).unwrap();
    text.lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect()
}

/// pseudonym -> customer id from a lookup CSV.
fn lookup(csv: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(csv).unwrap();
    assert!(text.starts_with("pseudonym,customer_id\n"), "{text:.60}");
    text.lines()
        .skip(1)
        .map(|l| {
            let (p, c) = l.split_once(',').unwrap();
            (p.to_string(), c.to_string())
        })
        .collect()
}

fn is_pseudonym(s: &str) -> bool {
    s.len() == 18 && s.starts_with("C-") && s[2..].chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn a_cli_run_shares_nothing_and_pseudonymized_outputs_hold_no_email() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (root, home) = (dir.path().join("work"), dir.path().join("home"));
    std::fs::create_dir_all(&root).unwrap();
    // A file the user made readable to others: overwriting it keeps its mode.
    let shared = write(&root, "shared.csv", "old");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();

    // Dirty sample data (malformed rows, bad values): every stage, the report, two exports.
    returnscope(&["sample", "--customers", "1500", "--seed", "5", "--out", "s.csv"], &root, &home);
    returnscope(
        &[
            "run",
            "s.csv",
            "--db",
            "out/a.duckdb",
            "--report",
            "out/r.xlsx",
            "--pseudonymize",
            "--pseudonym-lookup",
            "out/lookup.csv",
        ],
        &root,
        &home,
    );
    for (layer, out) in [("results", "out/results.csv"), ("silver", "out/silver.csv")] {
        let args = ["export", layer, "--db", "out/a.duckdb", "--out", out, "--pseudonymize"];
        returnscope(&args, &root, &home);
    }
    let args = ["export", "results", "--db", "out/a.duckdb", "--out", "shared.csv"];
    returnscope(&args, &root, &home);

    // Nothing created is readable (or enterable) by group or others; the user's file kept 0644.
    let created: Vec<PathBuf> =
        tree(&root).into_iter().chain(tree(&home)).filter(|p| *p != shared).collect();
    assert!(created.iter().any(|p| p.ends_with("home/returnscope/pseudonym.key")), "{created:?}");
    assert!(created.iter().any(|p| p.extension().is_some_and(|e| e == "log")), "{created:?}");
    let open: Vec<_> = created.iter().filter(|p| mode(p) & 0o077 != 0).collect();
    assert!(open.is_empty(), "readable by others: {open:?}");
    assert_eq!(mode(&shared), 0o644);
    assert!(std::fs::read_to_string(&shared).unwrap().contains('@'), "e-mails unless asked");

    // The workbook: customers by pseudonym, no '@' in any cell of any sheet.
    let mut book = open_workbook_auto(root.join("out/r.xlsx")).unwrap();
    for sheet in book.sheet_names() {
        let range = book.worksheet_range(&sheet).unwrap();
        let emails: Vec<String> =
            range.cells().map(|(_, _, c)| c.to_string()).filter(|c| c.contains('@')).collect();
        assert!(emails.is_empty(), "{sheet}: {emails:?}");
    }
    let assignments = book.worksheet_range("Customer Assignments").unwrap();
    let ids: Vec<String> = assignments.rows().skip(4).map(|r| r[0].to_string()).collect();
    assert!(ids.len() > 1000 && ids.iter().all(|id| is_pseudonym(id)), "{:?}", &ids[..3]);

    // The exports: no '@' at all, one pseudonym per customer.
    for csv in ["out/results.csv", "out/silver.csv"] {
        let text = std::fs::read_to_string(root.join(csv)).unwrap();
        assert!(!text.contains('@'), "{csv} holds an e-mail");
        assert!(first_column(&root.join(csv)).iter().all(|id| is_pseudonym(id)), "{csv}");
    }

    // The lookup maps the workbook's pseudonyms back to the customers of the analysis.
    let map = lookup(&root.join("out/lookup.csv"));
    assert_eq!(map.len(), ids.len(), "one lookup line per customer of the report");
    assert!(ids.iter().all(|id| map[id].contains('@')));

    // The logs of the run hold no e-mail (nor any '@').
    let logs: Vec<PathBuf> =
        std::fs::read_dir(root.join("out/logs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(log.contains("Loading CSV") && log.contains("analysis file: "), "{log}");
    assert!(!log.contains('@'), "the log holds an e-mail:\n{log}");
}

/// Orders of customers c0..c{n} (three orders each) in `month`, written as `name`.
fn orders_csv(dir: &Path, name: &str, customers: std::ops::Range<usize>, month: u32) -> PathBuf {
    let mut text = format!("{}\n", crate::common::HEADER);
    for c in customers {
        for o in 0..3 {
            text.push_str(&format!(
                "S{month}-{c}-{o},Customer{c}@Shop.example,2024-{month:02}-{:02},K{o},1,0,No,,,,1,1,C,B\n",
                o + 1
            ));
        }
    }
    write(dir, name, &text)
}

#[test]
fn the_same_customer_has_the_same_pseudonym_in_two_analyses_and_none_collide() {
    let dir = tempfile::tempdir().unwrap();
    let (root, home) = (dir.path().join("work"), dir.path().join("home"));
    std::fs::create_dir_all(&root).unwrap();
    // Two periods: customers 0..600 in March, 300..900 in April (300 in both).
    orders_csv(&root, "march.csv", 0..600, 3);
    orders_csv(&root, "april.csv", 300..900, 4);
    write(&root, "small.toml", "[quality]\nmin_customers = 1\n");
    let mut by_email: HashMap<String, String> = HashMap::new();
    for period in ["march", "april"] {
        let db = format!("{period}.duckdb");
        let args = ["run", &format!("{period}.csv"), "--db", &db, "--config", "small.toml"];
        returnscope(&[&args[..], &["--until", "features"]].concat(), &root, &home);
        let (out, map) = (format!("{period}.silver.csv"), format!("{period}.lookup.csv"));
        let args = ["export", "silver", "--db", &db, "--out", &out, "--pseudonymize"];
        returnscope(&[&args[..], &["--pseudonym-lookup", &map]].concat(), &root, &home);
        assert!(!std::fs::read_to_string(root.join(&out)).unwrap().contains('@'));
        let map = lookup(&root.join(&map));
        assert_eq!(map.len(), 600, "{period}: 600 customers, 600 distinct pseudonyms");
        for (pseudonym, email) in map {
            assert!(is_pseudonym(&pseudonym), "{pseudonym}");
            if let Some(earlier) = by_email.insert(email.clone(), pseudonym.clone()) {
                assert_eq!(earlier, pseudonym, "{email} changed pseudonym between periods");
            }
        }
    }
    // 900 customers: 900 different pseudonyms; e-mails were matched case-insensitively.
    let distinct: BTreeSet<&String> = by_email.values().collect();
    assert_eq!((by_email.len(), distinct.len()), (900, 900));
    assert!(by_email.contains_key("customer450@shop.example"));
}

#[test]
fn delete_removes_every_file_of_the_analysis_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (root, home) = (dir.path().join("work"), dir.path().join("home"));
    std::fs::create_dir_all(root.join("other")).unwrap();
    let args = ["sample", "--customers", "400", "--out", "orders.csv", "--clean"];
    returnscope(&args, &root, &home);
    write(&root, "small.toml", "[quality]\nmin_customers = 1\n");
    let run = |db: &str| {
        let args =
            ["run", "orders.csv", "--db", db, "--config", "small.toml", "--until", "cluster"];
        returnscope(&args, &root, &home);
    };
    run("out/a.duckdb");
    run("other/b.duckdb");
    write(&root, "out/notes.txt", "mine");
    write(&root, "out/logs/unrelated.log", "INFO analysis file: /somewhere/else.duckdb\n");
    std::fs::create_dir_all(root.join("out/a.duckdb.tmp")).unwrap(); // a spill folder left over
    let before = tree(&root);

    // A CSV given by mistake is refused, and without a terminal --yes is required.
    let out = Command::new(env!("CARGO_BIN_EXE_returnscope"))
        .args(["delete", "--db", "orders.csv", "--yes"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a ReturnScope analysis"));
    let out = Command::new(env!("CARGO_BIN_EXE_returnscope"))
        .args(["delete", "--db", "out/a.duckdb"])
        .current_dir(&root)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(tree(&root), before, "nothing deleted without a confirmation");

    returnscope(&["delete", "--db", "out/a.duckdb", "--yes"], &root, &home);
    let removed: BTreeSet<PathBuf> = before.difference(&tree(&root)).cloned().collect();
    let a_log: Vec<&PathBuf> = before
        .iter()
        .filter(|p| {
            p.starts_with(root.join("out/logs")) && p.extension().is_some_and(|e| e == "log")
        })
        .filter(|p| !p.ends_with("unrelated.log"))
        .collect();
    assert_eq!(a_log.len(), 1, "{a_log:?}");
    let metadata = returnscope::pipeline::metadata::metadata_path(&root.join("out/a.duckdb"));
    let expected: BTreeSet<PathBuf> =
        [root.join("out/a.duckdb"), root.join("out/a.duckdb.tmp"), metadata, a_log[0].clone()]
            .into_iter()
            .collect();
    assert_eq!(removed, expected);
    assert!(root.join("other/b.duckdb").exists() && root.join("out/notes.txt").exists());
}
