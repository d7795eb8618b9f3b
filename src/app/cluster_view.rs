//! What the Cluster and Report pages show about a segmentation, prepared on a worker thread.
//!
//! [`ClusterView`] is built from the same [`ReportData`] the Excel report is written from, so the
//! screen and the workbook always agree. On top of it, it precomputes what the pages would
//! otherwise recompute every frame: the scatter's points grouped by segment, the subset drawn when
//! there are many customers, where each segment's medians rank among all clustered customers, and
//! the segments' centres on each 2-D view.

use crate::pipeline::report::{
    ReportData, SegmentRow, percentile_rank, percentile_ranks, population_sorted,
};
use egui_plot::PlotPoint;

/// At most this many customers are drawn in the scatter; the rest are represented by them
/// (every segment keeps its share, small segments and outliers a visible minimum).
pub const MAX_DRAWN_POINTS: usize = 20_000;
/// Each segment keeps at least this many drawn points (or all of its customers).
const MIN_DRAWN_PER_SEGMENT: usize = 300;

/// The 2-D views of the customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapKind {
    #[default]
    Pca,
    Umap,
}

/// Every clustered customer as a point, grouped by segment row.
#[derive(Debug, Clone, Default)]
pub struct ScatterData {
    /// Customer ids.
    pub ids: Vec<String>,
    /// Index into [`ClusterView::rows`] of each customer's segment (outliers have their own row).
    pub group: Vec<usize>,
    pub pca: Vec<[f64; 2]>,
    /// UMAP-style position, for the customers in its sample once it is computed.
    pub umap: Vec<Option<[f64; 2]>>,
    /// Index into `ReportData::customers` of each point (for the hover card).
    pub customer_row: Vec<usize>,
    /// The points drawn, grouped: `drawn[g]` lists the points of segment row `g` that are drawn.
    pub drawn: Vec<Vec<usize>>,
    /// The drawn points' positions per group on each map (what the plot borrows every frame).
    drawn_xy: [Vec<Vec<PlotPoint>>; 2],
    /// Each group's centre on each map (where its name is written).
    centres: [Vec<Option<[f64; 2]>>; 2],
    /// The starting view of each map: `[x_min, x_max, y_min, y_max]`.
    bounds: [Option<[f64; 4]>; 2],
    /// Bumped whenever a map's positions change (the plot then takes the new bounds).
    versions: [u64; 2],
}

impl ScatterData {
    /// The position of point `i` on `map`, if it has one.
    pub fn position(&self, map: MapKind, i: usize) -> Option<[f64; 2]> {
        match map {
            MapKind::Pca => self.pca.get(i).copied(),
            MapKind::Umap => self.umap.get(i).copied().flatten(),
        }
    }

    /// Whether any point has a UMAP-style position.
    pub fn has_umap(&self) -> bool {
        self.umap.iter().any(Option::is_some)
    }

    /// Set UMAP-style positions: `(point index, x, y)`; points not listed lose theirs.
    pub fn set_umap(&mut self, layout: &[(u32, f64, f64)]) {
        self.umap.iter_mut().for_each(|p| *p = None);
        for &(i, x, y) in layout {
            if let Some(slot) = self.umap.get_mut(i as usize) {
                *slot = Some([x, y]);
            }
        }
        self.prepare(MapKind::Umap);
    }

    /// The drawn points of group `g` on `map`.
    pub fn drawn_positions(&self, map: MapKind, g: usize) -> &[PlotPoint] {
        self.drawn_xy[map as usize].get(g).map_or(&[], Vec::as_slice)
    }

    /// The centre of group `g` on `map`, if it has drawn points there.
    pub fn centre(&self, map: MapKind, g: usize) -> Option<[f64; 2]> {
        self.centres[map as usize].get(g).copied().flatten()
    }

