//! Fixed-seed stratified sample of customers for the UMAP-style view.
//!
//! Each group (segment, or the outlier label) gets a quota proportional to its size, but at least
//! `min(size, max(50, n / 100))`, so that small segments and outliers stay visible. Quotas are
//! `min(size, max(floor, lambda * size))` with lambda found by bisection so they add up to n,
//! then rounded by largest remainder. When the floors alone exceed n, the budget is water-filled
//! (every group gets the same count, capped at its size). Members are drawn without replacement
//! from one seeded generator, group by group in ascending label order.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::BTreeMap;

/// Smallest per-group floor, whatever the sample size.
const MIN_GROUP_FLOOR: usize = 50;

/// Indices (ascending) of a fixed-seed sample of `n` points stratified by `groups`.
///
/// Returns every index when `n >= groups.len()`. Every group is represented as long as `n` is at
/// least the number of groups; below that, the largest groups are kept.
pub fn stratified_sample(groups: &[i64], n: usize, seed: u64) -> Vec<usize> {
    if n >= groups.len() {
        return (0..groups.len()).collect();
    }
    let members = members_by_group(groups);
    let sizes: Vec<usize> = members.values().map(Vec::len).collect();
    let quotas = group_quotas(&sizes, n);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut sample: Vec<usize> = Vec::with_capacity(n);
    for (indices, &quota) in members.values().zip(&quotas) {
        let picked = rand::seq::index::sample(&mut rng, indices.len(), quota);
        sample.extend(picked.iter().map(|p| indices[p]));
    }
    sample.sort_unstable();
    sample
}

/// Point indices of every group, groups in ascending label order.
fn members_by_group(groups: &[i64]) -> BTreeMap<i64, Vec<usize>> {
    let mut members: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (index, &group) in groups.iter().enumerate() {
        members.entry(group).or_default().push(index);
    }
    members
}

/// How many points to draw from each group; sums to `n` (which is below the total size).
fn group_quotas(sizes: &[usize], n: usize) -> Vec<usize> {
    let floor_level = MIN_GROUP_FLOOR.max(n / 100);
    let floors: Vec<usize> = sizes.iter().map(|&size| size.min(floor_level)).collect();
    if floors.iter().sum::<usize>() >= n {
        return water_fill(sizes, n);
    }
    let quota_at = |lambda: f64| -> Vec<f64> {
        sizes
            .iter()
            .zip(&floors)
            .map(|(&size, &floor)| (lambda * size as f64).max(floor as f64).min(size as f64))
            .collect()
    };
    let (mut low, mut high) = (0.0_f64, 1.0_f64);
    for _ in 0..100 {
        let mid = (low + high) / 2.0;
        if quota_at(mid).iter().sum::<f64>() > n as f64 { high = mid } else { low = mid }
    }
    round_to_total(&quota_at(low), sizes, n)
}

/// Rounds real quotas down, then hands the remaining units to the largest fractional parts
/// (ties: lower group), never exceeding a group's size.
fn round_to_total(real: &[f64], sizes: &[usize], n: usize) -> Vec<usize> {
    let mut quotas: Vec<usize> = real.iter().map(|q| q.floor() as usize).collect();
    let mut order: Vec<usize> = (0..real.len()).collect();
    order.sort_by(|&a, &b| {
        (real[b] - real[b].floor()).total_cmp(&(real[a] - real[a].floor())).then(a.cmp(&b))
    });
    let mut missing = n.saturating_sub(quotas.iter().sum());
    while missing > 0 {
        let before = missing;
        for &g in &order {
            if missing > 0 && quotas[g] < sizes[g] {
                quotas[g] += 1;
                missing -= 1;
            }
        }
        if missing == before {
            break;
        }
    }
    quotas
}

/// Equal counts per group (capped at each group's size) adding up to `n`; leftover units go to
/// the largest groups first (ties: lower label).
fn water_fill(sizes: &[usize], n: usize) -> Vec<usize> {
    let mut level = 0usize;
    while level < n && sizes.iter().map(|&s| s.min(level + 1)).sum::<usize>() <= n {
        level += 1;
    }
    let mut quotas: Vec<usize> = sizes.iter().map(|&s| s.min(level)).collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let mut missing = n - quotas.iter().sum::<usize>();
    for &g in &order {
        if missing > 0 && quotas[g] < sizes[g] {
            quotas[g] += 1;
            missing -= 1;
        }
    }
    quotas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_in(sample: &[usize], groups: &[i64], label: i64) -> usize {
        sample.iter().filter(|&&i| groups[i] == label).count()
    }

    #[test]
    fn every_group_is_present_with_its_floor() {
        // 9,000 in group 0, 900 in group 1, 30 in group 2, 70 outliers (-1); n = 1,000.
        // Floor = max(50, 1000/100) = 50: group 2 keeps all 30, outliers get >= 50.
        // The rest is proportional: lambda * (9000 + 900) = 1000 - 30 - 50 -> 920 / 9900,
        // group 0 ~ 836.4, group 1 ~ 83.6 (both above 50).
        let mut groups = vec![0i64; 9000];
        groups.extend(vec![1; 900]);
        groups.extend(vec![2; 30]);
        groups.extend(vec![-1; 70]);
        let sample = stratified_sample(&groups, 1000, 42);
        assert_eq!(sample.len(), 1000);
        assert!(sample.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
        assert_eq!(count_in(&sample, &groups, 2), 30);
        assert_eq!(count_in(&sample, &groups, -1), 50);
        assert!((836..=837).contains(&count_in(&sample, &groups, 0)));
        assert!((83..=84).contains(&count_in(&sample, &groups, 1)));
        assert_eq!(sample, stratified_sample(&groups, 1000, 42), "fixed seed");
        assert_ne!(sample, stratified_sample(&groups, 1000, 43));
    }

    #[test]
    fn small_budgets_still_cover_every_group() {
        // Floors (50 each for 4 groups of 100) exceed n = 10: water-fill 2 + 2 + 2 + 2, then the
        // two leftover units go to groups in label order (sizes tie) -> 3, 3, 2, 2.
        let groups: Vec<i64> = (0..400).map(|i| i / 100).collect();
        let sample = stratified_sample(&groups, 10, 1);
        let counts: Vec<usize> = (0..4).map(|g| count_in(&sample, &groups, g)).collect();
        assert_eq!(counts, vec![3, 3, 2, 2]);
    }

    #[test]
    fn degenerate_requests() {
        assert_eq!(stratified_sample(&[], 10, 1), Vec::<usize>::new());
        assert_eq!(stratified_sample(&[5, 5, 7], 10, 1), vec![0, 1, 2]);
        assert_eq!(stratified_sample(&[5, 5, 7], 0, 1), Vec::<usize>::new());
        // Fewer slots than groups: the largest group first.
        let groups = [1, 2, 2, 3];
        assert_eq!(
            stratified_sample(&groups, 1, 1).iter().map(|&i| groups[i]).collect::<Vec<_>>(),
            vec![2]
        );
    }
}
