-- Adjacency (25-28) without enumerating line pairs: the twin of features/sql/30_adjacency.sql
-- (read its comment for the method). Orders are (cid, oid); ties in order time are broken by the
-- order number (any fixed order gives the same nearest-qualifying-order gaps).
-- Placeholder: {A_US} (adjacency window in microseconds).
CREATE OR REPLACE TEMP VIEW f_adj_orders AS
WITH o AS (
  SELECT cid, kid, oid, min(order_us) AS t,
         CASE WHEN min(sid) = max(sid) THEN min(sid) END AS only_sid
  FROM f_lines2 WHERE kid IS NOT NULL AND sid IS NOT NULL
  GROUP BY cid, kid, oid
), ranked AS (
  SELECT *,
    row_number() OVER w AS rn,
    lag(t) OVER w AS prev_t,
    lead(t) OVER w AS next_t
  FROM o WINDOW w AS (PARTITION BY cid, kid ORDER BY t, oid)
), islands AS (
  SELECT *, rn - row_number() OVER (PARTITION BY cid, kid, only_sid ORDER BY rn) AS island FROM ranked
), runs AS (
  -- For a run of consecutive orders holding only one SKU: the time of the order just before the
  -- run and just after it.
  SELECT *,
    first_value(prev_t) OVER (PARTITION BY cid, kid, only_sid, island ORDER BY rn
                              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS t_before_run,
    last_value(next_t) OVER (PARTITION BY cid, kid, only_sid, island ORDER BY rn
                             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS t_after_run
  FROM islands
)
SELECT cid, kid, oid, t, prev_t, next_t,
  lag(only_sid) OVER w AS prev_only_sid,
  lag(t_before_run) OVER w AS prev_t_before_run,
  lead(only_sid) OVER w AS next_only_sid,
  lead(t_after_run) OVER w AS next_t_after_run
FROM runs WINDOW w AS (PARTITION BY cid, kid ORDER BY rn);

-- Per line: the gap to the nearest qualifying order on each side.
CREATE OR REPLACE TEMP VIEW f_adj_lines AS
WITH g AS (
  SELECT l.cid, l.oid, l.returned, l.line_us, l.ret_us,
    CASE WHEN a.prev_only_sid = l.sid THEN a.t - a.prev_t_before_run ELSE a.t - a.prev_t END AS gap_before,
    CASE WHEN a.next_only_sid = l.sid THEN a.next_t_after_run - a.t ELSE a.next_t - a.t END AS gap_after
  FROM f_lines2 l JOIN f_adj_orders a ON a.cid = l.cid AND a.oid = l.oid AND a.kid = l.kid
  WHERE l.sid IS NOT NULL
)
SELECT *, CASE WHEN gap_before IS NULL THEN gap_after
               WHEN gap_after IS NULL THEN gap_before
               ELSE least(gap_before, gap_after) END AS gap_us
FROM g;

CREATE OR REPLACE TEMP VIEW f_adjacency AS
SELECT cid,
  count(DISTINCT oid) AS sku_adjacency_orders,
  count(*) FILTER (WHERE returned) AS sku_adjacency_returns,
  avg(gap_us / 86400e6) AS sku_adjacency_timing,
  avg((ret_us - line_us) / 86400e6) FILTER (WHERE returned AND ret_us IS NOT NULL) AS sku_adjacency_return_timing
FROM f_adj_lines
WHERE gap_us <= {A_US}
GROUP BY cid;