    /// Recompute what the plot reads for `map` (after its positions change).
    fn prepare(&mut self, map: MapKind) {
        self.drawn_xy[map as usize] = self
            .drawn
            .iter()
            .map(|points| {
                points
                    .iter()
                    .filter_map(|&i| self.position(map, i))
                    .map(|[x, y]| PlotPoint::new(x, y))
                    .collect()
            })
            .collect();
        self.centres[map as usize] = self.compute_centres(map);
        self.bounds[map as usize] = self.compute_bounds(map);
        self.versions[map as usize] += 1;
    }

    /// The starting view of `map` (`[x_min, x_max, y_min, y_max]`) and the version of its
    /// positions.
    pub fn bounds(&self, map: MapKind) -> (Option<[f64; 4]>, u64) {
        (self.bounds[map as usize], self.versions[map as usize])
    }

    /// The 0.5th to 99.5th percentile of the drawn points on each axis, widened by 5 % on each
    /// side: a handful of far outliers must not shrink the segments into a corner (zooming out
    /// shows them).
    fn compute_bounds(&self, map: MapKind) -> Option<[f64; 4]> {
        let points = &self.drawn_xy[map as usize];
        let mut xs: Vec<f64> = points.iter().flatten().map(|p| p.x).collect();
        let mut ys: Vec<f64> = points.iter().flatten().map(|p| p.y).collect();
        let (x0, x1) = central_range(&mut xs)?;
        let (y0, y1) = central_range(&mut ys)?;
        Some([x0, x1, y0, y1])
    }

    /// Median position of each group's drawn points on `map` (from the prepared positions).
    fn compute_centres(&self, map: MapKind) -> Vec<Option<[f64; 2]>> {
        self.drawn_xy[map as usize]
            .iter()
            .map(|points| {
                let xs = points.iter().map(|p| p.x).collect();
                let ys = points.iter().map(|p| p.y).collect();
                Some([median(xs)?, median(ys)?])
            })
            .collect()
    }
}

/// The segmentation as the pages show it.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// Everything the report writes.
    pub data: ReportData,
    /// Indices into `data.segments` of the rows shown as groups: the segments in order, then
    /// Outliers (customers who were not segmented have no point on the maps).
    pub rows: Vec<usize>,
    pub scatter: ScatterData,
    /// Median of each key feature over all clustered customers.
    pub population_medians: Vec<Option<f64>>,
    /// For each row of `rows`, each key feature's segment median as a percentile rank (0-100)
    /// among all clustered customers.
    pub percentiles: Vec<Vec<Option<f64>>>,
    /// The percentile rank of each key feature's population median: where "typical" sits (50
    /// without ties; lower when most customers share the lowest value, e.g. no returns).
    pub typical_percentiles: Vec<Option<f64>>,
    /// Share of the variance on each PCA axis.
    pub pca_explained: [f64; 2],
    /// The K the sweep recommended (the shown K may be one the user picked).
    pub recommended_k: usize,
}

impl ClusterView {
    /// Build the view (on a worker thread: it sorts and groups every customer).
    pub fn new(data: ReportData, pca_explained: [f64; 2], recommended_k: usize) -> Self {
        let rows: Vec<usize> =
            (0..data.segments.len()).filter(|&i| !data.segments[i].is_not_segmented()).collect();
        let scatter = scatter_data(&data, &rows);
        let population = population_sorted(&data);
        let population_medians: Vec<Option<f64>> =
            population.iter().map(|sorted| median(sorted.clone())).collect();
        let percentiles = rows
            .iter()
            .map(|&r| percentile_ranks(&data.segments[r].key_feature_medians, &population))
            .collect();
        let typical_percentiles = population
            .iter()
            .zip(&population_medians)
            .map(|(sorted, m)| percentile_rank(sorted, (*m)?))
            .collect();
        let recommended_k = if recommended_k == 0 { data.chosen_k } else { recommended_k };
        Self {
            data,
            rows,
            scatter,
            population_medians,
            percentiles,
            typical_percentiles,
            pca_explained,
            recommended_k,
        }
    }

