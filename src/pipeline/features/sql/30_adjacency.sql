-- Adjacency (25-28) without enumerating line pairs.
-- A line L = (order o, sku s, class c) is adjacent when another order o' of the same customer and
-- class, within A days, holds a line with a different SKU. Per (customer, class), orders are
-- sorted by time; an order o' qualifies for L unless its SKUs in class c are exactly {s}. The
-- nearest qualifying order before L is therefore the previous order, or, when that previous order
-- holds only s, the order just before the run of consecutive "only s" orders it belongs to
-- (symmetrically after L). Cost: a few window passes and equi-joins, O(n log n).
-- Placeholder: {A_US} (adjacency window in microseconds).
CREATE OR REPLACE TEMP TABLE f_adj_orders AS
WITH o AS (
  SELECT customer_id, class, order_no, min(order_us) AS t,
         count(DISTINCT sku) AS n_sku, min(sku) AS any_sku
  FROM f_lines2 WHERE class IS NOT NULL AND sku IS NOT NULL
  GROUP BY customer_id, class, order_no
), a AS (
  SELECT *, row_number() OVER (PARTITION BY customer_id, class ORDER BY t, order_no) AS rn,
         CASE WHEN n_sku = 1 THEN any_sku END AS only_sku
  FROM o
), b AS (
  SELECT *, rn - row_number() OVER (PARTITION BY customer_id, class, only_sku ORDER BY rn) AS island
  FROM a
)
SELECT customer_id, class, order_no, t, rn, only_sku,
  min(rn) OVER (PARTITION BY customer_id, class, only_sku, island) AS run_start,
  max(rn) OVER (PARTITION BY customer_id, class, only_sku, island) AS run_end
FROM b;

CREATE OR REPLACE TEMP TABLE f_adj_gap AS
WITH combos AS (
  SELECT DISTINCT customer_id, class, order_no, sku
  FROM f_lines2 WHERE class IS NOT NULL AND sku IS NOT NULL
), j AS (
  SELECT c.*, r.rn, r.t FROM combos c JOIN f_adj_orders r USING (customer_id, class, order_no)
), cand AS (
  SELECT j.*,
    CASE WHEN p.only_sku = j.sku THEN p.run_start - 1 ELSE j.rn - 1 END AS prev_rn,
    CASE WHEN n.only_sku = j.sku THEN n.run_end + 1 ELSE j.rn + 1 END AS next_rn
  FROM j
  LEFT JOIN f_adj_orders p ON p.customer_id = j.customer_id AND p.class = j.class AND p.rn = j.rn - 1
  LEFT JOIN f_adj_orders n ON n.customer_id = j.customer_id AND n.class = j.class AND n.rn = j.rn + 1
), gaps AS (
  SELECT cand.customer_id, cand.class, cand.order_no, cand.sku,
    cand.t - pp.t AS gap_before, nn.t - cand.t AS gap_after
  FROM cand
  LEFT JOIN f_adj_orders pp ON pp.customer_id = cand.customer_id AND pp.class = cand.class AND pp.rn = cand.prev_rn
  LEFT JOIN f_adj_orders nn ON nn.customer_id = cand.customer_id AND nn.class = cand.class AND nn.rn = cand.next_rn
)
SELECT customer_id, class, order_no, sku,
  CASE WHEN gap_before IS NULL THEN gap_after
       WHEN gap_after IS NULL THEN gap_before
       ELSE least(gap_before, gap_after) END AS gap_us
FROM gaps;

CREATE OR REPLACE TEMP TABLE f_adjacency AS
SELECT l.customer_id,
  count(DISTINCT l.order_no) AS sku_adjacency_orders,
  count(*) FILTER (l.returned) AS sku_adjacency_returns,
  avg(g.gap_us / 86400e6) AS sku_adjacency_timing,
  avg((l.ret_us - l.line_us) / 86400e6) FILTER (l.returned AND l.ret_us IS NOT NULL) AS sku_adjacency_return_timing
FROM f_lines2 l JOIN f_adj_gap g USING (customer_id, class, order_no, sku)
WHERE g.gap_us <= {A_US}
GROUP BY l.customer_id;
