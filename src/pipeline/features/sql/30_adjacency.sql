-- Adjacency (25-28) without enumerating line pairs.
-- A line L = (order o, SKU s, class c) is adjacent when another order o' of the same customer and
-- class, within A days, holds a line with a different SKU. Per (customer, class), orders are
-- sorted by time; an order o' qualifies for L unless its SKUs in class c are exactly {s}. The
-- nearest qualifying order before L is therefore the previous order, or, when that previous order
-- holds only s, the order just before the run of consecutive "only s" orders it belongs to
-- (symmetrically after L). Everything is two window passes over (customer, class, order) rows and
-- one equi-join back to the lines: O(n log n), never O(lines^2).
-- Placeholder: {A_US} (adjacency window in microseconds).
CREATE OR REPLACE TEMP VIEW f_adj_orders AS
WITH o AS (
  SELECT cid, kid, oid, min(order_us) AS t,
         CASE WHEN min(sid) = max(sid) THEN min(sid) END AS only_sid
  FROM f_lines2 WHERE kid IS NOT NULL AND sid IS NOT NULL
  GROUP BY cid, kid, oid
), neighbours AS (
  -- A run is a maximal stretch of consecutive orders with the same only_sid (NULL included).
  SELECT *,
    lag(t) OVER w AS prev_t,
    lead(t) OVER w AS next_t,
    lag(only_sid) OVER w AS prev_only_sid,
    lead(only_sid) OVER w AS next_only_sid,
    row_number() OVER w = 1 OR only_sid IS DISTINCT FROM lag(only_sid) OVER w AS starts_run,
    lead(oid) OVER w IS NULL OR only_sid IS DISTINCT FROM lead(only_sid) OVER w AS ends_run
  FROM o WINDOW w AS (PARTITION BY cid, kid ORDER BY t, oid)
)
-- The time of the order just before the run holding the previous order: the previous order of
-- the latest run start before this order (times never decrease along the window, so it is the
-- maximum); symmetrically after.
SELECT cid, kid, oid, t, prev_t, next_t, prev_only_sid,
  max(CASE WHEN starts_run THEN prev_t END)
    OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_t_before_run,
  next_only_sid,
  min(CASE WHEN ends_run THEN next_t END)
    OVER (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_t_after_run
FROM neighbours WINDOW w AS (PARTITION BY cid, kid ORDER BY t, oid);

-- Per line: the gap to the nearest qualifying order on each side (a view: only its adjacent lines
-- are aggregated, never stored).
CREATE OR REPLACE TEMP VIEW f_adj_lines AS
WITH g AS (
  SELECT l.cid, l.oid, l.returned, l.line_us, l.ret_us,
    CASE WHEN a.prev_only_sid = l.sid THEN a.t - a.prev_t_before_run ELSE a.t - a.prev_t END AS gap_before,
    CASE WHEN a.next_only_sid = l.sid THEN a.next_t_after_run - a.t ELSE a.next_t - a.t END AS gap_after
  FROM f_lines2 l JOIN f_adj_orders a ON a.oid = l.oid AND a.kid = l.kid
  WHERE l.sid IS NOT NULL
)
SELECT *, CASE WHEN gap_before IS NULL THEN gap_after
               WHEN gap_after IS NULL THEN gap_before
               ELSE least(gap_before, gap_after) END AS gap_us
FROM g;

CREATE OR REPLACE TEMP VIEW f_adjacency AS
SELECT cid,
  count(DISTINCT oid) AS sku_adjacency_orders,
  count(*) FILTER (returned) AS sku_adjacency_returns,
  avg(gap_us / 86400e6) AS sku_adjacency_timing,
  avg((ret_us - line_us) / 86400e6) FILTER (returned AND ret_us IS NOT NULL) AS sku_adjacency_return_timing
FROM f_adj_lines
WHERE gap_us <= {A_US}
GROUP BY cid;