    /// The segment row shown as group `g`.
    pub fn row(&self, g: usize) -> &SegmentRow {
        &self.data.segments[self.rows[g]]
    }

    /// Number of groups (segments plus Outliers).
    pub fn groups(&self) -> usize {
        self.rows.len()
    }

    /// The group of segment `segment` (1-based), if shown.
    pub fn group_of_segment(&self, segment: usize) -> Option<usize> {
        (0..self.groups()).find(|&g| self.row(g).segment == Some(segment))
    }

    /// Customers who are clustered (every point of the maps).
    pub fn clustered_customers(&self) -> usize {
        self.scatter.ids.len()
    }

    /// Per segment label, its archetype, e.g. `[("Segment 1", "High Returners"), ..]`.
    pub fn archetypes(&self) -> Vec<(String, String)> {
        (0..self.groups())
            .map(|g| (self.row(g).label.clone(), self.row(g).archetype.clone()))
            .collect()
    }
}

fn scatter_data(data: &ReportData, rows: &[usize]) -> ScatterData {
    let group_of = |c: &crate::pipeline::report::CustomerRow| -> Option<usize> {
        rows.iter().position(|&r| {
            let row = &data.segments[r];
            if c.is_outlier {
                row.is_outliers()
            } else {
                c.segment.is_some() && row.segment == c.segment
            }
        })
    };
    let mut s = ScatterData::default();
    for (k, c) in data.customers.iter().enumerate() {
        let (Some(x), Some(y), Some(g)) = (c.pca_x, c.pca_y, group_of(c)) else { continue };
        s.ids.push(c.customer_id.clone());
        s.group.push(g);
        s.pca.push([x, y]);
        s.umap.push(c.umap_x.zip(c.umap_y).map(|(x, y)| [x, y]));
        s.customer_row.push(k);
    }
    s.drawn = drawn_points(&s.group, rows.len(), MAX_DRAWN_POINTS);
    s.prepare(MapKind::Pca);
    s.prepare(MapKind::Umap);
    s
}

/// Which points to draw, per group: all of them when there are at most `budget`; otherwise each
/// group keeps its share of the budget (at least `MIN_DRAWN_PER_SEGMENT` or all of its points),
/// taken at an even stride so the picture keeps its shape. Deterministic.
pub fn drawn_points(group: &[usize], groups: usize, budget: usize) -> Vec<Vec<usize>> {
    let mut members = vec![Vec::new(); groups];
    for (i, &g) in group.iter().enumerate() {
        members[g].push(i);
    }
    let n = group.len();
    if n <= budget {
        return members;
    }
    members
        .into_iter()
        .map(|m| {
            let share = (m.len() as f64 * budget as f64 / n as f64).ceil() as usize;
            let keep = share.max(MIN_DRAWN_PER_SEGMENT).min(m.len());
            if keep == m.len() {
                return m;
            }
            (0..keep).map(|j| m[j * m.len() / keep]).collect()
        })
        .collect()
}

/// The 0.5th-99.5th percentile range of `values`, widened by 5 % on each side (at least 1e-9
/// wide); `None` without finite values.
fn central_range(values: &mut Vec<f64>) -> Option<(f64, f64)> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.005), at(0.995));
    let margin = ((hi - lo) * 0.05).max(1e-9);
    Some((lo - margin, hi + margin))
}

/// The median of the finite values (sorted in place).
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_points_are_drawn_within_the_budget() {
        let group = vec![0, 1, 0, 2, 1];
        let drawn = drawn_points(&group, 3, 10);
        assert_eq!(drawn, vec![vec![0, 2], vec![1, 4], vec![3]]);
    }

    #[test]
    fn over_the_budget_each_group_keeps_its_share_and_small_groups_stay_whole() {
        // 100,000 points in group 0, 50 in group 1 (outliers): budget 1,000.
        let mut group = vec![0; 100_000];
        group.extend(std::iter::repeat_n(1, 50));
        let drawn = drawn_points(&group, 2, 1_000);
        assert_eq!(drawn[1].len(), 50, "a small group is drawn whole");
        assert_eq!(drawn[0].len(), 1_000, "ceil(100,000 x 1,000 / 100,050)");
        assert!(drawn[0].windows(2).all(|w| w[0] < w[1]), "an even stride, in order");
        assert_eq!(drawn[0][1] - drawn[0][0], 100);
    }

    #[test]
    fn each_segment_median_is_ranked_among_the_clustered_customers() {
        let view = ClusterView::new(ReportData::example(2_000, 4), [0.4, 0.2], 4);
        let population = population_sorted(&view.data);
        assert_eq!(view.percentiles.len(), view.groups());
        for g in 0..view.groups() {
            let median = view.row(g).key_feature_medians[0];
            assert_eq!(view.percentiles[g][0], percentile_rank(&population[0], median));
        }
        // The typical customer's rank, and the population medians, come from the same customers.
        let m = view.population_medians[0].unwrap();
        assert_eq!(view.typical_percentiles[0], percentile_rank(&population[0], m));
        assert!((40.0..=60.0).contains(&view.typical_percentiles[0].unwrap()));
    }

    #[test]
    fn every_clustered_customer_is_a_point_of_its_segment() {
        let data = ReportData::example(3_000, 5);
        let view = ClusterView::new(data.clone(), [0.4, 0.2], 5);
        assert_eq!(view.groups(), 6, "5 segments and the outliers; not segmented has no points");
        for g in 0..view.groups() {
            let members = view.scatter.group.iter().filter(|&&x| x == g).count() as u64;
            assert_eq!(members, view.row(g).size, "{}", view.row(g).label);
        }
        let unsegmented = data.customers.iter().filter(|c| c.pca_x.is_none()).count();
        assert_eq!(view.clustered_customers() + unsegmented, data.customers.len());
    }

    #[test]
    fn a_live_layout_moves_the_points_and_their_centres() {
        let mut view = ClusterView::new(ReportData::example(2_000, 4), [0.4, 0.2], 4);
        let g = view.scatter.group[0];
        let members: Vec<u32> = (0..view.scatter.ids.len() as u32)
            .filter(|&i| view.scatter.group[i as usize] == g)
            .collect();
        // A first snapshot puts the group at x = 1, a later one at x = 5 (a single point elsewhere).
        let layout: Vec<(u32, f64, f64)> = members.iter().map(|&i| (i, 1.0, 2.0)).collect();
        view.scatter.set_umap(&layout);
        assert_eq!(view.scatter.centre(MapKind::Umap, g), Some([1.0, 2.0]));
        let later: Vec<(u32, f64, f64)> = members.iter().map(|&i| (i, 5.0, 2.0)).collect();
        view.scatter.set_umap(&later);
        assert_eq!(view.scatter.centre(MapKind::Umap, g), Some([5.0, 2.0]));
        assert_eq!(view.scatter.drawn_positions(MapKind::Umap, g).len(), members.len());
        let other = (0..view.groups()).find(|&o| o != g).unwrap();
        assert!(view.scatter.drawn_positions(MapKind::Umap, other).is_empty(), "not in the layout");
        assert!(view.scatter.centre(MapKind::Umap, other).is_none());
    }

    #[test]
    fn the_starting_view_leaves_far_outliers_out() {
        // 1,000 points in 0..1 and one at 1,000: the view is about 0..1, not 0..1,000.
        let mut xs: Vec<f64> = (0..1_000).map(|i| i as f64 / 999.0).collect();
        xs.push(1_000.0);
        let (lo, hi) = central_range(&mut xs).unwrap();
        assert!(lo < 0.01 && lo > -0.1, "{lo}");
        assert!(hi > 0.99 && hi < 1.1, "{hi}");
        assert_eq!(central_range(&mut vec![f64::NAN]), None);
    }

    #[test]
    fn medians_ignore_missing_values() {
        assert_eq!(median(vec![3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
